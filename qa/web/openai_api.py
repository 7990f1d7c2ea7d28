"""The OpenAI-compatible router: `/v1/models`, `/v1/models/{id}` and `/v1/chat/completions` (streamed
by SSE with `stream: true`), for OpenAI clients (the SDK, LangChain, `llm`) and Open WebUI.

The one model is `qa`; the last user message is the question and the earlier ones the conversation.
Every reply carries `usage` (counted with the index's embedding tokenizer) and its citations as
standard `url_citation` annotations (the article's URL, else qa's page `/article/{id}#s{start}`);
the older top-level `citations` stay. Open WebUI's background tasks (title, tags, follow-ups) are
answered by qa.web.openai_tasks. What qa cannot do (`n` > 1, JSON output, tools) is an OpenAI-shaped
400 naming the `param`; `max_tokens` cuts the reply (`finish_reason: "length"`). Every error under
/v1 takes OpenAI's shape (qa.web.errors).
"""
from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any, AsyncIterator, Callable

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from ..index.embed import count_tokens
from .openai_tasks import recognise
from .pages import SourceUrls, base_url
from .schemas import MODEL_ID, ChatCompletionOut, ChatRequest, ModelOut, ModelsOut, OpenAIErrorOut
from .state import ApiError, Shared, _dates, _history, _once, _question, _SlotStream, shared

log = logging.getLogger(__name__)

router = APIRouter()
#: The error responses the OpenAPI document lists for the /v1 routes: all in OpenAI's shape.
ERRORS: dict[int | str, dict[str, Any]] = {s: {"model": OpenAIErrorOut} for s in (400, 401, 404, 413, 422, 429, 503)}
MODEL = {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "qa"}
Counter = Callable[[str], int]


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


def annotations(content: str, citations: Any, urls: SourceUrls) -> list[dict]:
    """One `url_citation` per citation whose marker `[n]` is in `content` (its first occurrence)."""
    out = []
    for c in citations:
        m = re.search(rf"\[{c.n}\]", content)
        if m:
            out.append({"type": "url_citation", "url_citation": {
                "url": urls(c.article_id, c.start), "title": c.title, "start_index": m.start(),
                "end_index": m.end()}})
    return out


def citation_dicts(citations: Any, urls: SourceUrls) -> list[dict]:
    """The top-level `citations` (kept for older clients), each with its `url`."""
    return [{**c.to_dict(), "url": urls(c.article_id, c.start)} for c in citations]


def cut_to_tokens(text: str, limit: int | None, count: Counter) -> str:
    """The longest prefix of `text`, ending at a word, of at most `limit` tokens (all of it if it fits)."""
    if limit is None or count(text) <= limit:
        return text
    ends = [m.end() for m in re.finditer(r"\S+", text)]
    lo, hi = 0, len(ends)  # the first `lo` words fit; more than `hi` do not
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count(text[:ends[mid - 1]]) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return text[:ends[lo - 1]] if lo else ""


def usage(prompt: int, completion: int) -> dict:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def check_params(body: ChatRequest) -> None:
    """Refuse, with a 400 naming the parameter, what qa cannot do (a client would fail later otherwise)."""
    if body.n not in (None, 1):
        raise ApiError(400, f"n must be 1 (qa gives one answer per question), got {body.n}", param="n",
                       code="unsupported_value")
    for name in ("tools", "functions"):
        if getattr(body, name):
            raise ApiError(400, f"{name} are not supported: qa answers from its articles and calls no tools; "
                                f"send the request without {name}", param=name, code="unsupported_parameter")
    choice = body.tool_choice
    if choice is not None and choice not in ("none", "auto"):
        raise ApiError(400, f"tool_choice {json.dumps(choice)} is not supported: qa calls no tools; leave it out",
                       param="tool_choice", code="unsupported_parameter")


def check_format(body: ChatRequest) -> None:
    fmt = body.response_format
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if fmt is not None and kind != "text":
        raise ApiError(400, f"response_format {kind or json.dumps(fmt)!r} is not supported: qa replies in text "
                            "(an answer with its sources); leave response_format out or use {\"type\": \"text\"}",
                       param="response_format", code="unsupported_value")


@router.get("/v1/models", tags=["openai"], summary="The one model: qa", response_model=ModelsOut, responses=ERRORS)
def v1_models(request: Request, st: Shared = Depends(shared)) -> dict:
    st.authorize(request)
    return {"object": "list", "data": [MODEL]}


@router.get("/v1/models/{model_id:path}", tags=["openai"], summary="One model (only qa exists)",
            response_model=ModelOut, responses=ERRORS)
def v1_model(model_id: str, request: Request, st: Shared = Depends(shared)) -> dict:
    st.authorize(request)
    if model_id != MODEL_ID:
        raise ApiError(404, f"the model {model_id!r} does not exist; the one model is {MODEL_ID!r}", param="model",
                       code="model_not_found")
    return MODEL


STREAM_DOC = {"description": "The completion; with `stream: true` server-sent `chat.completion.chunk` events "
                             "ending in `data: [DONE]`",
              "content": {"text/event-stream": {"schema": {"type": "string"}}}}


@router.post("/v1/chat/completions", tags=["openai"], response_model=ChatCompletionOut,
             responses={**ERRORS, 200: STREAM_DOC},
             summary="Answer the last user message from the articles; earlier messages are the conversation")
async def v1_chat(body: ChatRequest, request: Request, st: Shared = Depends(shared)) -> Any:
    from ..answers.answer import answer_stream

    st.authorize(request)
    if body.model != MODEL_ID:
        raise ApiError(404, f"the model {body.model!r} does not exist; use {MODEL_ID!r}", param="model",
                       code="model_not_found")
    check_params(body)
    texts = [_text_of(m.content) for m in body.messages]
    users = [_text_of(m.content) for m in body.messages if m.role == "user"]
    if not users:
        raise ApiError(400, "messages holds no user message to answer", param="messages")
    idx = st.searcher()
    count: Counter = lambda text: count_tokens(idx.embedder, text)  # noqa: E731
    limit = body.max_completion_tokens or body.max_tokens
    include_usage = bool((body.stream_options or {}).get("include_usage"))
    base = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "created": int(time.time()), "model": MODEL_ID}
    prompt_tokens = await run_in_threadpool(lambda: sum(count(t) for t in texts))

    task = recognise(users[-1])  # before the question cap: these prompts run long
    if task is not None:
        log.info("answered Open WebUI's %s task", task.kind)
        return _whole(base, body.stream, include_usage, task.reply, "stop", [], usage(prompt_tokens, count(task.reply)))
    check_format(body)
    try:
        q = _question(users[-1])
    except ApiError as e:
        raise ApiError(e.status, e.message, e.headers, param="messages") from None
    history = _history([t.strip() for t in users[:-1] if t.strip()], strict=False)
    dfrom, dto = _dates(body.date_from, body.date_to)
    urls = SourceUrls(idx, base_url(request))
    if not body.stream:
        a = await st.answer_now(q, history, body.k, dfrom, dto)
        full = format_reply(a)
        content = await run_in_threadpool(cut_to_tokens, full, limit, count)
        reply = _whole(base, False, False, content, "length" if content != full else "stop",
                       annotations(content, a.citations, urls), usage(prompt_tokens, count(content)))
        return {**reply, "found": a.found, "citations": citation_dicts(a.citations, urls)}

    await st.slots.acquire()  # before the response starts, so "busy" is still a proper 503
    release = _once(st.slots.release)

    def chunk(delta: dict, finish: str | None = None, **extra: Any) -> str:
        return "data: " + json.dumps({**base, "object": "chat.completion.chunk", **extra, "choices": [
            {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}, ensure_ascii=False) + "\n\n"

    async def events() -> AsyncIterator[str]:
        sent = ""  # the content streamed so far: the annotations index into it
        try:
            yield chunk({"role": "assistant", "content": ""})
            shown = ""
            final = None
            finish = "stop"
            answers = answer_stream(q, history=history or None, k=body.k, index=idx, date_from=dfrom,
                                    date_to=dto, llm=st.llm)
            async for a in iterate_in_threadpool(answers):  # each step in the thread pool
                final = a
                if a.text.startswith(shown):
                    piece = a.text[len(shown):]
                else:  # fell back to the extractive answer after part of a generated one
                    piece = "\n\n" + a.text
                shown = a.text
                kept = cut_to_tokens(sent + piece, limit, count)[len(sent):] if limit else piece
                if kept:
                    sent += kept
                    yield chunk({"content": kept})
                if kept != piece:
                    finish = "length"
                    break
            if final is not None:
                if finish == "stop":
                    tail = format_reply(final)[len(final.text):]
                    kept = cut_to_tokens(sent + tail, limit, count)[len(sent):] if limit else tail
                    if kept:
                        sent += kept
                        yield chunk({"content": kept})
                    finish = "stop" if kept == tail else "length"
                notes = annotations(sent, final.citations, urls)
                yield chunk({"annotations": notes} if notes else {}, finish, found=final.found,
                            citations=citation_dicts(final.citations, urls))
            if include_usage:
                yield _usage_chunk(base, usage(prompt_tokens, count(sent)))
        except ValueError as e:
            yield "data: " + json.dumps({"error": {"message": str(e), "type": "invalid_request_error",
                                                   "param": None, "code": "invalid_request"}}) + "\n\n"
        except Exception as e:  # the stream has started: report in-band, details to the log
            log.exception("streaming an answer failed")
            yield "data: " + json.dumps({"error": {"message": f"answering failed ({type(e).__name__})",
                                                   "type": "server_error", "param": None,
                                                   "code": "server_error"}}) + "\n\n"
        finally:
            release()
        yield "data: [DONE]\n\n"

    return _SlotStream(events(), release, media_type="text/event-stream",
                       headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _usage_chunk(base: dict, used: dict) -> str:
    """The last event with `stream_options.include_usage`: no choices, the usage of the whole reply."""
    return "data: " + json.dumps({**base, "object": "chat.completion.chunk", "choices": [], "usage": used}) + "\n\n"


def _whole(base: dict, stream: bool, include_usage: bool, content: str, finish: str, notes: list[dict],
           used: dict) -> Any:
    """A reply known in full: a `chat.completion`, or the same as a short event stream."""
    if not stream:
        return {**base, "object": "chat.completion", "choices": [{
            "index": 0, "message": {"role": "assistant", "content": content, "refusal": None, "annotations": notes},
            "finish_reason": finish, "logprobs": None}], "usage": used}
    from fastapi.responses import StreamingResponse

    def events() -> Any:
        for delta, end in (({"role": "assistant", "content": ""}, None), ({"content": content}, None), ({}, finish)):
            yield "data: " + json.dumps({**base, "object": "chat.completion.chunk", "choices": [
                {"index": 0, "delta": delta, "finish_reason": end, "logprobs": None}]}, ensure_ascii=False) + "\n\n"
        if include_usage:
            yield _usage_chunk(base, used)
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


@router.api_route("/v1", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
@router.api_route("/v1/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
def v1_unknown(request: Request, rest: str = "") -> None:
    """Any other path or method under /v1: OpenAI's 404, not the chat's."""
    raise ApiError(404, f"{request.method} {request.url.path} is not a route of qa's OpenAI-compatible endpoint; it has "
                        "GET /v1/models, GET /v1/models/qa and POST /v1/chat/completions", code="unknown_url")
