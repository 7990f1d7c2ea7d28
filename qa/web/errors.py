"""The two error shapes of the server, in one place for the routes and the ASGI guards alike.

Under `/v1` (the OpenAI-compatible endpoint) errors take OpenAI's shape, which its clients read:
`{"error": {"message", "type", "param", "code"}}` with a string `code`; everywhere else they are
`{"error": message}`. No FastAPI imports: qa.web.guards wraps any ASGI app.
"""
from __future__ import annotations

#: OpenAI-style error codes by HTTP status, for errors that do not name a more precise one.
OPENAI_CODES = {400: "invalid_request", 401: "invalid_api_key", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 409: "conflict", 413: "request_too_large", 422: "invalid_request",
                429: "rate_limit_exceeded", 500: "server_error", 503: "server_busy"}


def is_openai_path(path: str) -> bool:
    """Whether `path` belongs to the OpenAI-compatible endpoint (`/v1` and below)."""
    return path == "/v1" or path.startswith("/v1/")


def error_body(path: str, status: int, message: str, *, param: str | None = None,
               code: str | None = None) -> dict:
    """The JSON error body for a request to `path`: OpenAI's shape under /v1, else `{"error": message}`."""
    if not is_openai_path(path):
        return {"error": message}
    return {"error": {"message": message, "type": "invalid_request_error" if status < 500 else "server_error",
                      "param": param, "code": code or OPENAI_CODES.get(status, "error")}}
