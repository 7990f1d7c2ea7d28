"""The OpenAI-compatible router: `/v1/models` and `/v1/chat/completions` (streamed by SSE with
`stream: true`), for OpenAI clients and Open WebUI. The one model is `qa`; the last user message is
the question and the earlier ones the conversation. Errors take OpenAI's shape (qa.web.state).
"""
from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any, AsyncIterator

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import iterate_in_threadpool

from .schemas import MODEL_ID, ChatRequest
from .state import ApiError, Shared, _dates, _history, _once, _question, _SlotStream, shared

log = logging.getLogger(__name__)

router = APIRouter()


def _text_of(content: Any) -> str:
    """An OpenAI message's text: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def format_reply(a: Any) -> str:
    """The chat reply: the answer, then a "Sources:" list (or the nearest passages when not found)."""
    lines = [a.text]
    if a.citations:
        lines += ["", "Sources:"]
        for c in a.citations:
            quote = " ".join(c.sentence.split())
            quote = quote if len(quote) <= 160 else quote[:159] + "…"
            lines.append(f"[{c.n}] {c.title} ({c.date or 'undated'}) — {c.article_id}: \"{quote}\"")
    elif a.passages:
        lines += ["", "Nearest passages:"]
        lines += [f"- {p.title} ({p.date or 'undated'}) — {p.article_id}" for p in a.passages[:3]]
    if getattr(a, "note", None):
        lines += ["", f"Note: {a.note}"]
    return "\n".join(lines)


@router.get("/v1/models", tags=["openai"], summary="The one model: qa")
def v1_models(request: Request, st: Shared = Depends(shared)) -> dict:
    st.authorize(request)
    return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "qa"}]}


@router.post("/v1/chat/completions", tags=["openai"], responses={400: {}, 401: {}, 404: {}, 413: {}},
             summary="Answer the last user message from the articles; earlier messages are the conversation")
async def v1_chat(body: ChatRequest, request: Request, st: Shared = Depends(shared)) -> Any:
    from ..answers.answer import answer_stream

    st.authorize(request)
    if body.model != MODEL_ID:
        raise ApiError(404, f"model {body.model!r} does not exist; use {MODEL_ID!r}")
    users = [_text_of(m.content) for m in body.messages if m.role == "user"]
    if not users:
        raise ApiError(400, "messages holds no user message to answer")
    q = _question(users[-1])
    history = _history([t.strip() for t in users[:-1] if t.strip()], strict=False)
    dfrom, dto = _dates(body.date_from, body.date_to)
    cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    base = {"id": cid, "created": created, "model": MODEL_ID}
    if not body.stream:
        a = await st.answer_now(q, history, body.k, dfrom, dto)
        return {**base, "object": "chat.completion",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": format_reply(a)},
                             "finish_reason": "stop"}],
                "found": a.found, "citations": [c.to_dict() for c in a.citations]}

    await st.slots.acquire()  # before the response starts, so "busy" is still a proper 503
    release = _once(st.slots.release)

    async def events() -> AsyncIterator[str]:
        def chunk(delta: dict, finish: str | None = None, **extra: Any) -> str:
            return "data: " + json.dumps({**base, "object": "chat.completion.chunk", **extra, "choices": [
                {"index": 0, "delta": delta, "finish_reason": finish}]}, ensure_ascii=False) + "\n\n"

        try:
            yield chunk({"role": "assistant", "content": ""})
            shown = ""
            final = None
            answers = answer_stream(q, history=history or None, k=body.k, index=st.idx(), date_from=dfrom,
                                    date_to=dto, llm=st.llm)
            async for a in iterate_in_threadpool(answers):  # each step in the thread pool
                final = a
                if a.text.startswith(shown):
                    piece = a.text[len(shown):]
                else:  # fell back to the extractive answer after part of a generated one
                    piece = "\n\n" + a.text
                shown = a.text
                if piece:
                    yield chunk({"content": piece})
            if final is not None:
                tail = format_reply(final)[len(final.text):]
                if tail:
                    yield chunk({"content": tail})
                yield chunk({}, "stop", found=final.found, citations=[c.to_dict() for c in final.citations])
        except ValueError as e:
            yield "data: " + json.dumps({"error": {"message": str(e), "type": "invalid_request_error"}}) + "\n\n"
        except Exception as e:  # the stream has started: report in-band, details to the log
            log.exception("streaming an answer failed")
            yield "data: " + json.dumps({"error": {"message": f"answering failed ({type(e).__name__})",
                                                   "type": "server_error"}}) + "\n\n"
        finally:
            release()
        yield "data: [DONE]\n\n"

    return _SlotStream(events(), release, media_type="text/event-stream",
                       headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
