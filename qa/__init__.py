"""qa: question answering over news articles, with cited sources.

    from qa import retrieve, answer
    retrieve("Which countries were involved?")      # list[Passage]
    answer("Which countries were involved?")        # Answer, with citations

Heavy libraries (faiss, the embedding model, gradio) load on first use, not on import.
"""
from .api import get_index, retrieve
from .embed import Embedder, get_embedder
from .index import ArticleInfo, Index, IndexError_, Update
from .ingest import Article, Skipped, load_articles
from .search import Passage

__version__ = "0.1.0"
__all__ = ["Article", "ArticleInfo", "Embedder", "Index", "IndexError_", "Passage", "Skipped", "Update",
           "get_embedder", "get_index", "load_articles", "retrieve", "answer", "Answer", "Citation"]


def __getattr__(name: str):
    # `answer` lives in its own module, loaded when first asked for.
    if name in ("answer", "Answer", "Citation"):
        import importlib

        mod = importlib.import_module("qa.answer")
        # Importing the submodule binds `qa.answer` to the module: rebind the public names.
        globals().update(answer=mod.answer, Answer=mod.Answer, Citation=mod.Citation)
        return globals()[name]
    raise AttributeError(f"module 'qa' has no attribute {name!r}")
