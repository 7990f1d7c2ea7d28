"""Pure ASGI guards around the whole server (API, OpenAI endpoint and the Gradio chat alike).

- `HostCheck`: the Host header must name an allowed host (defeats DNS rebinding).
- `OriginCheck`: a request that changes something and comes from another site's page (its Origin,
  or Referer, names another origin, or `null`) is refused (CSRF).
- `BodyLimit`: request bodies are capped, by Content-Length and by counting chunked bodies, and must
  arrive in time (a body trickled in a byte every few seconds gets 408).
- `LoginThrottle` + `LoginGuard`: exponential back-off per client after failed logins.
- `LoginWall`: with a login set, nothing but the login page (without the app's data) before the login.

No FastAPI or Gradio imports: these wrap any ASGI app.
"""
from __future__ import annotations

import json
import logging
import re
import threading
import time
from typing import Any, Callable
from urllib.parse import urlsplit

import anyio

from .. import limits
from .errors import error_body
from .uploads import MAX_UPLOAD_BYTES

log = logging.getLogger(__name__)

#: Host header names accepted by default: this machine only (a DNS-rebinding page sends its own name).
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
#: Largest request body, except uploads (a question and its history are far smaller).
MAX_BODY = 1024 * 1024
#: Largest upload request (several files of at most MAX_UPLOAD_BYTES each).
MAX_UPLOAD_BODY = 4 * MAX_UPLOAD_BYTES + 64 * 1024
#: Paths whose bodies are uploads.
UPLOAD_PATHS = ("/api/articles", "/gradio_api/upload", "/upload")
#: Failed logins per client allowed before the back-off starts; then 1 s, 2 s, 4 s, ... up to MAX_BACKOFF.
FREE_FAILURES = 5
MAX_BACKOFF = 300.0


def host_name(host: str) -> str:
    """The name part of a Host header: no port, no IPv6 brackets, lower case, no trailing dot."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


async def send_json(send: Any, status: int, body: dict, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    data = json.dumps(body).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
                + (headers or [])})
    await send({"type": "http.response.body", "body": data})


def _header(scope: dict, name: bytes) -> str | None:
    for k, v in scope.get("headers") or ():
        if k.lower() == name:
            return v.decode("latin-1")
    return None


class HostCheck:
    """Refuse requests (HTTP and websocket) whose Host header is not an allowed name: a page on
    attacker.example that re-resolves its name to 127.0.0.1 still sends `Host: attacker.example`."""

    def __init__(self, app: Any, allowed: tuple[str, ...]) -> None:
        self.app = app
        self.any = "*" in allowed
        self.allowed = frozenset(host_name(h) for h in allowed if h != "*")

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket") or self.any:
            return await self.app(scope, receive, send)
        host = _header(scope, b"host") or ""
        if host_name(host) in self.allowed:
            return await self.app(scope, receive, send)
        log.warning("refused a request for Host %r (allowed: %s)", host, ", ".join(sorted(self.allowed)))
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await send_json(send, 400, error_body(scope.get("path", ""), 400, f"Host header {host!r} is not allowed; "
                                              "start the server with --allowed-host NAME to accept it"))


#: Methods that change something (or cost an answer): refused when another site's page sends them.
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def same_origin(origin: str, host: str) -> bool:
    """Whether `origin` (an Origin header, or the URL in a Referer) is the server named by `host` (the
    request's Host header): same name and port. The scheme is not compared, so a TLS proxy in front
    (Origin https://..., the request to us plain http) still matches; `null` and non-http(s) never do."""
    try:
        o = urlsplit(origin.strip())
        if o.scheme not in ("http", "https") or not o.hostname:
            return False
        default = 443 if o.scheme == "https" else 80
        h = urlsplit("//" + host.strip())
        return (o.hostname.rstrip("."), o.port or default) == ((h.hostname or "").rstrip("."), h.port or default)
    except ValueError:  # a malformed port or address
        return False


class OriginCheck:
    """Refuse cross-site requests that change something (CSRF): a POST, PUT, PATCH or DELETE (and a
    websocket) whose Origin header, or Referer when there is no Origin, is present and names another
    origin than the server the request is addressed to (its Host header), `null` included. A page on
    another port or site, or an HTML file opened from disk, can send such requests with the user's
    cookies (`fetch(url, {mode: "no-cors", method: "POST"})`) but not read the answer; it cannot hide
    its origin. Requests carrying neither header (curl, SDKs, server-side clients) are let through."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "websocket" or (kind == "http" and scope.get("method") in UNSAFE_METHODS):
            sender = _header(scope, b"origin")
            what = "Origin"
            if sender is None:
                sender, what = _header(scope, b"referer"), "Referer"
            host = _header(scope, b"host") or ""
            if sender is not None and not same_origin(sender, host):
                log.warning("refused a cross-site %s %s from %s %r", scope.get("method", "websocket"),
                            scope.get("path"), what, sender)
                if kind == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                return await send_json(send, 403, error_body(
                    scope.get("path", ""), 403, f"cross-site request refused: its {what} {sender[:200]!r} is not "
                    f"this server ({host[:200]}); changes are accepted from the chat's own page, or from clients "
                    "that send no Origin (curl, SDKs)"))
        await self.app(scope, receive, send)


class BodyLimit:
    """Cap request bodies: by Content-Length up front, and by counting for chunked bodies. And give
    each body a deadline: `body_timeout` seconds from the app's first read of it, plus one second
    per `min_rate` bytes received so far. A client trickling a body slower (uvicorn would wait for
    it forever, holding a worker and an upload slot) gets 408 and its connection is closed; the
    app sees a disconnect. Counted from the first read, so time a request spends queued before the
    app reads its body is not held against the client."""

    def __init__(self, app: Any, max_body: int = MAX_BODY, max_upload: int = MAX_UPLOAD_BODY,
                 body_timeout: float = limits.BODY_TIMEOUT, min_rate: float = limits.MIN_BODY_RATE) -> None:
        self.app, self.max_body, self.max_upload = app, max_body, max_upload
        self.body_timeout, self.min_rate = body_timeout, min_rate

    def limit(self, path: str) -> int:
        return self.max_upload if path.rstrip("/").endswith(UPLOAD_PATHS) else self.max_body

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit(scope.get("path", ""))
        message = error_body(scope.get("path", ""), 413, f"request body too large (at most {limit} bytes here)")
        length = _header(scope, b"content-length")
        if length is not None and (not length.strip().isdigit() or int(length) > limit):
            return await send_json(send, 413, message)
        seen = 0
        over = late = started = body_done = False
        has_body = (length is not None and length.strip() != "0") or _header(scope, b"transfer-encoding") is not None
        first_read: float | None = None

        async def limited_receive() -> dict:
            nonlocal seen, over, late, body_done, first_read
            if over or late:
                return {"type": "http.disconnect"}
            if body_done:  # after the body only a disconnect can come: no deadline for that wait
                return await receive()
            if first_read is None:
                first_read = time.monotonic()
            left = first_read + self.body_timeout + seen / self.min_rate - time.monotonic()
            msg = None
            with anyio.move_on_after(max(left, 0.0)):
                msg = await receive()
            if msg is None:
                late = True
                log.info("cut off a request body from %s to %s: %d bytes in %.0f s", client_of(scope),
                         scope.get("path"), seen, time.monotonic() - first_read)
                return {"type": "http.disconnect"}
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                body_done = not msg.get("more_body", False)
                if seen > limit:
                    over = True
                    return {"type": "http.disconnect"}
            return msg

        async def guarded_send(msg: dict) -> None:
            nonlocal started
            if (over or late) and not started:
                return  # the 413 or 408 below replaces whatever the app makes of the cut-off body
            if msg["type"] == "http.response.start":
                started = True
                if has_body and not body_done:
                    # Answered before its body was read (a refusal): close the connection after the
                    # answer, or the client could go on trickling the unread body into it for ever.
                    msg = {**msg, "headers": [*msg.get("headers", []), (b"connection", b"close")]}
            await send(msg)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not (over or late):
                raise
        if over and not started:
            await send_json(send, 413, message)
        elif late and not started:
            # `connection: close`: the rest of the body is never read, so the connection cannot be reused
            await send_json(send, 408, error_body(scope.get("path", ""), 408, (
                f"the request body came too slowly ({seen} bytes in {time.monotonic() - (first_read or 0):.0f} s; "
                f"a body must arrive within {self.body_timeout:g} s, plus 1 s per {self.min_rate:g} bytes); "
                "send it again without pausing")), [(b"connection", b"close")])


class LoginThrottle:
    """Per client: after FREE_FAILURES failed logins, each further failure locks the client out for
    1 s, 2 s, 4 s, ... (at most MAX_BACKOFF); a locked-out client gets 429 without its password being
    checked. A successful login resets the count. Also used by the API's credential check."""

    def __init__(self, free: int = FREE_FAILURES, max_backoff: float = MAX_BACKOFF) -> None:
        self.free, self.max_backoff = free, max_backoff
        self._state: dict[str, tuple[int, float]] = {}  # client -> (failures, locked until)
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> float:
        """Seconds until `client` may try again (0: now)."""
        with self._lock:
            _, until = self._state.get(client, (0, 0.0))
        return max(0.0, until - time.monotonic())

    def failed(self, client: str) -> None:
        with self._lock:
            n, _ = self._state.get(client, (0, 0.0))
            n += 1
            wait = 0.0 if n <= self.free else min(self.max_backoff, 2.0 ** (n - self.free - 1))
            self._state[client] = (n, time.monotonic() + wait)
            if len(self._state) > 10_000:  # bound the memory an address-hopping client can take
                now = time.monotonic()
                self._state = {c: s for c, s in self._state.items() if s[1] > now - 3600}

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._state.pop(client, None)


def client_of(scope: dict) -> str:
    c = scope.get("client")
    return c[0] if c else "unknown"


def too_many(wait: float) -> tuple[dict, list[tuple[bytes, bytes]]]:
    secs = max(1, int(wait + 0.999))
    return ({"error": f"too many failed logins; try again in {secs} s"}, [(b"retry-after", str(secs).encode())])


class LoginGuard:
    """Apply the throttle to Gradio's login form (`POST /login`): 400 from it is a failed try."""

    def __init__(self, app: Any, throttle: LoginThrottle) -> None:
        self.app, self.throttle = app, throttle

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST" or scope.get("path", "").rstrip("/") != "/login":
            return await self.app(scope, receive, send)
        client = client_of(scope)
        wait = self.throttle.retry_after(client)
        if wait > 0:
            body, headers = too_many(wait)
            return await send_json(send, 429, body, headers)

        async def watch(msg: dict) -> None:
            if msg["type"] == "http.response.start":
                if msg["status"] == 200:
                    self.throttle.succeeded(client)
                elif msg["status"] in (400, 401):
                    self.throttle.failed(client)
            await send(msg)

        await self.app(scope, receive, watch)


#: With a login set, what Gradio's login page loads before the login: the page, its scripts, styles and icons.
LOGIN_PAGE_PATHS = frozenset({"/", "/login", "/logout", "/theme.css", "/favicon.ico", "/manifest.json", "/robots.txt"})
LOGIN_PAGE_PREFIXES = ("/assets/", "/static/")
#: Routes that check the login themselves (a JSON 401 with WWW-Authenticate, the throttle).
SELF_CHECKED_PREFIXES = ("/api/", "/v1/")
#: Gradio writes the app's API description into its page, before the login too; its dropdowns' choices
#: are the article ids. The JSON in it has `<` escaped, so it cannot hold the closing tag.
_API_INFO = re.compile(rb"window\.gradio_api_info\s*=.*?;\s*</script>", re.S)
#: ... which the login page gets empty (its script needs the shape; with `null` it shows no login form).
_NO_API_INFO = b'window.gradio_api_info = {"named_endpoints": {}, "unnamed_endpoints": {}};</script>'
#: (status, message, headers) of a refused request, or None: it may go on.
Problem = tuple[int, str, dict[str, str]] | None


class LoginWall:
    """With a login set, only the login page and what it loads are served before the login; everything
    else (`/docs`, `/openapi.json`, Gradio's `reset`, `cancel`, `heartbeat`, `runs`, ...) needs the chat's
    login cookie or the API's credentials (`check`). The login page is served without the API
    description Gradio puts into it (`session`: whether the request has the chat's login cookie).
    `/api/` and `/v1/` check the login themselves."""

    def __init__(self, app: Any, check: Callable[[dict], Problem], session: Callable[[dict], bool]) -> None:
        self.app, self.check, self.session = app, check, session

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        path = scope.get("path") or "/"
        if path.startswith(SELF_CHECKED_PREFIXES) or path.startswith(LOGIN_PAGE_PREFIXES):
            return await self.app(scope, receive, send)
        if (path.rstrip("/") or "/") in LOGIN_PAGE_PATHS and scope["type"] == "http":
            if path in ("/", "") and not self.session(scope):
                return await self._login_page(scope, receive, send)
            return await self.app(scope, receive, send)
        problem = self.check(scope)
        if problem is None:
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        status, message, headers = problem
        await send_json(send, status, error_body(path, status, message),
                        [(k.lower().encode(), v.encode()) for k, v in headers.items()])

    async def _login_page(self, scope: dict, receive: Any, send: Any) -> None:
        """Gradio's page, as it serves it before the login, without the API description."""
        # Uncompressed, to edit it (Gradio compresses what the browser accepts).
        scope = {**scope, "headers": [(k, v) for k, v in scope.get("headers") or () if k.lower() != b"accept-encoding"]}
        start: dict | None = None
        chunks: list[bytes] = []

        async def edit(msg: dict) -> None:
            nonlocal start
            if msg["type"] == "http.response.start":
                start = msg
                return
            if msg["type"] != "http.response.body" or start is None:
                return await send(msg)
            chunks.append(msg.get("body", b""))
            if msg.get("more_body"):
                return
            body = b"".join(chunks)
            body, n = _API_INFO.subn(_NO_API_INFO, body)
            if not n and b"gradio_api_info" in body:  # fail closed if Gradio's page changed shape
                log.error("the login page holds an API description that could not be removed; not serving it")
                return await send_json(send, 503, error_body("/", 503, "the login page cannot be served safely "
                                                                       "by this version of gradio; see the server's log"))
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            await send({**start, "headers": headers + [(b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, edit)
