"""The JSON API router: `/api/ask`, `/api/search`, `/api/articles` (GET, POST upload, DELETE `/api/articles/{id}`).

Errors are `{"error": message}` with a 4xx status (qa.web.state.add_error_handlers). Each route checks
the caller (`Shared.authorize`) first; answers and searches take an answer slot, uploads and removals
a write slot. See docs/api.md.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ..index.index import IndexError_
from .schemas import AnswerOut, ArticlesOut, AskRequest, ErrorOut, RemovedOut, SearchOut, SearchRequest, UploadOut
from .state import ApiError, Shared, _dates, _history, _question, shared
from .uploads import MAX_UPLOAD_BYTES, add_articles, read_upload, remove_articles

router = APIRouter()
#: The error responses the OpenAPI docs list for each route.
err = {400: {"model": ErrorOut}, 401: {"model": ErrorOut}, 413: {"model": ErrorOut}, 422: {"model": ErrorOut},
       429: {"model": ErrorOut}, 503: {"model": ErrorOut}}


@router.post("/api/ask", response_model=AnswerOut, response_model_exclude_unset=True, responses=err, tags=["api"],
             summary="Answer a question from the articles, with citations (the `qa ask --json` object)")
async def api_ask(body: AskRequest, request: Request, st: Shared = Depends(shared)) -> dict:
    from ..answers.answer import user_turns

    st.authorize(request)
    q = _question(body.question)
    history = _history(user_turns([h if isinstance(h, str) else h.model_dump() for h in body.history or []]))
    dfrom, dto = _dates(body.date_from, body.date_to)
    return (await st.answer_now(q, history, body.k, dfrom, dto)).to_dict()


@router.post("/api/search", response_model=SearchOut, responses=err, tags=["api"],
             summary="The passages that best match a question (the `qa search --json` object)")
async def api_search(body: SearchRequest, request: Request, st: Shared = Depends(shared)) -> dict:
    st.authorize(request)
    q = _question(body.question)
    dfrom, dto = _dates(body.date_from, body.date_to)
    await st.slots.acquire()
    try:
        passages = await run_in_threadpool(lambda: st.idx().search(q, k=body.k, date_from=dfrom, date_to=dto))
    except ValueError as e:
        raise ApiError(400, str(e)) from None
    finally:
        st.slots.release()
    return {"question": q, "passages": [p.to_dict() for p in passages]}


@router.get("/api/articles", response_model=ArticlesOut, responses=err, tags=["api"],
            summary="The indexed articles, newest first")
def api_articles(request: Request, st: Shared = Depends(shared)) -> dict:
    st.authorize(request)
    i = st.idx()
    rows = i.articles()
    return {"articles": [{"id": r.id, "title": r.title, "date": r.date, "chunks": r.chunks,
                          "url": getattr(r, "url", None)} for r in rows],
            "count": len(rows), "chunks": len(i)}


@router.post("/api/articles", response_model=UploadOut, responses=err, tags=["api"],
             summary="Upload article files (.txt .md .html .json .jsonl; multipart field `files`)")
def api_upload(request: Request, st: Shared = Depends(shared), files: list[UploadFile] = File(..., description="one or more files")) -> Any:
    st.authorize(request)
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
    st.writes.acquire()
    try:
        u = add_articles(st.idx(), articles).update
    except IndexError_ as e:  # e.g. the index on disk is damaged or refused
        raise ApiError(409, str(e)) from None
    except ValueError as e:
        raise ApiError(400, str(e)) from None
    finally:
        st.writes.release()
    return {"added": list(u.added), "updated": list(u.updated), "unchanged": list(u.unchanged),
            "problems": problems, "articles": len(st.idx().articles())}


@router.delete("/api/articles/{article_id:path}", response_model=RemovedOut, responses={**err, 404: {"model": ErrorOut}},
               tags=["api"], summary="Remove one article by id")
def api_remove(article_id: str, request: Request, st: Shared = Depends(shared)) -> dict:
    st.authorize(request)
    st.writes.acquire()
    try:
        removed = remove_articles(st.idx(), [article_id])
    except IndexError_ as e:
        raise ApiError(409, str(e)) from None
    finally:
        st.writes.release()
    if not removed:
        raise ApiError(404, f"no article with id {article_id!r} in the index (see GET /api/articles)")
    return {"removed": article_id, "articles": len(st.idx().articles())}
