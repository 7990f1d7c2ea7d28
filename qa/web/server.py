"""The HTTP server (`qa serve`): the chat, a JSON API and an OpenAI-compatible endpoint on one port.

    from qa.server import create_app, serve
    running = serve("index", port=0)            # in a background thread; running.url, running.close()

One FastAPI app, served by uvicorn on 127.0.0.1 unless told otherwise:
- `/api/ask`, `/api/search`, `/api/articles` (GET, POST upload, DELETE `/api/articles/{id}`): JSON;
  errors are `{"error": message}` with a 4xx status. OpenAPI docs at `/docs` (schema `/openapi.json`).
- `/v1/models`, `/v1/chat/completions` (streamed by SSE with `stream: true`): OpenAI's format.
- everything else: the Gradio chat from `qa.ui.build_app`, mounted at `/`.

Every route, Gradio's included, sits behind the same guards (pure ASGI middleware, qa/guards.py):
the Host header must name an allowed host (DNS rebinding), request bodies are capped, and
failed logins back off exponentially per client. With a login set (`--auth-file`, `QA_AUTH`,
`--auth`) the API requires it too (HTTP Basic or the chat's login cookie); a bearer token from
`QA_API_TOKEN` is accepted for the API. At most `ANSWER_CONCURRENCY` API answers are computed
at a time, `ANSWER_QUEUE` more wait, the rest get 503. See docs/api.md.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import json
import logging
import os
import secrets
import socket
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator

from fastapi import FastAPI, File, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import limits
from .api import DEFAULT_INDEX, get_index
from .articles import MAX_UPLOAD_BYTES, add_articles, read_upload, remove_articles
from .guards import LOCAL_HOSTS, MAX_BODY, MAX_UPLOAD_BODY, BodyLimit, HostCheck, LoginGuard, LoginThrottle, too_many
from .index import Index, IndexError_
from .ingest import IngestError, normalize_date
from .schemas import (MODEL_ID, AnswerOut, ArticlesOut, AskRequest, ChatRequest, ErrorOut, RemovedOut, SearchOut,
                      SearchRequest, UploadOut)

log = logging.getLogger(__name__)

#: Longest question, and longest earlier question in a history (characters): the library's cap.
MAX_QUESTION_CHARS = limits.MAX_QUESTION_CHARS
#: Earlier user turns kept from a history (only the last two steer the search anyway).
MAX_HISTORY_TURNS = 20
#: API answers computed at the same time; more wait, up to ANSWER_QUEUE, then 503.
ANSWER_CONCURRENCY = 4
ANSWER_QUEUE = 200
#: API uploads and removals: one at a time (embedding a large upload takes a while), WRITE_QUEUE waiting.
#: A waiting write holds a worker thread (anyio lends 40 to the API and Gradio together), so few may wait.
WRITE_QUEUE = 4


# ------------------------------------------------------------------ configuration
@dataclass(frozen=True)
class Security:
    """Who may use the server: login, API token, accepted Host names ('*': any), throttling."""

    auth: tuple[str, str] | None = None
    api_token: str | None = None
    allowed_hosts: tuple[str, ...] = LOCAL_HOSTS
    throttle_logins: bool = True


def parse_auth(value: str | None, what: str = "--auth") -> tuple[str, str] | None:
    """"USER:PASS" -> (user, password); empty -> None; anything else is a one-line ValueError."""
    if value is None or not value.strip():
        return None
    user, sep, password = value.strip().partition(":")
    if not sep or not user or not password:
        raise ValueError(f"{what} must be USER:PASS (a user name, a colon, a password)")
    return user, password


def resolve_auth(args: argparse.Namespace, environ: dict[str, str] | None = None) -> tuple[str, str] | None:
    """The login from `--auth` (warned: visible in `ps`), else `--auth-file`, else `QA_AUTH`."""
    env = os.environ if environ is None else environ
    if getattr(args, "auth", None):
        print("warning: --auth USER:PASS is visible to every user of this machine (ps, shell history); "
              "use --auth-file FILE or QA_AUTH instead", file=sys.stderr)
        return parse_auth(args.auth)
    path = getattr(args, "auth_file", None)
    if path is not None:
        try:
            first = Path(path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise ValueError(f"--auth-file {path}: cannot be read ({getattr(e, 'strerror', None) or e}); "
                             "expected a file holding USER:PASS") from None
        auth = parse_auth(first[0] if first else "", f"--auth-file {path}")
        if auth is None:
            raise ValueError(f"--auth-file {path} is empty; expected USER:PASS on its first line")
        return auth
    return parse_auth(env.get("QA_AUTH"), "QA_AUTH")


def parse_port(value: object) -> int:
    """A TCP port 0-65535 (0: any free port), or a one-line ValueError."""
    try:
        port = int(str(value).strip())
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise ValueError(f"--port must be a number from 0 to 65535 (0 picks a free port), got {value!r}")
    return port


class ApiError(Exception):
    """An error answered as JSON with a 4xx/5xx status."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


# ------------------------------------------------------------------ the app
class _Slots:
    """At most `size` answers at a time, `queue` more waiting; beyond that, 503. Waiting costs a
    coroutine, not a worker thread (the answering itself runs in the thread pool)."""

    def __init__(self, size: int = ANSWER_CONCURRENCY, queue: int = ANSWER_QUEUE) -> None:
        self.size, self.queue = size, queue
        self._sem: asyncio.Semaphore | None = None  # made on first use, inside the server's event loop
        self._waiting = 0

    async def acquire(self) -> None:
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.size)
        if not self._sem.locked():
            await self._sem.acquire()
            return
        if self._waiting >= self.queue:
            raise ApiError(503, "the server is busy answering other questions; try again shortly",
                           {"Retry-After": "2"})
        self._waiting += 1
        try:
            await asyncio.wait_for(self._sem.acquire(), timeout=300)
        except asyncio.TimeoutError:
            raise ApiError(503, "the server is busy answering other questions; try again shortly",
                           {"Retry-After": "5"}) from None
        finally:
            self._waiting -= 1

    def release(self) -> None:
        assert self._sem is not None
        self._sem.release()


class _SlotStream(StreamingResponse):
    """A streamed answer that holds an answer slot: the slot is given back when the stream ends, however
    it ends. The body generator's own `finally` does not run when the client leaves before the first
    chunk (a never-started async generator is closed without running its body), so the response does
    it too, once."""

    def __init__(self, content, release, **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._release = release

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


def _once(fn):
    """`fn`, callable many times, run once."""
    done = threading.Lock()

    def run() -> None:
        if done.acquire(blocking=False):
            fn()
    return run


class _WriteSlots:
    """Uploads and removals: one at a time, `queue` more waiting (each holds a worker thread), then 503."""

    def __init__(self, queue: int = WRITE_QUEUE) -> None:
        self.queue = queue
        self._lock = threading.Lock()
        self._count = threading.Lock()
        self._waiting = 0

    def acquire(self) -> None:
        if self._lock.acquire(blocking=False):
            return
        with self._count:
            if self._waiting >= self.queue:
                raise ApiError(503, "another upload or removal is in progress; try again shortly",
                               {"Retry-After": "5"})
            self._waiting += 1
        try:
            self._lock.acquire()
        finally:
            with self._count:
                self._waiting -= 1

    def release(self) -> None:
        self._lock.release()


def _dates(date_from: str | None, date_to: str | None) -> tuple[str | None, str | None]:
    try:
        return normalize_date((date_from or "").strip() or None), normalize_date((date_to or "").strip() or None)
    except IngestError as e:
        raise ApiError(400, f"bad date: {e}") from None


def _question(q: str) -> str:
    q = (q or "").strip()
    if not q:
        raise ApiError(400, "the question is empty; ask something, e.g. 'Which countries were involved?'")
    if len(q) > MAX_QUESTION_CHARS:
        raise ApiError(413, f"the question is too long ({len(q)} characters; at most {MAX_QUESTION_CHARS})")
    return q


def _history(turns: list[str], strict: bool = True) -> list[str]:
    """The last MAX_HISTORY_TURNS earlier questions. An overlong one is a 413 (`strict`), or is cut to
    MAX_QUESTION_CHARS: chat clients resend the whole conversation, so refusing would end it for good."""
    turns = turns[-MAX_HISTORY_TURNS:]
    for t in turns:
        if strict and len(t) > MAX_QUESTION_CHARS:
            raise ApiError(413, f"a question in the history is too long ({len(t)} characters; "
                                f"at most {MAX_QUESTION_CHARS})")
    return [t[:MAX_QUESTION_CHARS] for t in turns]


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


def create_app(index: str | Path | Index = DEFAULT_INDEX, *, security: Security = Security(), llm: Any = None,
               demo: Any = None, server_name: str = "127.0.0.1", server_port: int = 7860,
               max_body: int = MAX_BODY, max_upload: int = MAX_UPLOAD_BODY,
               answer_concurrency: int = ANSWER_CONCURRENCY, answer_queue: int = ANSWER_QUEUE) -> FastAPI:
    """The whole server as one ASGI app: API routes, OpenAI routes, the chat at `/`, and the guards.

    `index`: a folder or an Index; every request gets it through `qa.api.get_index`, so a newer
    version written by another process is picked up. `demo`: a ready Blocks (else `qa.ui.build_app`).
    """
    import gradio as gr

    from . import __version__
    from . import ui as ui_module

    index_path = index.path if isinstance(index, Index) else Path(index)
    first = index if isinstance(index, Index) else get_index(index_path)

    def idx() -> Index:
        return get_index(index_path)

    slots = _Slots(answer_concurrency, answer_queue)
    writes = _WriteSlots(WRITE_QUEUE)
    throttle = LoginThrottle()
    app = FastAPI(title="qa", version=__version__,
                  description="Ask questions of your news articles: answers with citations. "
                              "Errors are JSON {\"error\": message}. See docs/api.md.")
    app.state.throttle = throttle
    app.state.security = security
    app.state.index_path = index_path

    # ---- errors as JSON
    def _error_body(request: Request, status: int, message: str) -> dict:
        if request.url.path.startswith("/v1/"):  # OpenAI's error shape, which its clients read
            return {"error": {"message": message, "type": "invalid_request_error" if status < 500 else "server_error",
                              "code": status}}
        return {"error": message}

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(_error_body(request, exc.status, exc.message), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return JSONResponse(_error_body(request, 400, "the request body is not valid JSON"), status_code=400)
        if any(tuple(e.get("loc", ())) == ("body",) and e.get("type") in ("model_attributes_type", "dict_type")
               for e in errors):
            return JSONResponse(_error_body(request, 400, "the request body must be a JSON object (send it with "
                                                          "Content-Type: application/json)"), status_code=400)
        parts = []
        for e in errors[:5]:
            loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
            parts.append(f"{loc or 'body'}: {e.get('msg', 'invalid')}")
        return JSONResponse(_error_body(request, 422, "invalid request: " + "; ".join(parts)), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(_error_body(request, exc.status_code, str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    # ---- credentials for the API
    gradio_apps: list[Any] = []

    def _cookie_user(request: Request) -> str | None:
        for g in gradio_apps:
            cid = getattr(g, "cookie_id", None)
            tokens = getattr(g, "tokens", {})
            for name in (f"access-token-{cid}", f"access-token-unsecure-{cid}"):
                tok = request.cookies.get(name)
                if tok and tokens.get(tok):
                    return tokens[tok]
        return None

    def authorize(request: Request) -> None:
        if not security.auth and not security.api_token:
            return
        client = request.client.host if request.client else "unknown"
        wait = throttle.retry_after(client) if security.throttle_logins else 0.0
        if wait > 0:
            body, headers = too_many(wait)
            raise ApiError(429, body["error"], {k.decode(): v.decode() for k, v in headers})
        header = request.headers.get("authorization", "")
        scheme, _, cred = header.partition(" ")
        cred = cred.strip()
        ok = False
        if scheme.lower() == "bearer" and cred:
            ok = bool(security.api_token) and secrets.compare_digest(cred.encode(), security.api_token.encode())
        elif scheme.lower() == "basic" and cred and security.auth:
            try:
                user, _, pw = base64.b64decode(cred, validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, pw = "", ""
            ok = secrets.compare_digest(user.encode(), security.auth[0].encode()) & \
                secrets.compare_digest(pw.encode(), security.auth[1].encode())
        elif not header and security.auth and _cookie_user(request):
            return
        if ok:
            throttle.succeeded(client)
            return
        if header and security.throttle_logins:
            throttle.failed(client)
        ways = []
        if security.api_token:
            ways.append("Authorization: Bearer $QA_API_TOKEN")
        if security.auth:
            ways.append("HTTP Basic auth with the server's login")
        raise ApiError(401, f"{'wrong credentials' if header else 'authentication required'}: send "
                            f"{' or '.join(ways)}", {"WWW-Authenticate": 'Basic realm="qa"'})

    # ---- JSON API
    err = {400: {"model": ErrorOut}, 401: {"model": ErrorOut}, 413: {"model": ErrorOut}, 422: {"model": ErrorOut},
           429: {"model": ErrorOut}, 503: {"model": ErrorOut}}

    @app.post("/api/ask", response_model=AnswerOut, response_model_exclude_unset=True, responses=err, tags=["api"],
              summary="Answer a question from the articles, with citations (the `qa ask --json` object)")
    async def api_ask(body: AskRequest, request: Request) -> dict:
        from .answer import user_turns

        authorize(request)
        q = _question(body.question)
        history = _history(user_turns([h if isinstance(h, str) else h.model_dump() for h in body.history or []]))
        dfrom, dto = _dates(body.date_from, body.date_to)
        return (await answer_now(q, history, body.k, dfrom, dto)).to_dict()

    async def answer_now(q: str, history: list[str], k: int, dfrom: str | None, dto: str | None) -> Any:
        """`answer(...)` in the thread pool, inside an answer slot; a ValueError is a 400."""
        from .answer import answer

        await slots.acquire()
        try:
            return await run_in_threadpool(lambda: answer(q, history=history or None, k=k, index=idx(),
                                                          date_from=dfrom, date_to=dto, llm=llm))
        except ValueError as e:
            raise ApiError(400, str(e)) from None
        finally:
            slots.release()

    @app.post("/api/search", response_model=SearchOut, responses=err, tags=["api"],
              summary="The passages that best match a question (the `qa search --json` object)")
    async def api_search(body: SearchRequest, request: Request) -> dict:
        authorize(request)
        q = _question(body.question)
        dfrom, dto = _dates(body.date_from, body.date_to)
        await slots.acquire()
        try:
            passages = await run_in_threadpool(lambda: idx().search(q, k=body.k, date_from=dfrom, date_to=dto))
        except ValueError as e:
            raise ApiError(400, str(e)) from None
        finally:
            slots.release()
        return {"question": q, "passages": [p.to_dict() for p in passages]}

    @app.get("/api/articles", response_model=ArticlesOut, responses=err, tags=["api"],
             summary="The indexed articles, newest first")
    def api_articles(request: Request) -> dict:
        authorize(request)
        i = idx()
        rows = i.articles()
        return {"articles": [{"id": r.id, "title": r.title, "date": r.date, "chunks": r.chunks,
                              "url": getattr(r, "url", None)} for r in rows],
                "count": len(rows), "chunks": len(i)}

    @app.post("/api/articles", response_model=UploadOut, responses=err, tags=["api"],
              summary="Upload article files (.txt .md .html .json .jsonl; multipart field `files`)")
    def api_upload(request: Request, files: list[UploadFile] = File(..., description="one or more files")) -> Any:
        authorize(request)
        articles, problems = [], []
        with tempfile.TemporaryDirectory(prefix="qa-upload-") as tmp:
            for n, f in enumerate(files):
                name = Path(f.filename or "upload").name or "upload"
                dest = Path(tmp) / f"{n}{Path(name).suffix.lower()[:16]}"
                size = 0
                with open(dest, "wb") as out:
                    while chunk := f.file.read(1 << 16):
                        size += len(chunk)
                        if size > MAX_UPLOAD_BYTES:
                            break
                        out.write(chunk)
                if size > MAX_UPLOAD_BYTES:
                    problems.append(f"{name}: file is over the {MAX_UPLOAD_BYTES // (1024 * 1024)} MB limit")
                    continue
                arts, probs = read_upload(dest, name)
                articles += arts
                problems += probs
        if not articles:
            return JSONResponse({"error": "nothing was indexed: " + ("; ".join(problems) or "no articles in the files"),
                                 "problems": problems}, status_code=400)
        writes.acquire()
        try:
            u = add_articles(idx(), articles).update
        except IndexError_ as e:  # e.g. the index on disk is damaged or refused
            raise ApiError(409, str(e)) from None
        except ValueError as e:
            raise ApiError(400, str(e)) from None
        finally:
            writes.release()
        return {"added": list(u.added), "updated": list(u.updated), "unchanged": list(u.unchanged),
                "problems": problems, "articles": len(idx().articles())}

    @app.delete("/api/articles/{article_id:path}", response_model=RemovedOut, responses={**err, 404: {"model": ErrorOut}},
                tags=["api"], summary="Remove one article by id")
    def api_remove(article_id: str, request: Request) -> dict:
        authorize(request)
        writes.acquire()
        try:
            removed = remove_articles(idx(), [article_id])
        except IndexError_ as e:
            raise ApiError(409, str(e)) from None
        finally:
            writes.release()
        if not removed:
            raise ApiError(404, f"no article with id {article_id!r} in the index (see GET /api/articles)")
        return {"removed": article_id, "articles": len(idx().articles())}

    # ---- OpenAI-compatible
    @app.get("/v1/models", tags=["openai"], summary="The one model: qa")
    def v1_models(request: Request) -> dict:
        authorize(request)
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "qa"}]}

    @app.post("/v1/chat/completions", tags=["openai"], responses={400: {}, 401: {}, 404: {}, 413: {}},
              summary="Answer the last user message from the articles; earlier messages are the conversation")
    async def v1_chat(body: ChatRequest, request: Request) -> Any:
        from .answer import answer_stream

        authorize(request)
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
            a = await answer_now(q, history, body.k, dfrom, dto)
            return {**base, "object": "chat.completion",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": format_reply(a)},
                                 "finish_reason": "stop"}],
                    "found": a.found, "citations": [c.to_dict() for c in a.citations]}

        await slots.acquire()  # before the response starts, so "busy" is still a proper 503
        release = _once(slots.release)

        async def events() -> AsyncIterator[str]:
            def chunk(delta: dict, finish: str | None = None, **extra: Any) -> str:
                return "data: " + json.dumps({**base, "object": "chat.completion.chunk", **extra, "choices": [
                    {"index": 0, "delta": delta, "finish_reason": finish}]}, ensure_ascii=False) + "\n\n"

            try:
                yield chunk({"role": "assistant", "content": ""})
                shown = ""
                final = None
                answers = answer_stream(q, history=history or None, k=body.k, index=idx(), date_from=dfrom,
                                        date_to=dto, llm=llm)
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

    # ---- the chat, at /
    if demo is None:
        demo = ui_module.build_app(first, llm=llm)
    theme = ui_module._theme() if hasattr(ui_module, "_theme") else None
    gr.mount_gradio_app(app, demo, path="/", server_name=server_name, server_port=server_port,
                        footer_links=["api"], auth=security.auth, max_file_size=MAX_UPLOAD_BYTES,
                        allowed_paths=[], show_error=False, ssr_mode=False, mcp_server=False, pwa=False,
                        theme=theme, css=getattr(ui_module, "CSS", None))
    from starlette.routing import Mount

    gradio_apps.extend(r.app for r in app.routes if isinstance(r, Mount))
    app.state.demo = demo

    # ---- guards around everything (the last added runs first)
    if security.throttle_logins:
        app.add_middleware(LoginGuard, throttle=throttle)
    app.add_middleware(BodyLimit, max_body=max_body, max_upload=max_upload)
    app.add_middleware(HostCheck, allowed=tuple(security.allowed_hosts))
    return app


# ------------------------------------------------------------------ running it
@dataclass
class Running:
    """A server started by `serve`: its `url`, the `app`, and `close()`."""

    url: str
    app: FastAPI
    server: Any
    thread: threading.Thread | None

    def close(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=15)
        demo = getattr(self.app.state, "demo", None)
        if demo is not None:
            try:
                demo.close()
            except Exception:  # it was never launched on its own; closing its queue is best effort
                log.debug("closing the Blocks failed", exc_info=True)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or a one-line OSError message as ValueError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise ValueError(f"cannot listen on {host}:{port}: {e.strerror or e}"
                         f"{'; pick another --port' if e.errno in (98, 48, 10048) else ''}") from None
    # Accepted connections inherit this; without it (asyncio sets it only on sockets it made itself)
    # Nagle's algorithm and delayed ACKs add ~40 ms to every response sent in two writes.
    if family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else ("[::1]" if host == "::" else host)
    return f"http://[{shown}]:{port}/" if ":" in shown and not shown.startswith("[") else f"http://{shown}:{port}/"


def serve(index: str | Path | Index = DEFAULT_INDEX, *, host: str = "127.0.0.1", port: int = 7860,
          security: Security | None = None, llm: Any = None, demo: Any = None, block: bool = False,
          **app_options: Any) -> Running:
    """Start the server; with `block=False` in a background thread (returns once it accepts requests)."""
    import uvicorn

    sock = bind(host, port)
    port = sock.getsockname()[1]
    if security is None:
        security = Security(allowed_hosts=allowed_hosts_for(host, ()))
    app = create_app(index, security=security, llm=llm, demo=demo, server_name=host, server_port=port,
                     **app_options)
    # limit_concurrency bounds open connections; h11's default caps header size at 16 KB.
    config = uvicorn.Config(app, log_level="warning", lifespan="on", limit_concurrency=1000,
                            timeout_keep_alive=5, timeout_graceful_shutdown=3)
    server = uvicorn.Server(config)
    url = _url(host, port)
    if block:
        server.run(sockets=[sock])
        return Running(url, app, server, None)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="qa-server")
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the server on {url} did not start")
        time.sleep(0.02)
    return Running(url, app, server, thread)


def allowed_hosts_for(host: str, extra: Any) -> tuple[str, ...]:
    """Local names, the bound address unless it is a wildcard, and the `--allowed-host` names."""
    names = list(LOCAL_HOSTS)
    if host not in ("0.0.0.0", "::", ""):
        names.append(host)
    names += [h for h in extra or () if h]
    return tuple(dict.fromkeys(names))


def _make_llm(url: str | None, model: str | None) -> Any:
    """The LLM client for generated answers (`--llm-url`/`--llm-model` or QA_LLM_*), or None."""
    from .llm import from_settings

    return from_settings(url, model)


def main_serve(args: argparse.Namespace) -> int:
    """`qa serve`: the chat, the JSON API and the OpenAI-compatible endpoint, until Ctrl-C."""
    t0 = time.perf_counter()
    port = parse_port(getattr(args, "port", 7860))
    auth = resolve_auth(args)
    token = os.environ.get("QA_API_TOKEN", "").strip() or None
    host = getattr(args, "host", "127.0.0.1") or "127.0.0.1"
    path = Path(getattr(args, "index", DEFAULT_INDEX))
    if not (path / "manifest.json").exists() and path != DEFAULT_INDEX:
        raise IndexError_(f"no index at {path}; build one with: qa index ARTICLES --index {path}")
    extra = list(getattr(args, "allowed_host", None) or [])
    if host not in ("127.0.0.1", "localhost", "::1") and not auth:
        print(f"warning: serving on {host} without a login (--auth-file or QA_AUTH): anyone who can reach it can "
              "read and change the index", file=sys.stderr)
    if host in ("0.0.0.0", "::") and not extra:
        print("warning: only requests addressed to localhost are accepted; add --allowed-host NAME for each "
              "name or address others use to reach this machine", file=sys.stderr)
    security = Security(auth=auth, api_token=token, allowed_hosts=allowed_hosts_for(host, extra))
    idx = get_index(path)
    llm = _make_llm(getattr(args, "llm_url", None), getattr(args, "llm_model", None))
    sock = bind(host, port)
    port = sock.getsockname()[1]
    import uvicorn

    app = create_app(path, security=security, llm=llm, server_name=host, server_port=port)
    config = uvicorn.Config(app, log_level="warning", lifespan="on", limit_concurrency=1000,
                            timeout_keep_alive=5, timeout_graceful_shutdown=3)
    url = _url(host, port)
    login = "; login required" if auth else ""
    n = len(idx.articles())
    print(f"qa: chat on {n} article{'' if n == 1 else 's'} ({len(idx)} chunks, {path}) at {url} , API at {url}api/ , "
          f"OpenAI-compatible at {url}v1 , docs at {url}docs (started in {time.perf_counter() - t0:.1f} s{login}); "
          "Ctrl-C to stop", file=sys.stderr, flush=True)
    uvicorn.Server(config).run(sockets=[sock])
    return 0
