"""Adding articles from uploaded files: the checks every upload path shares (chat UI and JSON API).

    from qa.web.uploads import read_upload, add_articles
    articles, problems = read_upload(Path("/tmp/xyz.txt"), "report.txt")
    outcome = add_articles(index, articles)

The caller decides which files may be read at all (the chat only opens files gradio received,
the API only its own temp copy); this module checks the type and size, reads the file, keeps
the server's temp path out of the index, caps the text of one request (`within_upload_cap`) and
adds the articles: embedded outside any lock, committed under one write lock, cancellable.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from .. import limits
from ..index.index import Index, Update
from ..ingest.read import SUPPORTED, Article, read_file

log = logging.getLogger(__name__)

#: Largest accepted upload file.
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
#: Extensions accepted by uploads: whatever qa.ingest.read reads.
UPLOAD_TYPES = list(SUPPORTED)

#: One writer at a time inside this process (uploads and removals from the chat and the API): held
#: by an upload only while it commits (its embedding runs outside), so a removal never waits for one.
WRITE_LOCK = threading.Lock()


def read_upload(path: Path, name: str, max_bytes: int = MAX_UPLOAD_BYTES) -> tuple[list[Article], list[str]]:
    """Read one uploaded file saved at `path` and sent as `name`.

    Returns the articles and one-line problems (unsupported type, too large, empty, binary, bad
    records), each naming `name`, never the server's temp path. Article ids come from `name`.
    """
    name = Path(name).name or "upload"
    suffix = Path(name).suffix.lower() or path.suffix.lower()
    if suffix not in SUPPORTED:
        return [], [f"{name}: unsupported file type {suffix or '(none)'}; use one of {', '.join(UPLOAD_TYPES)}"]
    try:
        size = path.stat().st_size
    except OSError as e:
        return [], [f"{name}: cannot be read ({e.strerror or e})"]
    if size > max_bytes:
        return [], [f"{name}: file is over the {max_bytes // (1024 * 1024)} MB limit ({size} bytes)"]
    arts, skipped = read_file(path, name)
    problems = []
    for s in skipped:
        src = s.source.replace(str(path), name)
        reason = s.reason.replace(str(path), name)
        problems.append(f"{src}: {reason}" if not reason.startswith(src) else reason)
    articles = [Article(id=a.id, title=a.title, text=a.text, date=a.date, url=a.url,
                        source=f"upload:{a.source.replace(str(path), name)}") for a in arts]
    return articles, problems


@dataclass(frozen=True)
class Added:
    """What `add_articles` did: the index update and whether the index was saved."""

    update: Update
    saved: bool


def within_upload_cap(files: Sequence[tuple[str, list[Article]]], cap: int | None = None
                      ) -> tuple[list[tuple[str, list[Article]]], list[str]]:
    """The (name, articles) of one upload request that fit in `cap` (default qa.limits.MAX_UPLOAD_CHARS)
    characters of text together, in order, and a one-line refusal naming each file (or JSON article)
    that would take it past."""
    cap = limits.MAX_UPLOAD_CHARS if cap is None else cap
    kept: list[tuple[str, list[Article]]] = []
    problems: list[str] = []
    total = 0
    for name, arts in files:
        size = sum(len(a.text) for a in arts)
        if total + size > cap:
            problems.append(f"{name}: its {size:,} characters of text would take this upload past the limit of "
                            f"{cap:,} characters for one upload; upload it on its own or in smaller parts, "
                            "or index it with `qa index`")
            continue
        total += size
        kept.append((name, arts))
    return kept, problems


def add_articles(index: Index, articles: Sequence[Article], cancel: Callable[[], bool] | None = None) -> Added:
    """Add `articles` to `index`: embedded outside any lock, committed under WRITE_LOCK. `cancel`: asked
    between embedding steps; once True, `qa.index.index.AddCancelled` is raised and nothing is written."""
    upd = index.add(list(articles), cancel=cancel, commit_lock=WRITE_LOCK)
    saved = bool(upd.added or upd.updated)  # Index.add commits: durable on return
    log.info("upload: %d added, %d updated, %d unchanged", len(upd.added), len(upd.updated), len(upd.unchanged))
    return Added(upd, saved)


def remove_articles(index: Index, ids: Sequence[str]) -> list[str]:
    """Remove the articles `ids` from `index` (saving it if any was there); returns those removed."""
    with WRITE_LOCK:
        removed = index.remove(list(ids))
        if removed:
            index.save()
    return list(removed)
