import json

import pytest

from qa.ingest.read import Article, load_articles, normalize_date, read_file


def write(path, content, mode="w"):
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_seed_txt_date_marker_and_derived_title():
    arts, skipped = load_articles(["seeds"])
    assert skipped == []
    (a,) = arts
    assert a.id == "000_7307e82632753693.txt"
    assert a.date == "2018-04"
    assert a.text.startswith("Bij een gecoördineerde internationale actie")
    assert "date 2018" not in a.text
    assert a.title.startswith("Bij een gecoördineerde internationale actie tegen IS-propaganda")
    assert "Roemenië" in a.text  # decoded as UTF-8, not mojibake


def test_txt_short_first_line_is_title_and_non_ascii(tmp_path):
    f = write(tmp_path / "a.txt", "date 2020-05-17\nÜberraschung in Zürich: café reopens\n\n"
                                  "Het café aan de Ærøgade heropent. Prijs: €3,50 per kopje — „lekker”.\n")
    (a,), _ = read_file(f, "a.txt")
    assert a.title == "Überraschung in Zürich: café reopens"
    assert a.date == "2020-05-17"
    assert a.text == "Het café aan de Ærøgade heropent. Prijs: €3,50 per kopje — „lekker”."


def test_markdown_front_matter_and_heading(tmp_path):
    f = write(tmp_path / "n.md", "---\ntitle: Storm over Utrecht\ndate: 2021-02-03\nurl: https://example.org/x\n---\n"
                                 "# Ignored heading\n\nDe storm raasde over Utrecht.\n")
    (a,), _ = read_file(f, "n.md")
    assert (a.title, a.date, a.url) == ("Storm over Utrecht", "2021-02-03", "https://example.org/x")
    assert a.text == "De storm raasde over Utrecht."
    g = write(tmp_path / "m.md", "# Flood in Delft\n\nWater rose two metres on Tuesday.\n")
    (b,), _ = read_file(g, "m.md")
    assert b.title == "Flood in Delft" and b.text == "Water rose two metres on Tuesday." and b.date is None


def test_html_main_text_title_and_date(tmp_path):
    page = """<!doctype html><html><head><title>Bridge opens | Daily</title>
    <meta property="og:title" content="New bridge opens in Nijmegen">
    <meta property="article:published_time" content="2019-06-12T08:00:00Z"></head>
    <body><nav><a href="/">Home</a> <a href="/sport">Sport</a></nav>
    <article><h1>New bridge opens in Nijmegen</h1>
    <p>The new cycling bridge over the Waal in Nijmegen opened on Wednesday after three years of work.</p>
    <p>The mayor, Hubert Bruls, said the bridge would carry twelve thousand cyclists a day.</p>
    <p>Construction cost forty million euros, paid by the city and the province of Gelderland.</p>
    </article><footer>Cookie settings. All rights reserved.</footer></body></html>"""
    f = write(tmp_path / "p.html", page)
    (a,), skipped = read_file(f, "p.html")
    assert skipped == []
    assert "twelve thousand cyclists" in a.text and "Hubert Bruls" in a.text
    assert "Cookie settings" not in a.text and "<p>" not in a.text
    assert "bridge" in a.title.lower()
    assert a.date == "2019-06-12"


def test_jsonl_and_json_feeds_with_bad_records(tmp_path):
    lines = [json.dumps({"id": "r1", "title": "Eén", "text": "Eerste bericht uit Gent.", "date": "2019-01"}),
             "{not json",
             json.dumps({"title": "no text"}),
             json.dumps({"text": "Tweede bericht zonder id.", "url": "https://x.test/2"})]
    f = write(tmp_path / "feed.jsonl", "\n".join(lines) + "\n")
    arts, skipped = read_file(f, "feed.jsonl")
    assert [a.id for a in arts] == ["r1", "feed.jsonl#4"]
    assert arts[0].title == "Eén" and arts[0].date == "2019-01" and arts[1].url == "https://x.test/2"
    assert [s.source.rsplit(":", 1)[1] for s in skipped] == ["2", "3"]
    assert "invalid JSON" in skipped[0].reason and "'text'" in skipped[1].reason
    g = write(tmp_path / "feed.json", json.dumps([{"text": "A", "id": 7}, {"text": "B"}]))
    arts, skipped = read_file(g, "feed.json")
    assert [a.id for a in arts] == ["7", "feed.json#2"] and skipped == []


@pytest.mark.parametrize("name,content,reason", [
    ("empty.txt", "", "empty file"),
    ("blank.txt", "  \n\n ", "empty file"),
    ("bin.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "binary"),
    ("latin1.txt", "Caf\xe9 in Li\xe8ge".encode("latin-1"), "not valid UTF-8"),
    ("only-date.txt", "date 2018-04\n", "no text"),
    ("bad-date.txt", "date 2018-13\nText.", "not a real date (impossible month)"),
    ("feb30.txt", "date 2018-02-30\nText.", "not a real date (impossible day)"),
    ("photo.png", b"\x89PNG\r\n", "unsupported file type .png"),
    ("cut.pdf", b"%PDF-1.4", "not a readable PDF"),
    ("broken.json", "{", "invalid JSON"),
])
def test_bad_files_are_skipped_with_a_reason(tmp_path, name, content, reason):
    f = write(tmp_path / name, content)
    arts, skipped = read_file(f, name)
    assert arts == []
    assert len(skipped) == 1 and reason in skipped[0].reason and skipped[0].source == str(f)


def test_oversized_file_is_skipped(tmp_path, monkeypatch):
    import qa.ingest.read

    monkeypatch.setattr(qa.ingest.read, "MAX_ARTICLE_BYTES", 100)
    f = write(tmp_path / "big.txt", "Woord. " * 50)
    arts, skipped = read_file(f, "big.txt")
    assert arts == [] and "over the" in skipped[0].reason and "limit" in skipped[0].reason


def test_folder_reports_bad_files_and_keeps_the_good_ones(tmp_path):
    write(tmp_path / "good" / "a.txt", "Het nieuws van vandaag uit Gent.")
    write(tmp_path / "good" / "sub" / "b.md", "# Titel\n\nMeer nieuws uit Brugge.")
    write(tmp_path / "good" / "empty.txt", "")
    write(tmp_path / "good" / ".hidden.txt", "secret")
    arts, skipped = load_articles([tmp_path / "good", tmp_path / "missing"])
    assert sorted(a.id for a in arts) == ["a.txt", "sub/b.md"]
    assert {s.reason for s in skipped} == {"empty file", "no such file or folder"}


def test_content_hash_tracks_changes():
    a = Article(id="x", title="T", text="Tekst.", date="2020")
    assert a.hash == Article(id="y", title="T", text="Tekst.", date="2020").hash
    assert a.hash != Article(id="x", title="T", text="Tekst!", date="2020").hash
    assert a.hash != Article(id="x", title="T", text="Tekst.", date="2021").hash


def test_normalize_date():
    assert normalize_date("2018-04-02T10:00:00") == "2018-04-02"
    assert normalize_date(2019) == "2019"
    assert normalize_date(None) is None
    with pytest.raises(ValueError):
        normalize_date("April 2018")


def test_json_array_bad_records_reported_with_their_line(tmp_path):
    g = write(tmp_path / "feed.json", '[\n  {"text": "Goed bericht.", "id": "a"},\n  {"text": "Fout.", "url": 123},\n'
                                      '  {"text": "Fout.", "date": 20180101},\n  7\n]\n')
    arts, skipped = read_file(g, "feed.json")
    assert [a.id for a in arts] == ["a"]
    assert [(s.source.rsplit(":", 1)[1], s.reason[:30]) for s in skipped] == [
        ("3", "'url' must be a string, got in"), ("4", "date '20180101' is not YYYY, Y"), ("5", "expected a JSON object, got in")]
    assert "write it like 2018-01-01" in skipped[1].reason
    h = write(tmp_path / "wrapped.json", json.dumps({"articles": [{"text": "Een."}, {"text": 5}]}))
    arts, skipped = read_file(h, "wrapped.json")
    assert len(arts) == 1 and skipped[0].source == f"{h} record 2" and "got int" in skipped[0].reason


def test_repeated_id_within_a_feed_keeps_the_later_and_reports_the_earlier(tmp_path):
    write(tmp_path / "f.jsonl", json.dumps({"id": "x", "text": "Oud."}) + "\n" + json.dumps({"id": "x", "text": "Nieuw."}))
    arts, skipped = load_articles([tmp_path])
    assert [a.text for a in arts] == ["Nieuw."]
    assert skipped[0].source.endswith("f.jsonl:1") and "appears again" in skipped[0].reason


def test_same_file_given_twice_is_not_a_conflict(tmp_path):
    write(tmp_path / "a" / "x.txt", "Nieuws uit Gent.")
    arts, skipped = load_articles([tmp_path / "a", tmp_path / "a", tmp_path / "a" / "x.txt"])
    assert [a.id for a in arts] == ["x.txt"] and skipped == []


def test_python_api_dates_are_validated(seed_index):
    from qa import answer, retrieve

    with pytest.raises(ValueError, match="not a real date"):
        retrieve("Amaq", index=seed_index, date_from="2018-02-30")
    with pytest.raises(ValueError, match="swap them"):
        answer("Amaq", index=seed_index, date_from="2019", date_to="2018")
    assert retrieve("Amaq", index=seed_index, date_from="2018-04-01", date_to="2018-04-30")


def test_symlinks_out_of_the_input_folder_are_skipped_unless_followed(tmp_path):
    outside = tmp_path / "outside"
    (outside / "sub").mkdir(parents=True)
    (outside / "secret.txt").write_text("Geheim\n\nHet wachtwoord van de beheerder is hunter2.", "utf-8")
    (outside / "sub" / "more.txt").write_text("Meer geheimen over de kluis van de bank.", "utf-8")
    src = tmp_path / "articles"
    (src / "in").mkdir(parents=True)
    (src / "good.txt").write_text("De brug van Gent\n\nDe nieuwe brug van Gent is 40 meter lang.", "utf-8")
    (src / "passwd.txt").symlink_to("/etc/passwd")
    (src / "secret.txt").symlink_to(outside / "secret.txt")
    (src / "dir").symlink_to(outside / "sub", target_is_directory=True)
    (src / "in" / "alias.txt").symlink_to(src / "good.txt")  # stays inside: read
    (src / "loop").symlink_to(src, target_is_directory=True)  # inside, a loop: read once
    arts, skipped = load_articles([src])
    assert sorted(a.id for a in arts) == ["good.txt", "in/alias.txt"]
    assert sorted(s.source.rsplit("/", 1)[1] for s in skipped) == ["dir", "passwd.txt", "secret.txt"]
    for s in skipped:
        assert "outside the input folder" in s.reason and "--follow-symlinks" in s.reason and "\n" not in s.reason
    arts, skipped = load_articles([src], follow_symlinks=True)
    assert sorted(a.id for a in arts) == ["dir/more.txt", "good.txt", "in/alias.txt", "passwd.txt", "secret.txt"]
