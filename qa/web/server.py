"""The HTTP server (`qa serve`): the chat, a JSON API and an OpenAI-compatible endpoint on one port.

    from qa.web.server import create_app, serve
    running = serve("index", port=0)            # in a background thread; running.url, running.close()

One FastAPI app, served by uvicorn on 127.0.0.1 unless told otherwise:
- `/api/ask`, `/api/search`, `/api/articles` (GET, POST upload, DELETE `/api/articles/{id}`): JSON;
  errors are `{"error": message}` with a 4xx status. OpenAPI docs at `/docs` (schema `/openapi.json`).
- `/v1/models`, `/v1/chat/completions` (streamed by SSE with `stream: true`): OpenAI's format.
- `/qa-static/`: the chat page's files (qa/web/static); everything else: the Gradio chat from
  `qa.web.chat.build_app`, mounted at `/`.

Each part is its own module: qa.web.json_api and qa.web.openai_api (FastAPI routers),
qa.web.chat_mount (the chat), over one `Shared` state per app (qa.web.state): the index
holder, the answer and write slots, the login settings.

Every route, Gradio's included, sits behind the same guards (pure ASGI middleware, qa/web/guards.py):
the Host header must name an allowed host (DNS rebinding), a change sent by another site's page is
refused (CSRF; no CORS either), request bodies are capped, and failed logins back off exponentially
per client (its real address: forwarding headers count only from `--forwarded-allow-ips`). With a
login set (`--auth-file`, `QA_AUTH`, `--auth`) nothing but the login page is served before it, and
the API requires it too (HTTP Basic or the chat's login cookie); a bearer token from `QA_API_TOKEN`
is accepted for the API. Below HTTP (qa/web/connections.py), a request's headers must arrive within
10 s and one client address holds at most 128 connections (slowloris). At most
`ANSWER_CONCURRENCY` API answers are computed at a time, `ANSWER_QUEUE` more wait, the rest get 503.
See docs/api.md.
"""
from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.middleware.cors import CORSMiddleware

from .. import limits
from ..index.default import DEFAULT_INDEX, get_index
from ..index.index import Index, QAIndexError
from . import json_api, openai_api, pages
from .chat_mount import mount_chat
from .connections import HEADER_TIMEOUT, MAX_CONNECTIONS_PER_CLIENT, guarded_protocol, parse_trusted
from .guards import (LOCAL_HOSTS, MAX_BODY, MAX_UPLOAD_BODY, BodyLimit, HostCheck, LoginGuard, LoginWall,
                     OriginCheck)
from .openai_api import format_reply  # noqa: F401  (re-exported)
# Re-exported: callers configure the server with these (qa.web.server.Security, ...).
from .state import (ANSWER_CONCURRENCY, ANSWER_QUEUE, MAX_HISTORY_TURNS, MAX_QUESTION_CHARS,  # noqa: F401
                    WRITE_QUEUE, ApiError, Security, Shared, _once, _Slots, _SlotStream, _WriteSlots)

log = logging.getLogger(__name__)


# ------------------------------------------------------------------ configuration
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


# ------------------------------------------------------------------ the app
def create_app(index: str | Path | Index = DEFAULT_INDEX, *, security: Security = Security(), llm: Any = None,
               demo: Any = None, server_name: str = "127.0.0.1", server_port: int = 7860,
               max_body: int = MAX_BODY, max_upload: int = MAX_UPLOAD_BODY,
               answer_concurrency: int = ANSWER_CONCURRENCY, answer_queue: int = ANSWER_QUEUE,
               sharded: Any = None, body_timeout: float = limits.BODY_TIMEOUT) -> FastAPI:
    """The whole server as one ASGI app: API routes, OpenAI routes, the chat at `/`, and the guards
    (`max_body`, `max_upload`, `body_timeout`: see qa.web.guards.BodyLimit).

    `index`: a folder (read through `qa.index.default.get_index`: one `Index` per folder and process) or an
    `Index`, which the app uses as is, with its embedder; either follows what other processes write.
    `demo`: a ready Blocks (else `qa.web.chat.build_app`).
    `sharded`: a qa.index.shards.ShardedIndex over that index (`qa serve --ray`): every search and answer
    (JSON API, /v1, the chat) goes through its shards, writes go to its Index; the app closes it at shutdown.
    """
    from .. import __version__
    from .state import add_error_handlers

    if sharded is not None:
        given = Path(index.path if isinstance(index, Index) else index)
        if index is not DEFAULT_INDEX and given.resolve() != sharded.index.path.resolve():
            raise ValueError(f"the sharded index is {sharded.index.path}, not the index {given} given; "
                             "pass the same folder, or leave `index` out")
        index = sharded.index  # one Index object: the shards follow its writes at their next search
    index_path = index.path if isinstance(index, Index) else Path(index)
    first = index if isinstance(index, Index) else get_index(index_path)
    st = Shared(index_path, security, llm, _Slots(answer_concurrency, answer_queue), _WriteSlots(WRITE_QUEUE),
                sharded=sharded, index=index if isinstance(index, Index) else None)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if sharded is not None:  # the shards' actors (and a local Ray instance) end with the server
                await run_in_threadpool(sharded.close)

    app = FastAPI(title="qa", version=__version__, docs_url=None, redoc_url=None,  # pages.add_docs: offline
                  lifespan=lifespan,
                  description="Ask questions of your news articles: answers with citations. Errors are JSON "
                              "{\"error\": message}; under /v1 OpenAI's {\"error\": {message, type, param, code}}. "
                              "See docs/api.md.")
    app.state.qa = st
    app.state.throttle = st.throttle
    app.state.security = security
    app.state.index_path = index_path
    add_error_handlers(app)
    app.include_router(json_api.router)
    app.include_router(openai_api.router)
    app.include_router(pages.router)
    pages.add_docs(app)
    app.state.demo = mount_chat(app, st, first, demo=demo, server_name=server_name, server_port=server_port)

    # ---- guards around everything (the last added runs first)
    if security.throttle_logins:
        app.add_middleware(LoginGuard, throttle=st.throttle)
    if security.auth:
        app.add_middleware(LoginWall, check=st.login_problem, session=st.has_session)
    # No origin but the page's own may read answers: Gradio sees this and stops reflecting localhost
    # origins (with credentials) in its own CORS headers.
    app.add_middleware(CORSMiddleware, allow_origins=[])
    app.add_middleware(BodyLimit, max_body=max_body, max_upload=max_upload, body_timeout=body_timeout)
    app.add_middleware(OriginCheck)
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


def uvicorn_config(app: Any, *, forwarded_allow_ips: str | list[str] | None = None,
                   header_timeout: float = HEADER_TIMEOUT, per_client: int = MAX_CONNECTIONS_PER_CLIENT) -> Any:
    """How uvicorn runs the app. `forwarded_allow_ips`: the proxies whose X-Forwarded-For/-Proto are
    believed (default none: uvicorn's own default trusts 127.0.0.1, so any local process could pose
    as any address and dodge the login throttle). `header_timeout`, `per_client`: see qa.web.connections."""
    import uvicorn

    trusted = parse_trusted(forwarded_allow_ips)
    # limit_concurrency bounds open connections; h11's default caps header size at 16 KB.
    return uvicorn.Config(app, log_level="warning", lifespan="on", limit_concurrency=1000, timeout_keep_alive=5,
                          timeout_graceful_shutdown=3, http=guarded_protocol(header_timeout, per_client, trusted),
                          proxy_headers=bool(trusted), forwarded_allow_ips=trusted)


def serve(index: str | Path | Index = DEFAULT_INDEX, *, host: str = "127.0.0.1", port: int = 7860,
          security: Security | None = None, llm: Any = None, demo: Any = None, block: bool = False,
          forwarded_allow_ips: str | list[str] | None = None, header_timeout: float = HEADER_TIMEOUT,
          per_client: int = MAX_CONNECTIONS_PER_CLIENT, **app_options: Any) -> Running:
    """Start the server; with `block=False` in a background thread (returns once it accepts requests).
    `forwarded_allow_ips`, `header_timeout`, `per_client`: see `uvicorn_config`."""
    import uvicorn

    trusted = parse_trusted(forwarded_allow_ips)  # a bad value is refused before the port is taken
    sock = bind(host, port)
    port = sock.getsockname()[1]
    if security is None:
        security = Security(allowed_hosts=allowed_hosts_for(host, ()))
    app = create_app(index, security=security, llm=llm, demo=demo, server_name=host, server_port=port,
                     **app_options)
    server = uvicorn.Server(uvicorn_config(app, forwarded_allow_ips=trusted, header_timeout=header_timeout,
                                           per_client=per_client))
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
    from ..answers.llm import from_settings

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
        # A new folder is built from the shipped articles (as the default one is); a folder that holds
        # something else is never written into.
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise QAIndexError(f"no index at {path}, and it is not empty; give a new folder (built from the shipped "
                              f"articles) or build one with: qa index ARTICLES --index {path}")
        print(f"no index at {path} yet: building it from the shipped articles", file=sys.stderr)
    extra = list(getattr(args, "allowed_host", None) or [])
    if host not in ("127.0.0.1", "localhost", "::1") and not auth:
        print(f"warning: serving on {host} without a login (--auth-file or QA_AUTH): anyone who can reach it can "
              "read and change the index", file=sys.stderr)
    if host in ("0.0.0.0", "::") and not extra:
        print("warning: only requests addressed to localhost are accepted; add --allowed-host NAME for each "
              "name or address others use to reach this machine", file=sys.stderr)
    security = Security(auth=auth, api_token=token, allowed_hosts=allowed_hosts_for(host, extra))
    forwarded = parse_trusted(getattr(args, "forwarded_allow_ips", None))
    idx = get_index(path, build=True)
    sharded = _sharded(idx, getattr(args, "ray", None), getattr(args, "ray_shards", None))
    try:
        llm = _make_llm(getattr(args, "llm_url", None), getattr(args, "llm_model", None))
        sock = bind(host, port)
        port = sock.getsockname()[1]
        import uvicorn

        app = create_app(path, security=security, llm=llm, server_name=host, server_port=port, sharded=sharded)
        config = uvicorn_config(app, forwarded_allow_ips=forwarded)
        url = _url(host, port)
        login = "; login required" if auth else ""
        ray = f", searched on {sharded.n} Ray shards" if sharded is not None else ""
        n = len(idx.articles())
        print(f"qa: chat on {n} article{'' if n == 1 else 's'} ({len(idx)} chunks, {path}{ray}) at {url} , API at "
              f"{url}api/ , OpenAI-compatible at {url}v1 , docs at {url}docs (started in "
              f"{time.perf_counter() - t0:.1f} s{login}); Ctrl-C to stop", file=sys.stderr, flush=True)
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        if sharded is not None:  # closed at shutdown already, unless the server never started
            sharded.close()
    return 0


def _sharded(idx: Index, address: str | None, shards: int | None) -> Any:
    """`--ray [ADDRESS]`: a ShardedIndex over `idx` whose actors run and hold their segments, or None
    without `--ray`. A one-line qa.index.distributed.DistributedError when Ray cannot be started or
    reached or the shards do not start."""
    if address is None:
        return None
    from ..index.distributed import check_address
    from ..index.shards import SHARDS, ShardedIndex

    t0 = time.perf_counter()
    sx = ShardedIndex(idx, shards=shards or SHARDS, address=check_address(address))
    try:
        sx.ready()
    except BaseException:
        sx.close()
        raise
    log.info("%d segments on %d Ray shards in %.1f s", idx.segments, sx.n, time.perf_counter() - t0)
    return sx
