"""What the server's routers share: the security settings, the index holder, the answer and write
slots, the API's errors and the request checks both APIs make.

`create_app` (qa.web.server) makes one `Shared` per app and keeps it in `app.state.qa`; a route gets
it with `Depends(shared)`, so the routers in qa.web.json_api and qa.web.openai_api read as plain
modules and capture nothing.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import errno
import logging
import os
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection

from .. import limits
from ..index.default import get_index
from ..index.index import Index
from ..ingest.article import IngestError, normalize_date
from .errors import error_body
from .guards import LOCAL_HOSTS, LoginThrottle, Problem, too_many

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


class ApiError(Exception):
    """An error answered as JSON with a 4xx/5xx status."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None, *,
                 param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}
        self.param, self.code = param, code  # OpenAI's error fields, used under /v1 (qa.web.errors)


# ------------------------------------------------------------------ slots
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
    """Uploads (or removals): one at a time, `queue` more waiting (each holds a worker thread), then 503."""

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


# ------------------------------------------------------------------ shared state
@dataclass
class Shared:
    """One app's state, passed to its routes: the index, the LLM, the login settings and throttle, and
    the slots. `index`: the `Index` the app was given, used as is (its embedder included); None when it
    was given a folder, read through `get_index` (one `Index` per folder and process; each follows
    what other processes write). `sharded`: a qa.index.shards.ShardedIndex over the same index
    (`qa serve --ray`): searches and answers go through it (`searcher`), writes to its `Index` (`idx`)."""

    index_path: Path
    security: Security
    llm: Any = None
    slots: _Slots = field(default_factory=_Slots)
    writes: _WriteSlots = field(default_factory=_WriteSlots)
    #: Uploads have slots of their own: one embedding at a time, and a removal never queues behind one.
    uploads: _WriteSlots = field(default_factory=_WriteSlots)
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    #: The mounted Gradio apps, whose login cookies the API accepts (filled by qa.web.chat_mount).
    gradio_apps: list[Any] = field(default_factory=list)
    sharded: Any = None
    index: Index | None = None

    def idx(self) -> Index:
        """The index, as of now: what uploads and removals write to."""
        if self.sharded is not None:
            return self.sharded.index
        return self.index if self.index is not None else get_index(self.index_path)

    def searcher(self) -> Any:
        """What searches and answers read: the ShardedIndex with `--ray` (it follows the index's
        writes at its next search), else the index."""
        return self.sharded if self.sharded is not None else self.idx()

    def cookie_user(self, request: HTTPConnection) -> str | None:
        """The chat login's user from the request's cookie, or None."""
        for g in self.gradio_apps:
            cid = getattr(g, "cookie_id", None)
            tokens = getattr(g, "tokens", {})
            for name in (f"access-token-{cid}", f"access-token-unsecure-{cid}"):
                tok = request.cookies.get(name)
                if tok and tokens.get(tok):
                    return tokens[tok]
        return None

    def has_session(self, scope: dict) -> bool:
        """Whether the request carries the chat's login cookie (qa.web.guards.LoginWall)."""
        return self.cookie_user(HTTPConnection(scope)) is not None

    def login_problem(self, scope: dict) -> Problem:
        """None when the request is logged in (the chat's cookie, or the API's credentials); else the
        refusal (401, or 429 while the client backs off) as (status, message, headers)."""
        conn = HTTPConnection(scope)
        if self.cookie_user(conn) is not None:
            return None
        try:
            self.authorize(conn)
        except ApiError as e:
            return e.status, e.message, e.headers
        return None

    def authorize(self, request: HTTPConnection) -> None:
        """Nothing when the request may use the API; else an ApiError (401, or 429 while backing off)."""
        security, throttle = self.security, self.throttle
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
        elif not header and security.auth and self.cookie_user(request):
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

    async def answer_now(self, q: str, history: list[str], k: int, dfrom: str | None, dto: str | None) -> Any:
        """`answer(...)` in the thread pool, inside an answer slot; a ValueError is a 400."""
        from ..answers.answer import answer

        await self.slots.acquire()
        try:
            return await run_in_threadpool(lambda: answer(q, history=history or None, k=k, index=self.searcher(),
                                                          date_from=dfrom, date_to=dto, llm=self.llm))
        except ValueError as e:
            raise ApiError(400, str(e)) from None
        finally:
            self.slots.release()


def shared(request: Request) -> Shared:
    """The app's `Shared` (a FastAPI dependency)."""
    return request.app.state.qa


# ------------------------------------------------------------------ request checks
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


# ------------------------------------------------------------------ errors as JSON
#: A write to the index folder (or to the upload's temp copy) that the file system refused: errno ->
#: (status, what to do). 507 Insufficient Storage for a full disk, 503 for a folder that cannot be written.
_DISK_ERRORS = {errno.ENOSPC: (507, "free some disk space and try again"),
                errno.EDQUOT: (507, "free some of the disk quota and try again"),
                errno.EROFS: (503, "the index folder is on a read-only file system; make it writable and try again"),
                errno.EACCES: (503, "the server may not write to the index folder; fix its permissions and try again"),
                errno.EPERM: (503, "the server may not write to the index folder; fix its permissions and try again")}


def disk_error(exc: OSError) -> tuple[int, str] | None:
    """(status, one-line message) for an OSError from a write the file system refused, else None.
    The message names no server path. Nothing is lost: the store writes a new generation beside the
    old one and switches only once it is complete (qa.index.store)."""
    code, what = exc.errno, exc.strerror or str(exc)
    if not code and "requested and" in what and "written" in what:  # numpy's short write: the disk filled up
        code, what = errno.ENOSPC, os.strerror(errno.ENOSPC)
    if code not in _DISK_ERRORS:
        return None
    status, hint = _DISK_ERRORS[code]
    return status, (f"nothing was changed: the index could not be written ({what}); it keeps its last saved "
                    f"state; {hint}")


def add_error_handlers(app: FastAPI) -> None:
    """Every error as JSON: `{"error": message}`, or OpenAI's shape under /v1/."""

    def _error_body(request: Request, status: int, message: str, **openai: str | None) -> dict:
        return error_body(request.url.path, status, message, **openai)  # OpenAI's shape under /v1

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(_error_body(request, exc.status, exc.message, param=exc.param, code=exc.code),
                            status_code=exc.status, headers=exc.headers)

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
        first = ".".join(str(x) for x in errors[0].get("loc", ()) if x != "body") if errors else ""
        return JSONResponse(_error_body(request, 422, "invalid request: " + "; ".join(parts), param=first or None),
                            status_code=422)

    @app.exception_handler(OSError)
    async def _disk(request: Request, exc: OSError) -> JSONResponse:
        got = disk_error(exc)
        if got is None:
            raise exc
        status, message = got
        log.error("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(_error_body(request, status, message), status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(_error_body(request, exc.status_code, str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))
