"""qa: question answering over news articles, with cited sources.

    from qa import retrieve, answer
    retrieve("Which countries were involved?")      # list[Passage]
    answer("Which countries were involved?")        # Answer, with citations

Heavy libraries (faiss, the embedding model, gradio) load on first use, not on import.
"""
from .answer import Answer, Citation, answer  # binds qa.answer to the function, not the module
from .api import get_index, retrieve
from .embed import Embedder, get_embedder
from .index import ArticleInfo, Index, IndexError_, QAIndexError, Update
from .ingest import Article, Skipped, load_articles
from .search import Passage

__version__ = "0.1.0"
__all__ = ["Article", "ArticleInfo", "Embedder", "Index", "IndexError_", "QAIndexError", "Passage", "Skipped", "Update",
           "get_embedder", "get_index", "load_articles", "retrieve", "answer", "Answer", "Citation"]
