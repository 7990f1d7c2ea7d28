"""Ingest: articles from files, folders and feeds (read, feeds), the record they share (article),
sentence-aware chunks (chunk) and the language guess (lang). Imports nothing else of qa but qa.limits.
"""
