"""The same story stored twice: a feed and its stories as files, or one file uploaded under two names.

`Index.add` keeps one: an article whose body text, with case and whitespace normalised, equals an
earlier one's (in the same batch or already indexed) under another id is not added.
"""
from __future__ import annotations

import hashlib
import logging
from typing import Sequence

from ..ingest.article import Article
from ..ingest.chunk import Chunk
from .view import _View

log = logging.getLogger(__name__)


def body_hash(text: str) -> str:
    """Hash of an article's body with case and whitespace normalised: the same story, however stored."""
    return hashlib.sha256(" ".join(text.split()).casefold().encode("utf-8")).hexdigest()


def duplicates(v: _View, new: Sequence[Article], chunks_of: dict[str, list[Chunk]]) -> dict[str, str]:
    """New id -> the id of an earlier article (in `new` or in the view `v`) with the same normalised
    body. `new` are articles whose ids are not indexed yet; `chunks_of` their chunks. The indexed
    articles' body hashes are computed once per segment and cached (`_View.body_rows`): the first
    add after loading reads the texts once, later adds cost only the new articles."""
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    for a in new:
        h = body_hash(a.text)
        if h in seen:
            out[a.id] = seen[h]
            continue
        rows = v.body_rows(h, len(chunks_of[a.id]), body_hash) if len(v) else []
        same = v.ids[rows[0]] if rows else None
        if same is not None:
            out[a.id] = same
        else:
            seen[h] = a.id
    for new_id, old_id in out.items():
        log.info("%s has the same text as %s: kept once", new_id, old_id)
    return out
