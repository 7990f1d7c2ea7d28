"""A small OpenAI-compatible chat-completions client (standard library only), with streaming.

    from qa.answers.llm import LLM
    llm = LLM("http://127.0.0.1:8080/v1", model="qwen2.5-1.5b-instruct")
    for piece in llm.stream([{"role": "user", "content": "Hi"}]):
        print(piece, end="")

Settings: `--llm-url` / `--llm-model`, else the environment: QA_LLM_URL, QA_LLM_MODEL, and
QA_LLM_KEY (sent as "Authorization: Bearer ..."). The URL may be the server root
("http://host:port"), its "/v1", or the full ".../chat/completions" address.
Every failure (connection, timeout, HTTP status, malformed reply) raises `LLMError`.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Iterator, Sequence

from ..index.fusion import Passage

log = logging.getLogger(__name__)

TIMEOUT = 30.0
DEFAULT_MODEL = "default"


class LLMError(RuntimeError):
    """The LLM server could not be reached or gave an unusable reply."""


def endpoint(url: str) -> str:
    """The chat-completions address for a server root, a ".../v1" base or the full address."""
    u = url.rstrip("/")
    if u.endswith("/chat/completions"):
        return u
    if u.endswith("/v1"):
        return u + "/chat/completions"
    return u + "/v1/chat/completions"


@dataclass
class LLM:
    url: str
    model: str = DEFAULT_MODEL
    key: str | None = None
    timeout: float = TIMEOUT
    temperature: float = 0.1
    max_tokens: int = 400

    def _request(self, messages: Sequence[dict], stream: bool):
        body = json.dumps({"model": self.model, "messages": list(messages), "stream": stream,
                           "temperature": self.temperature, "max_tokens": self.max_tokens}).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream" if stream else "application/json"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        req = urllib.request.Request(endpoint(self.url), data=body, headers=headers, method="POST")
        try:
            return urllib.request.urlopen(req, timeout=self.timeout)  # noqa: S310 - user-configured URL
        except urllib.error.HTTPError as e:
            detail = e.read(300).decode("utf-8", "replace").strip()
            raise LLMError(f"HTTP {e.code}{': ' + detail if detail else ''}") from None
        except urllib.error.URLError as e:
            raise LLMError(f"cannot connect: {e.reason}") from None
        except (socket.timeout, TimeoutError):
            raise LLMError(f"no reply within {self.timeout:g} s") from None
        except (OSError, ValueError) as e:
            raise LLMError(str(e)) from None

    def stream(self, messages: Sequence[dict]) -> Iterator[str]:
        """The reply in pieces as the server sends them (server-sent events, "data: ..." lines)."""
        resp = self._request(messages, stream=True)
        try:
            with resp:
                if "text/event-stream" not in resp.headers.get("Content-Type", ""):
                    # A server that ignores "stream": the whole reply as one JSON object.
                    yield _content(_loads(resp.read()), "message")
                    return
                for raw in resp:
                    line = raw.decode("utf-8", "replace").strip()
                    if not line.startswith("data:"):
                        continue  # blank separators, ": keep-alive" comments, "event:" lines
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    piece = _content(_loads(data.encode("utf-8")), "delta")
                    if piece:
                        yield piece
        except (socket.timeout, TimeoutError):
            raise LLMError(f"reply stalled for {self.timeout:g} s") from None
        except OSError as e:
            raise LLMError(f"connection lost: {e}") from None

    def chat(self, messages: Sequence[dict]) -> str:
        """The whole reply at once."""
        return "".join(self.stream(messages))


def _loads(data: bytes):
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise LLMError(f"bad JSON from server: {e}") from None


def _content(obj, key: str) -> str:
    try:
        if "error" in obj and not obj.get("choices"):
            raise LLMError(f"server error: {obj['error']}")
        choices = obj["choices"]
        if not choices:
            return ""
        part = choices[0].get(key) or choices[0].get("message") or {}
        return part.get("content") or ""
    except (KeyError, TypeError, AttributeError, IndexError) as e:
        raise LLMError(f"unexpected reply from server ({e!r})") from None


def from_settings(url: str | None = None, model: str | None = None, key: str | None = None) -> LLM | None:
    """An LLM from explicit settings or QA_LLM_URL / QA_LLM_MODEL / QA_LLM_KEY; None when no URL is set."""
    url = url or os.environ.get("QA_LLM_URL")
    if not url:
        return None
    return LLM(url, model or os.environ.get("QA_LLM_MODEL") or DEFAULT_MODEL, key or os.environ.get("QA_LLM_KEY"))


NOT_COVERED = {"nl": "Dat staat niet in de artikelen.", "en": "The articles do not cover this."}

SYSTEM = ("You answer questions about news articles using ONLY the numbered passages given. "
          "Cite every claim with the passage number in square brackets, e.g. [1] or [2][3]. "
          "Do not use outside knowledge. If the passages do not contain the answer, reply exactly: {nc} "
          "Answer briefly, in the language of the question ({lang}).")


def build_messages(question: str, passages: Sequence[Passage], previous: Sequence[str] = (),
                   lang: str = "en") -> list[dict]:
    """The chat prompt: the passages numbered [1]..[n], earlier questions for context, the question."""
    blocks = []
    for i, p in enumerate(passages, 1):
        blocks.append(f"[{i}] {p.title} ({p.date or 'undated'})\n{' '.join(p.text.split())}")
    context = "\n\n".join(blocks)
    conv = ""
    if previous:
        conv = "Earlier questions in this conversation:\n" + "\n".join(f"- {q}" for q in previous[-3:]) + "\n\n"
    return [
        {"role": "system", "content": SYSTEM.format(nc=NOT_COVERED.get(lang, NOT_COVERED["en"]),
                                                    lang="Dutch" if lang == "nl" else "English")},
        {"role": "user", "content": f"Passages:\n\n{context}\n\n{conv}Question: {question}"},
    ]


def is_not_covered(text: str) -> bool:
    """Whether a generated reply says the passages do not answer the question."""
    t = " ".join(text.lower().split())
    return any(m.lower().rstrip(".") in t for m in NOT_COVERED.values()) or "do not cover" in t or \
        "niet in de artikelen" in t
