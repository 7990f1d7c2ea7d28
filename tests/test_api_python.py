"""The Python API's surface (issue 18, item 7): `from qa import answer_stream`, the typed signatures,
`py.typed`, a short `repr(Passage)`, and no `IndexError_`."""
from __future__ import annotations

import inspect
from pathlib import Path

import qa


def test_answer_stream_from_the_package(seed_index):
    from qa import answer_stream

    steps = list(answer_stream("Wie leidde de actie?", index=seed_index))
    assert steps and steps[-1].found and "parket" in steps[-1].text
    assert "answer_stream" in qa.__all__


def test_signatures_are_typed_and_the_package_says_so():
    for fn in (qa.answer, qa.answer_stream):
        params = inspect.signature(fn).parameters
        for name in ("history", "index", "llm"):
            assert params[name].annotation not in (inspect.Parameter.empty, "Sequence | None", ""), (fn, name)
        assert "Index" in str(params["index"].annotation) and "History" in str(params["history"].annotation)
    assert (Path(qa.__file__).parent / "py.typed").is_file()


def test_passage_repr_is_short(seed_index):
    (p,) = seed_index.search("Which countries were involved?", k=1)
    r = repr(p)
    assert len(p.text) > 300 and len(r) < 200, r
    assert r.startswith(f"Passage(article_id={p.article_id!r}, span=({p.start}, {p.end}), score=")
    assert " ".join(p.text.split())[:40] in r and r.endswith("…')")


def test_the_old_error_name_is_gone():
    assert not hasattr(qa, "IndexError_") and "IndexError_" not in qa.__all__
    assert issubclass(qa.QAIndexError, Exception)
