"""The Python API's module-level conveniences in one place (what `from qa import ...` offers).

The default index (cached per process, built from `seeds/` on first use), `retrieve` and the
answer functions. They live in their wings (qa.index.default, qa.answers.answer); this module
only gathers them, so callers need not know the layout.
"""
from __future__ import annotations

from .answers.answer import Answer, Citation, answer, answer_stream
from .index.default import (DEFAULT_INDEX, PACKAGED_SEEDS, SEEDS, build_from_seeds, default_index_path, default_seeds,
                            forget, get_index, retrieve, user_data_dir)

__all__ = ["Answer", "Citation", "DEFAULT_INDEX", "PACKAGED_SEEDS", "SEEDS", "answer", "answer_stream",
           "build_from_seeds", "default_index_path", "default_seeds", "forget", "get_index", "retrieve",
           "user_data_dir"]
