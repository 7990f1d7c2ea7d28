"""The JSON API router: `/api/ask`, `/api/search`, `/api/articles` (GET; POST files or JSON; DELETE
`/api/articles/{id}`).

Errors are `{"error": message}` with a 4xx status (qa.web.state.add_error_handlers). Each route checks
the caller (`Shared.authorize`) first; answers and searches take an answer slot, uploads an upload slot
and removals a write slot (an upload holds the write lock only to commit). An upload whose client
disconnects stops embedding within one step and writes nothing. See docs/api.md.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import tempfile
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from ..index.index import AddCancelled, QAIndexError
from ..ingest.article import Article, IngestError
from ..ingest.read import parse_record
from .pages import SourceUrls, base_url
from .render import safe_url
from .schemas import (AnswerOut, ArticleIn, ArticlesOut, AskRequest, ErrorOut, RemovedOut, SearchOut, SearchRequest,
                      UploadOut)
from .state import ApiError, Shared, _dates, _history, _question, shared
from .uploads import MAX_UPLOAD_BYTES, add_articles, read_upload, remove_articles, within_upload_cap

log = logging.getLogger(__name__)
router = APIRouter()
#: Seconds between two checks, while an upload is embedding, whether its client is still there.
DISCONNECT_POLL = 0.5
#: The error responses the OpenAPI docs list for each route.
err = {400: {"model": ErrorOut}, 401: {"model": ErrorOut}, 413: {"model": ErrorOut}, 422: {"model": ErrorOut},
       429: {"model": ErrorOut}, 503: {"model": ErrorOut}}


def _with_urls(d: dict, urls: SourceUrls) -> dict:
    """An answer or search object with a `url` on each citation and passage (see qa.web.pages)."""
    for c in d.get("citations", ()):
        c["url"] = urls(c["article"], c["span"][0])
    for p in d.get("passages", ()):
        p["url"] = urls(p["article"], p["span"][0])
    return d


@router.post("/api/ask", response_model=AnswerOut, response_model_exclude_unset=True, responses=err, tags=["api"],
             summary="Answer a question from the articles, with citations (the `qa ask --json` object, "
                     "with a `url` on each citation and passage)")
async def api_ask(body: AskRequest, request: Request, st: Shared = Depends(shared)) -> dict:
    from ..answers.answer import user_turns

    st.authorize(request)
    q = _question(body.question)
    history = _history(user_turns([h if isinstance(h, str) else h.model_dump() for h in body.history or []]))
    dfrom, dto = _dates(body.date_from, body.date_to)
    a = await st.answer_now(q, history, body.k, dfrom, dto)
    return _with_urls(a.to_dict(), SourceUrls(st.idx(), base_url(request)))


@router.post("/api/search", response_model=SearchOut, responses=err, tags=["api"],
             summary="The passages that best match a question (the `qa search --json` object, with a `url` "
                     "on each passage)")
async def api_search(body: SearchRequest, request: Request, st: Shared = Depends(shared)) -> dict:
    st.authorize(request)
    q = _question(body.question)
    dfrom, dto = _dates(body.date_from, body.date_to)
    await st.slots.acquire()
    try:
        idx = st.searcher()
        passages = await run_in_threadpool(lambda: idx.search(q, k=body.k, date_from=dfrom, date_to=dto))
    except ValueError as e:
        raise ApiError(400, str(e)) from None
    finally:
        st.slots.release()
    return _with_urls({"question": q, "passages": [p.to_dict() for p in passages]}, SourceUrls(idx, base_url(request)))


@router.get("/api/articles", response_model=ArticlesOut, responses=err, tags=["api"],
            summary="The indexed articles, newest first")
def api_articles(request: Request, st: Shared = Depends(shared)) -> dict:
    st.authorize(request)
    i = st.idx()
    rows = i.articles()
    return {"articles": [{"id": r.id, "title": r.title, "date": r.date, "chunks": r.chunks,
                          "url": getattr(r, "url", None)} for r in rows],
            "count": len(rows), "chunks": len(i)}


#: The upload route's two bodies, for the OpenAPI document (the route reads the body itself).
UPLOAD_BODY = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["files"], "properties": {
        "files": {"type": "array", "items": {"type": "string", "format": "binary"},
                  "description": "one or more files (.txt .md .html .json .jsonl .pdf .docx)"},
        "date": {"type": "string", "description": "YYYY, YYYY-MM or YYYY-MM-DD: the date of every article in "
                                                  "the files (default: the date each file gives, if any)"}}}},
    "application/json": {"schema": {"anyOf": [ArticleIn.model_json_schema(),
                                              {"type": "array", "items": ArticleIn.model_json_schema()}]}}}}}


def json_articles(body: object) -> tuple[list[Article], list[str]]:
    """Articles from a JSON body: one object {text, title, url, date, id} or a list of them."""
    records = body if isinstance(body, list) else [body]
    parsed: list[tuple[str, list[Article]]] = []
    problems: list[str] = []
    for n, rec in enumerate(records):
        where = f"article {n + 1}" if isinstance(body, list) else "the article"
        text = rec.get("text") if isinstance(rec, dict) else None
        if isinstance(text, str) and len(text.encode("utf-8")) > MAX_UPLOAD_BYTES:
            problems.append(f"{where}: text is over the {MAX_UPLOAD_BYTES // (1024 * 1024)} MB limit")
            continue
        url = rec.get("url") if isinstance(rec, dict) else None
        # the URL names the article (as a feed item's link does); else the text does, so posting the
        # same text again changes nothing and a different text never replaces another article
        fallback = safe_url(url if isinstance(url, str) else None) or \
            "api-" + hashlib.sha256((text if isinstance(text, str) else "").encode("utf-8")).hexdigest()[:12]
        try:
            parsed.append((where, [parse_record(rec, "upload:api", fallback)]))
        except IngestError as e:
            problems.append(f"{where}: {e}")
    kept, over = within_upload_cap(parsed)
    return [a for _, arts in kept for a in arts], problems + over


def _read_files(files: list[UploadFile], date: str | None) -> tuple[list[Article], list[str]]:
    """The articles in uploaded files (each copied to a temp file of its own), dated `date` if given,
    within the text cap of one upload (qa.limits.MAX_UPLOAD_CHARS)."""
    read: list[tuple[str, list[Article]]] = []
    problems: list[str] = []
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
            read.append((name, [replace(a, date=date) for a in arts] if date else arts))
            problems += probs
    kept, over = within_upload_cap(read)
    return [a for _, arts in kept for a in arts], problems + over


@router.post("/api/articles", response_model=UploadOut, responses={**err, 415: {"model": ErrorOut}}, tags=["api"],
             openapi_extra=UPLOAD_BODY,
             summary="Add articles: files (multipart field `files`, optional `date`) or JSON {text, title, url, date}")
async def api_upload(request: Request, st: Shared = Depends(shared)) -> Any:
    st.authorize(request)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise ApiError(400, "the request body is not valid JSON") from None
        articles, problems = json_articles(body)
    elif kind == "multipart/form-data":
        form = await request.form()
        files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
        if not files:
            raise ApiError(400, "no files: send them in the multipart field `files`")
        raw_date = form.get("date")
        date = _dates(raw_date if isinstance(raw_date, str) else None, None)[0]
        try:
            articles, problems = await run_in_threadpool(_read_files, files, date)
        finally:
            await form.close()
    else:
        raise ApiError(415, f"Content-Type {kind or '(none)'} is not accepted: send files as multipart/form-data "
                            "(field `files`) or one article as application/json {\"text\", \"title\", \"url\", \"date\"}")
    if not articles:
        return JSONResponse({"error": "nothing was indexed: " + ("; ".join(problems) or "no articles in the files"),
                             "problems": problems}, status_code=400)
    gone = threading.Event()  # the client disconnected: stop embedding, write nothing
    work = asyncio.ensure_future(run_in_threadpool(_add, st, articles, problems, gone.is_set))
    try:
        while not work.done():
            await asyncio.wait({work}, timeout=DISCONNECT_POLL)
            if not work.done() and not gone.is_set() and await request.is_disconnected():
                log.info("upload of %d article(s): the client went away; stopping", len(articles))
                gone.set()
        return work.result()
    finally:
        gone.set()  # this handler was cancelled (server shutting down): the thread stops too


def _add(st: Shared, articles: list[Article], problems: list[str], cancel: Callable[[], bool]) -> Any:
    """Add `articles` inside the upload slot; the upload route's reply."""
    st.uploads.acquire()
    try:
        u = add_articles(st.idx(), articles, cancel).update
    except AddCancelled as e:  # nobody reads this answer: the client is gone
        log.info("%s", e)
        return JSONResponse({"error": f"the client disconnected: {e}"}, status_code=499)
    except QAIndexError as e:  # e.g. the index on disk is damaged or refused
        raise ApiError(409, str(e)) from None
    except ValueError as e:
        raise ApiError(400, str(e)) from None
    finally:
        st.uploads.release()
    return {"added": list(u.added), "updated": list(u.updated), "unchanged": list(u.unchanged),
            "problems": problems, "articles": len(st.idx().articles())}


@router.delete("/api/articles/{article_id:path}", response_model=RemovedOut, responses={**err, 404: {"model": ErrorOut}},
               tags=["api"], summary="Remove one article by id")
def api_remove(article_id: str, request: Request, st: Shared = Depends(shared)) -> dict:
    st.authorize(request)
    st.writes.acquire()
    try:
        removed = remove_articles(st.idx(), [article_id])
    except QAIndexError as e:
        raise ApiError(409, str(e)) from None
    finally:
        st.writes.release()
    if not removed:
        raise ApiError(404, f"no article with id {article_id!r} in the index (see GET /api/articles)")
    return {"removed": article_id, "articles": len(st.idx().articles())}
