"""Open WebUI's background tasks, recognised and answered without searching the articles.

After each turn Open WebUI (on by default) asks the chat's model for a title, tags and follow-up
questions, and, where enabled, search queries and autocompletion. Each is one user message in its
own template: a `### Task:` header, instructions ending in the JSON object to return, and the
conversation inside `<chat_history>...</chat_history>` as `USER: ...` / `ASSISTANT: ...` lines.
With qa's answers in the history these run past the 2,000-character question cap, and a short one
would be "answered" from the articles. qa answers them as Open WebUI expects instead: a title made
from the user's first question, no tags, no follow-ups, no queries, no completion.

    task = recognise(text)        # None for an ordinary question
    task.reply                    # '{"title": "Which countries were involved"}'
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

#: The header every Open WebUI task template starts with.
TASK_HEADER = "### Task:"
_HISTORY = re.compile(r"<chat_history>\s*(.*?)\s*(?:</chat_history>|$)", re.S)
_USER_LINE = re.compile(r"^USER:\s?(.*?)(?=^(?:USER|ASSISTANT|SYSTEM):|\Z)", re.S | re.M)
#: The JSON key each task's template asks for, in the order they are tried ("text" last: the other
#: templates may mention text too).
_KEYS = ("title", "tags", "follow_ups", "queries", "prompt", "text")
#: Longest title made from a question (characters), and words kept.
TITLE_CHARS = 60
TITLE_WORDS = 8


@dataclass(frozen=True)
class Task:
    """A recognised background task: its `kind` (the JSON key asked for) and qa's `reply` (JSON text)."""

    kind: str
    reply: str


def _asked_key(text: str) -> str | None:
    """The JSON key the template's output section asks for, e.g. `{ "title": ... }` -> "title"."""
    out = text.rsplit("<chat_history>", 1)[0]
    for key in _KEYS:
        if re.search(r'\{\s*"' + key + r'"\s*:', out):
            return key
    return None


def first_question(text: str) -> str:
    """The first `USER:` message of the task's chat history (empty when there is none)."""
    m = _HISTORY.search(text)
    history = m.group(1) if m else ""
    u = _USER_LINE.search(history)
    return " ".join(u.group(1).split()) if u else ""


def title_of(question: str) -> str:
    """A short title from a question: its first words, without the question mark."""
    words = question.strip().rstrip("?!.。؟ ").split()
    title = " ".join(words[:TITLE_WORDS])
    if len(title) > TITLE_CHARS:
        title = title[:TITLE_CHARS].rsplit(" ", 1)[0]
    if len(words) > TITLE_WORDS or len(title) < len(" ".join(words)):
        title += "…"
    return title or "Question about the articles"


def recognise(text: str) -> Task | None:
    """The Open WebUI background task in a user message, or None for anything else."""
    if not text.lstrip().startswith(TASK_HEADER) or "<chat_history>" not in text:
        return None
    kind = _asked_key(text)
    if kind == "title":
        value: object = title_of(first_question(text))
    elif kind in ("tags", "follow_ups", "queries"):
        value = []
    elif kind in ("prompt", "text"):
        value = ""
    else:  # a task qa does not know: an empty object is valid JSON that Open WebUI ignores
        return Task("unknown", "{}")
    return Task(kind, json.dumps({kind: value}, ensure_ascii=False))
