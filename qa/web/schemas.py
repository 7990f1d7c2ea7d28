"""Request and response bodies of the JSON API and the OpenAI-compatible endpoint (pydantic models,
which also make the OpenAPI schema served at /docs)."""
from __future__ import annotations

from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

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


#: `url` of a passage or citation: the article's own URL, else qa's reader at the cited sentence.
URL_FIELD = Field(None, description="the article's own URL, else this server's reader page "
                                   "/article/{id}#s{start} at the passage or sentence")


class PassageOut(BaseModel):
    article: str
    title: str
    date: str | None
    text: str
    score: float
    chunk: str
    span: list[int]
    url: str | None = URL_FIELD


class CitationOut(BaseModel):
    n: int
    article: str
    title: str
    date: str | None
    sentence: str
    span: list[int]
    url: str | None = URL_FIELD


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


class ArticleIn(BaseModel):
    """One article as JSON (`POST /api/articles` with Content-Type: application/json)."""

    text: str = Field(description="the article's body (required, not empty)")
    title: str | None = Field(None, description="default: the first sentence")
    url: str | None = Field(None, description="the article's own URL")
    date: str | None = Field(None, description="YYYY, YYYY-MM or YYYY-MM-DD")
    id: str | None = Field(None, description="default: the URL, else 'api-' and a hash of the text "
                                             "(an existing id is updated)")


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: Union[str, list[dict[str, Any]], None] = None


class ChatRequest(BaseModel):
    """OpenAI chat completions. Refused with a 400: `n` other than 1, `response_format` other than text,
    `tools`, `functions`, `tool_choice`. Other OpenAI fields are accepted and ignored. Extra: k,
    date_from, date_to."""

    model_config = ConfigDict(extra="allow")

    model: str = MODEL_ID
    messages: list[ChatMessage]
    stream: bool = False
    stream_options: dict[str, Any] | None = Field(None, description="{\"include_usage\": true} adds a usage chunk")
    max_tokens: int | None = Field(None, ge=1, description="cut the reply at this many tokens "
                                                           "(finish_reason \"length\")")
    max_completion_tokens: int | None = Field(None, ge=1, description="the same as max_tokens")
    n: int | None = Field(None, description="only 1")
    response_format: dict[str, Any] | None = Field(None, description="only {\"type\": \"text\"}")
    tools: list[Any] | None = Field(None, description="not supported")
    functions: list[Any] | None = Field(None, description="not supported")
    tool_choice: Any = Field(None, description="not supported")
    k: int = Field(5, ge=1, le=20)
    date_from: str | None = None
    date_to: str | None = None


class UrlCitation(BaseModel):
    url: str
    title: str
    start_index: int
    end_index: int


class Annotation(BaseModel):
    type: Literal["url_citation"] = "url_citation"
    url_citation: UrlCitation


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    refusal: str | None = None
    annotations: list[Annotation] = []


class Choice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: Literal["stop", "length"]
    logprobs: None = None


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletionOut(BaseModel):
    """A chat completion; with `stream: true` the same as server-sent `chat.completion.chunk` events."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    found: bool | None = Field(None, description="qa: whether the articles answer the question")
    citations: list[CitationOut] = Field([], description="qa: the cited sentences (also in annotations)")


class ModelOut(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelsOut(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]


class OpenAIError(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str


class OpenAIErrorOut(BaseModel):
    """Errors under /v1, in OpenAI's shape."""

    error: OpenAIError


class ErrorOut(BaseModel):
    error: str
