"""qa: question answering over news articles, with cited sources.

    from qa import retrieve, answer
    retrieve("Which countries were involved?")      # list[Passage]
    answer("Which countries were involved?")        # Answer, with citations

The package follows the pipeline in four wings, imports running one way (web -> answers -> index
-> ingest, qa.limits below all): qa.ingest (articles in), qa.index (chunks, vectors, search),
qa.answers (cited answers), qa.web (the server and the chat). Heavy libraries (faiss, the
embedding model, gradio) load on first use, not on import.
"""
from .api import Answer, Citation, answer, answer_stream, get_index, retrieve
from .index.embed import Embedder, get_embedder
from .index.fusion import Passage
from .index.index import AddCancelled, ArticleInfo, Index, QAIndexError, Update
from .index.shards import ShardedIndex
from .ingest.article import Article, Skipped
from .ingest.read import load_articles

__version__ = "0.1.0"
__all__ = ["AddCancelled", "Article", "ArticleInfo", "Embedder", "Index", "QAIndexError", "Passage", "ShardedIndex",
           "Skipped", "Update", "get_embedder", "get_index", "load_articles", "retrieve", "answer", "answer_stream",
           "Answer", "Citation"]
