"""Feedback on the chat's answers: 👍/👎 with an optional note, kept with the question, the answer and
its sources, one JSON object per line in `INDEX-feedback.jsonl` beside the index folder; and its
conversion into a `qa eval` question file (`qa eval --from-feedback FILE --out DIR`).

A record is sent again when its note is added; the last record of an id counts. Every field is
capped, and so is the file (it stops growing at MAX_FILE_BYTES: the chat then says it is full).
"""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, Sequence

#: Caps, in characters (the file in bytes): a click cannot write more than this.
MAX_QUESTION, MAX_ANSWER, MAX_NOTE, MAX_QUOTE, MAX_SOURCES = 2000, 20_000, 2000, 1000, 20
MAX_FILE_BYTES = 20 * 1024 * 1024
RATINGS = ("up", "down")

_lock = threading.Lock()


def feedback_path(index_path: str | Path) -> Path:
    """Where the feedback on answers from the index at `index_path` is kept: beside it."""
    p = Path(index_path)
    return p.parent / f"{p.name}-feedback.jsonl"


def _source(s: Any) -> dict:
    if not isinstance(s, dict):
        raise ValueError(f"a source must be a JSON object, got {type(s).__name__}")
    quotes = s.get("quotes") or []
    return {"n": int(s.get("n") or 0), "article_id": str(s.get("article_id") or "")[:500],
            "title": str(s.get("title") or "")[:500], "date": (str(s["date"])[:10] if s.get("date") else None),
            "quotes": [str(q)[:MAX_QUOTE] for q in (quotes if isinstance(quotes, list) else [])][:10]}


def record(path: str | Path, *, id: str, question: str, answer: str, sources: Sequence[Any] | str,
           found: bool, rating: str, note: str = "", lang: str = "en") -> dict:
    """Append one feedback record (capped) to the JSONL file at `path`; returns it.

    ValueError (one line) for a rating other than "up"/"down", an empty id or question, malformed
    sources, or a file that reached MAX_FILE_BYTES."""
    if rating not in RATINGS:
        raise ValueError(f"rating must be 'up' or 'down', got {rating!r}")
    if not str(id or "").strip() or not str(question or "").strip():
        raise ValueError("feedback needs the answer's id and its question")
    if isinstance(sources, str):
        try:
            sources = json.loads(sources or "[]")
        except json.JSONDecodeError as e:
            raise ValueError(f"sources must be a JSON list ({e.msg})") from None
    if not isinstance(sources, list):
        raise ValueError(f"sources must be a list, got {type(sources).__name__}")
    rec = {"id": str(id)[:64], "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "rating": rating,
           "question": str(question)[:MAX_QUESTION], "answer": str(answer or "")[:MAX_ANSWER], "found": bool(found),
           "sources": [_source(s) for s in sources[:MAX_SOURCES]], "note": str(note or "")[:MAX_NOTE],
           "lang": lang if lang in ("en", "nl") else "en"}
    line = json.dumps(rec, ensure_ascii=False) + "\n"
    p = Path(path)
    with _lock:
        size = p.stat().st_size if p.exists() else 0
        if size + len(line.encode("utf-8")) > MAX_FILE_BYTES:
            raise ValueError(f"the feedback file {p.name} is full ({size} bytes, at most {MAX_FILE_BYTES}); "
                             "convert it with qa eval --from-feedback and move it away")
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(p, "a", encoding="utf-8") as f:
            f.write(line)
    return rec


def read(path: str | Path) -> list[dict]:
    """The feedback records in the file at `path`, the last one of each id, in file order."""
    last: dict[str, dict] = {}
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{n}: not JSON ({e.msg})") from None
        if not isinstance(rec, dict) or "id" not in rec or "question" not in rec:
            raise ValueError(f"{path}:{n}: not a feedback record (needs id and question)")
        last.pop(str(rec["id"]), None)
        last[str(rec["id"])] = rec
    return list(last.values())


def to_questions(records: Sequence[dict]) -> tuple[list[dict], list[dict]]:
    """(questions in `qa eval`'s format, records left for a person to label).

    👍 on an answer: the question is answerable and the first cited sentence is the passage
    retrieval must find (`expected` stays empty: the answer's words are not checked). 👍 on "not in
    the articles": unanswerable. 👎 says only that the answer was wrong, not what is right, so it is
    left for a person (its note helps)."""
    questions, unlabelled = [], []
    for r in records:
        quotes = [q for s in r.get("sources") or [] for q in s.get("quotes") or []]
        if r.get("rating") != "up" or (r.get("found") and not quotes):
            unlabelled.append(r)
            continue
        q = {"id": f"feedback-{r['id']}", "question": r["question"], "expected": [],
             "passage": quotes[0] if r.get("found") else None, "unanswerable": not r.get("found")}
        questions.append(q)
    return questions, unlabelled


def convert(path: str | Path, out: str | Path) -> tuple[int, int]:
    """Write OUT/questions.jsonl (for `qa eval`) and OUT/to-label.jsonl from the feedback file at
    `path`; returns (questions, records to label)."""
    questions, unlabelled = to_questions(read(path))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("questions.jsonl", questions), ("to-label.jsonl", unlabelled)):
        with open(out / name, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(questions), len(unlabelled)
