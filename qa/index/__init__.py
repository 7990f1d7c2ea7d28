"""Index: embeddings (embed, distributed), the segment store on disk (store, dense, bm25), hybrid search
(index, view, fusion) and the default index a process uses (default). Imports qa.ingest and qa.limits only.
"""
