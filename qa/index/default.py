"""The default index a process uses: where it lives, built from `seeds/` on first use, cached; and `retrieve`.

qa.api re-exports these for callers; the answers and web wings use them from here.
"""
from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path

from ..ingest.read import load_articles
from .fusion import Passage
from .index import Index, QAIndexError

log = logging.getLogger(__name__)

#: The articles shipped inside the package (qa/seeds/ in an installed wheel) ...
_QA = Path(__file__).resolve().parent.parent  # the qa package folder
PACKAGED_SEEDS = _QA / "seeds"
#: ... and the checkout's top-level seeds/ (a source tree or an editable install).
SEEDS = PACKAGED_SEEDS if PACKAGED_SEEDS.is_dir() else _QA.parent / "seeds"


def user_data_dir() -> Path:
    """Where qa keeps its data for this user: $XDG_DATA_HOME/qa (~/.local/share/qa) on Linux,
    ~/Library/Application Support/qa on macOS, %LOCALAPPDATA%\\qa on Windows."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "qa"


def default_index_path() -> Path:
    """The index used when no --index is given.

    `QA_INDEX` if set; else `index/` in the working directory when that is a project folder (it
    has a `seeds/` folder, as a checkout does) or already has an `index/`; else `index/` in the
    per-user data folder (see `user_data_dir`), so an installed `qa` run from any other folder
    finds the same index.
    """
    env = os.environ.get("QA_INDEX", "").strip()
    if env:
        return Path(env).expanduser()
    here = Path("index")
    if here.is_dir() or Path("seeds").is_dir():
        return here
    return user_data_dir() / "index"


DEFAULT_INDEX = default_index_path()

_indexes: dict[Path, Index] = {}
_lock = threading.Lock()


def default_seeds() -> Path:
    """`seeds/` in the working directory if there is one, else the articles shipped with the package."""
    return Path("seeds") if Path("seeds").is_dir() else SEEDS


def build_from_seeds(path: Path, model: str | None = None) -> Index:
    """Build an index at `path` from the shipped articles (first use of a fresh clone)."""
    seeds = default_seeds()
    if not seeds.is_dir():
        raise QAIndexError(f"no index at {path} and no seeds/ folder to build one from; "
                          f"build one with: python -m qa index ARTICLES --index {path}")
    log.warning("no index at %s yet: building it from %s", path, seeds)
    idx = Index(path, model)
    articles, _ = load_articles([seeds])
    idx.add(articles)
    idx.save()
    return idx


def get_index(path: str | Path = DEFAULT_INDEX, build: bool | None = None) -> Index:
    """The index at `path`, loaded once per process. It follows changes other processes make
    on disk by itself (each search checks the manifest's generation), so no reload is needed.

    When there is none and `path` is the default (or `build` is true), it is built from the
    shipped `seeds/` first, so a fresh clone answers questions straight away.
    """
    key = Path(path).resolve()
    with _lock:
        if key not in _indexes:
            p = Path(path)
            if not (p / "manifest.json").exists() and (build or (build is None and p == DEFAULT_INDEX)):
                _indexes[key] = build_from_seeds(p)
            else:
                _indexes[key] = Index.load(p)
        return _indexes[key]


def forget(path: str | Path = DEFAULT_INDEX) -> None:
    """Drop a cached index (after it was changed on disk by another process)."""
    with _lock:
        _indexes.pop(Path(path).resolve(), None)


def retrieve(question: str, k: int = 5, *, index: Index | str | Path | None = None,
             date_from: str | None = None, date_to: str | None = None) -> list[Passage]:
    """The `k` passages that best match `question`: dense and BM25 search fused.

    `index` is an `Index`, a folder, or None for the default `index/`. Dates are
    "YYYY", "YYYY-MM" or "YYYY-MM-DD"; articles without a date are left out when a range is set.
    """
    idx = index if isinstance(index, Index) else get_index(index or DEFAULT_INDEX)
    return idx.search(question, k=k, date_from=date_from, date_to=date_to)
