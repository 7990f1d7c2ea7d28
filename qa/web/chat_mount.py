"""The chat on the app: its page files at `/qa-static/` and the Gradio Blocks (qa.web.chat) at `/`.

Mounted after the API routers, so `/api/...`, `/v1/...` and `/docs` are matched first and
everything else goes to Gradio. With a login set, Gradio asks for it; the API accepts Gradio's
login cookie too (`Shared.cookie_user` reads the mounted apps' tokens).
"""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from ..index.index import Index
from . import chat
from .state import Shared
from .uploads import MAX_UPLOAD_BYTES


def mount_chat(app: FastAPI, st: Shared, index: Index, *, demo: Any = None, server_name: str = "127.0.0.1",
               server_port: int = 7860) -> Any:
    """Serve the page's files and mount the chat (`demo`, else `qa.web.chat.build_app(index)`) at `/`;
    returns the Blocks."""
    import gradio as gr

    # chat.js, chat.css and the HTML shells: the page's loader fetches chat.js from here.
    app.mount(chat.STATIC_URL, StaticFiles(directory=chat.STATIC), name="qa-static")
    if demo is None:
        demo = chat.build_app(index, llm=st.llm, searcher=st.sharded)
    # The CSS goes to gradio, which scopes custom CSS to its app (the same rules loaded by a <link> would
    # lose to gradio's own); the file is the one served above.
    gr.mount_gradio_app(app, demo, path="/", server_name=server_name, server_port=server_port,
                        footer_links=["api"], auth=st.security.auth, max_file_size=MAX_UPLOAD_BYTES,
                        allowed_paths=[], show_error=False, ssr_mode=False, mcp_server=False, pwa=False,
                        theme=chat._theme(), css=chat.CSS)
    st.gradio_apps.extend(r.app for r in app.routes if isinstance(r, Mount) and r.path != chat.STATIC_URL)
    return demo
