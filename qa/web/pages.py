"""Plain pages beside the APIs: the API docs (Swagger UI at /docs, ReDoc at /redoc) and one article
(`GET /article/{id}`), which the URLs of citations point to when the article has no URL of its own.

The docs' scripts and styles come from the `fastapi-offline` package and are served here, so the
docs work with no internet (FastAPI's own pages load them from a CDN). The article page is the
article's escaped text with an anchor `#s{start}` on each sentence (the sentence spans the index
uses), the cited one highlighted when the link names it.
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from ..ingest.lang import language
from ..ingest.chunk import sentence_units
from .render import safe_url
from .schemas import ErrorOut
from .state import Shared, shared

#: Where the docs' scripts and styles are served.
DOCS_STATIC = "/qa-docs-static"
#: The docs pages may load from this server only: offline that is all there is, and ReDoc's footer
#: logo (from its CDN) is then blocked by the browser instead of being requested.
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'")

router = APIRouter()


# ------------------------------------------------------------------ citation URLs
def reader_url(base: str, article_id: str, start: int | None = None) -> str:
    """The URL of qa's page for `article_id` on the server at `base`, at the sentence starting at `start`."""
    url = base.rstrip("/") + "/article/" + quote(article_id, safe="")
    return url if start is None or start < 0 else f"{url}#s{int(start)}"


class SourceUrls:
    """URLs for the citations and passages of one response: the article's own URL where it has one,
    else the reader page at the sentence. Each article is looked up once."""

    def __init__(self, index: Any, base: str) -> None:
        self.index, self.base = index, base
        self._own: dict[str, str | None] = {}

    def __call__(self, article_id: str, start: int | None = None) -> str:
        if article_id not in self._own:
            try:
                self._own[article_id] = safe_url(self.index.article(article_id).url)
            except KeyError:  # removed in between: the reader page says so
                self._own[article_id] = None
        return self._own[article_id] or reader_url(self.base, article_id, start)


def base_url(request: Request) -> str:
    """This server's URL as the client addressed it (with the ASGI root path), ending in `/`."""
    return str(request.base_url)


# ------------------------------------------------------------------ the article page
_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font: 17px/1.6 system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; color: #1a1a1a; }}
.meta {{ color: #555; font-size: .9rem; }}
.s:target {{ background: #fff3b0; outline: 2px solid #b58900; scroll-margin-top: 30vh; }}
a {{ color: #0b57d0; }}
</style></head>
<body><article><h1>{title}</h1><p class="meta">{meta}</p>
{body}
</article></body></html>
"""


def article_html(article: Any) -> str:
    """One article as a page: escaped text, a `<span class="s" id="s{start}">` per sentence."""
    text = article.text
    parts: list[str] = []
    pos = 0
    for a, b in sentence_units(text):
        parts.append(html.escape(text[pos:a]))
        parts.append(f'<span class="s" id="s{a}">{html.escape(text[a:b])}</span>')
        pos = b
    parts.append(html.escape(text[pos:]))
    paragraphs = "".join(parts).split("\n\n")
    body = "\n".join("<p>" + p.strip().replace("\n", "<br>") + "</p>" for p in paragraphs if p.strip())
    meta = [html.escape(article.date or "undated"), f"<code>{html.escape(article.id)}</code>"]
    url = safe_url(article.url)
    if url:
        meta.append(f'<a href="{html.escape(url, quote=True)}" rel="noopener noreferrer">{html.escape(url)}</a>')
    return _PAGE.format(lang=html.escape(language(text[:2000]) or "en"), title=html.escape(article.title), meta=" · ".join(meta), body=body)


@router.get("/article/{article_id:path}", response_class=HTMLResponse, tags=["pages"],
            summary="One article as a page, an anchor #s{start} on each sentence (what citation URLs link to)",
            responses={401: {"model": ErrorOut}, 404: {"description": "no such article"}, 422: {"model": ErrorOut}})
def article_page(article_id: str, request: Request, st: Shared = Depends(shared)) -> HTMLResponse:
    st.authorize(request)
    try:
        a = st.idx().article(article_id)
    except KeyError:
        body = (f"<!doctype html><title>Not found</title><p>No article with id <code>{html.escape(article_id)}</code> "
                "in the index.</p>")
        return HTMLResponse(body, status_code=404)
    return HTMLResponse(article_html(a), headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})


# ------------------------------------------------------------------ the API docs, offline
def add_docs(app: FastAPI) -> None:
    """Serve Swagger UI at /docs and ReDoc at /redoc from the `fastapi-offline` package's files
    (create the app with `docs_url=None, redoc_url=None`)."""
    import fastapi_offline

    static = Path(fastapi_offline.__file__).resolve().parent / "static"
    app.mount(DOCS_STATIC, StaticFiles(directory=static), name="qa-docs-static")

    @app.get("/docs", include_in_schema=False)
    def swagger(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _csp(get_swagger_ui_html(openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - API docs",
                                   swagger_js_url=f"{root}{DOCS_STATIC}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{root}{DOCS_STATIC}/swagger-ui.css",
                                   swagger_favicon_url=f"{root}{DOCS_STATIC}/favicon.png",
                                   # no online validator badge: nothing leaves this machine
                                   swagger_ui_parameters={"validatorUrl": None}))

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _csp(get_redoc_html(openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - API docs",
                                   redoc_js_url=f"{root}{DOCS_STATIC}/redoc.standalone.js",
                                   redoc_favicon_url=f"{root}{DOCS_STATIC}/favicon.png", with_google_fonts=False))


def _csp(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = DOCS_CSP
    return page
