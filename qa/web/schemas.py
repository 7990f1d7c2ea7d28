"""Request and response bodies of the JSON API and the OpenAI-compatible endpoint (pydantic models,
which also make the OpenAPI schema served at /docs)."""
from __future__ import annotations

from typing import Any, Literal, Union

from pydantic import BaseModel, Field

#: The model name the OpenAI-compatible endpoint answers to.
MODEL_ID = "qa"


class HistoryMessage(BaseModel):
    role: str = "user"
    content: str


class AskRequest(BaseModel):
    question: str = Field(description="the question")
    k: int = Field(5, ge=1, le=20, description="passages to read")
    history: list[Union[str, HistoryMessage]] | None = Field(
        None, description="earlier questions (strings) or chat messages {role, content}, oldest first")
    date_from: str | None = Field(None, description="YYYY, YYYY-MM or YYYY-MM-DD")
    date_to: str | None = Field(None, description="YYYY, YYYY-MM or YYYY-MM-DD")


class SearchRequest(BaseModel):
    question: str
    k: int = Field(5, ge=1, le=20)
    date_from: str | None = None
    date_to: str | None = None


class PassageOut(BaseModel):
    article: str
    title: str
    date: str | None
    text: str
    score: float
    chunk: str
    span: list[int]


class CitationOut(BaseModel):
    n: int
    article: str
    title: str
    date: str | None
    sentence: str
    span: list[int]


class AnswerOut(BaseModel):
    """The `qa ask --json` object."""

    question: str
    answer: str
    found: bool
    confidence: Literal["high", "medium", "low"] | None = None  # see docs/answers.md
    score: float | None = None  # 0..1: the answer model's probability that the answer is right
    citations: list[CitationOut]
    passages: list[PassageOut]
    note: str | None = None


class SearchOut(BaseModel):
    """The `qa search --json` object."""

    question: str
    passages: list[PassageOut]


class ArticleOut(BaseModel):
    id: str
    title: str
    date: str | None
    chunks: int
    url: str | None = None


class ArticlesOut(BaseModel):
    articles: list[ArticleOut]
    count: int
    chunks: int


class UploadOut(BaseModel):
    added: list[str]
    updated: list[str]
    unchanged: list[str]
    problems: list[str]
    articles: int


class RemovedOut(BaseModel):
    removed: str
    articles: int


class ChatMessage(BaseModel):
    role: str
    content: Union[str, list[dict[str, Any]], None] = None


class ChatRequest(BaseModel):
    """OpenAI chat completions; other OpenAI fields are accepted and ignored. Extra: k, date_from, date_to."""

    model: str = MODEL_ID
    messages: list[ChatMessage]
    stream: bool = False
    k: int = Field(5, ge=1, le=20)
    date_from: str | None = None
    date_to: str | None = None


class ErrorOut(BaseModel):
    error: str
