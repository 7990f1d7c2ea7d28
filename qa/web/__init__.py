"""Web: `qa serve`, the chat (chat, render, static/), the JSON API and the OpenAI-compatible endpoint as
routers (json_api, openai_api) over shared state (state), the guards and the upload helpers.
The top of the import order: nothing below imports it.
"""
