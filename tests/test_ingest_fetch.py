"""Fetching feeds and pages: a whole-request deadline that holds against a sender trickling one
byte every 2 s (issue 19, item 7), and no request to loopback, private, link-local or non-http(s)
targets, at any redirect hop, without `allow_private` (item 8). Real servers on loopback."""
import http.server
import socket
import threading
import time

import pytest

from qa.ingest import feeds
from qa.ingest.feeds import FeedError, fetch, is_public_address
from qa.ingest.read import load_articles


class Drip:
    """A loopback server that sends a response one byte every `every` seconds, from the status line
    (`phase="status"`), after the status line (`"headers"`) or after the headers (`"body"`)."""

    def __init__(self, phase: str, every: float = 2.0) -> None:
        self.phase, self.every = phase, every
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/feed.xml"
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 1000000\r\n\r\n"
        sent = {"status": b"", "headers": b"HTTP/1.1 200 OK\r\n", "body": head}[self.phase]
        rest = {"status": head, "headers": b"X-Slow: " + b"a" * 10000, "body": b"<rss>" + b" " * 999995}[self.phase]
        try:
            conn.recv(65536)
            conn.sendall(sent)
            for i in range(len(rest)):
                if self.stop.wait(self.every):
                    break
                conn.sendall(rest[i:i + 1])
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.mark.parametrize("phase", ["status", "headers", "body"])
def test_a_slow_drip_ends_at_the_deadline(phase):
    d = Drip(phase)
    try:
        t0 = time.monotonic()
        with pytest.raises(FeedError, match="within 4 s") as e:
            fetch(d.url, 10_000_000, timeout=4, allow_private=True)
        took = time.monotonic() - t0
    finally:
        d.close()
    assert 2 <= took <= 6, (phase, took)  # the deadline +/- 2 s
    assert "\n" not in str(e.value)


def test_a_hanging_dns_lookup_ends_at_the_deadline(monkeypatch):
    """A resolver that does not answer (here: 30 s) cannot hold a fetch past its deadline."""
    real = socket.getaddrinfo
    release = threading.Event()

    def hang(host, *a, **kw):
        if host == "slow-dns.example":
            release.wait(30)
        return real("127.0.0.1", *a, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", hang)
    try:
        t0 = time.monotonic()
        with pytest.raises(FeedError, match="did not resolve within") as e:
            fetch("http://slow-dns.example/feed.xml", 1_000_000, timeout=2, allow_private=True)
        took = time.monotonic() - t0
    finally:
        release.set()
    assert 1.5 <= took <= 4, took
    assert "\n" not in str(e.value) and "slow-dns.example" in str(e.value)


@pytest.mark.slow
def test_a_slow_drip_feed_ends_at_the_default_deadline():
    d = Drip("headers")
    try:
        t0 = time.monotonic()
        arts, skipped = load_articles([d.url], allow_private=True)
        took = time.monotonic() - t0
    finally:
        d.close()
    assert not arts and "within 20 s" in skipped[0].reason
    assert feeds.FETCH_TIMEOUT - 2 <= took <= feeds.FETCH_TIMEOUT + 2, took


class Web:
    """An http.server on `host` (a loopback address) with fixed routes; counts every request."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, tuple[int, dict, bytes]] = {}
        self.hits: list[str] = []
        web = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                web.hits.append(self.path)
                status, headers, body = web.routes.get(self.path, (404, {}, b"not found"))
                self.send_response(status)
                for k, v in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.base = f"http://{host}:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


SECRET = b"<html><body><article><p>Interne pagina. Het geheime token is ZX-SECRET-4711 en blijft binnen.</p>" \
         b"<p>Meer interne tekst over de haven van Antwerpen en de schepen.</p></article></body></html>"


def _feed(link: str) -> bytes:
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>Bericht</title>'
            f'<link>{link}</link><description>Een korte samenvatting over de haven.</description>'
            f'</item></channel></rss>').encode()


@pytest.fixture
def internal():
    """The 'internal' service with a secret, on loopback."""
    w = Web("127.0.0.1")
    w.routes["/secret"] = (200, {"Content-Type": "text/html"}, SECRET)
    yield w
    w.close()


def test_addresses_that_are_not_public():
    for ip in ("127.0.0.1", "127.8.9.10", "::1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254",
               "fe80::1", "fc00::1", "100.64.0.1", "0.0.0.0", "::", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
               "224.0.0.1", "255.255.255.255"):
        assert not is_public_address(ip), ip
    for ip in ("93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"):
        assert is_public_address(ip), ip


def test_a_feed_item_linking_to_loopback_is_not_fetched(tmp_path, internal):
    for host in ("127.0.0.1", "localhost"):
        f = tmp_path / f"feed-{host}.xml"
        f.write_bytes(_feed(internal.base.replace("127.0.0.1", host) + "/secret"))
        arts, skipped = load_articles([f], fetch=True)
        assert [a.text for a in arts] == ["Een korte samenvatting over de haven."], arts  # the summary is kept
    assert internal.hits == []
    arts, _ = load_articles([f], fetch=True, allow_private=True)  # the explicit flag
    assert "ZX-SECRET-4711" in arts[0].text and internal.hits == ["/secret"]


def test_loopback_feed_urls_are_refused_without_the_flag(internal):
    internal.routes["/feed.xml"] = (200, {"Content-Type": "application/rss+xml"}, _feed("https://news.test/a"))
    for url in (internal.base + "/feed.xml", internal.base.replace("127.0.0.1", "localhost") + "/feed.xml"):
        arts, skipped = load_articles([url])
        assert not arts and "refused" in skipped[0].reason and "--allow-private" in skipped[0].reason
    assert internal.hits == []


@pytest.fixture
def public(monkeypatch):
    """A 'public' server: on 127.0.0.2, which the address check is told to take for a public one."""
    w = Web("127.0.0.2")
    real = feeds.is_public_address
    monkeypatch.setattr(feeds, "is_public_address", lambda ip: ip == "127.0.0.2" or real(ip))
    yield w
    w.close()


def test_redirects_to_internal_or_non_http_targets_are_refused_before_connecting(public, internal):
    ftp = socket.create_server(("127.0.0.1", 0))  # an "FTP server": counts connections
    ftp.settimeout(0.2)
    port = ftp.getsockname()[1]
    targets = {"/to-loopback": internal.base + "/secret",
               "/to-localhost": internal.base.replace("127.0.0.1", "localhost") + "/secret",
               "/to-ftp": f"ftp://127.0.0.1:{port}/secret", "/to-file": "file:///etc/passwd",
               "/to-metadata": "http://169.254.169.254/latest/meta-data/",
               "/hop": public.base + "/to-loopback"}  # refused at the second redirect
    for path, to in targets.items():
        public.routes[path] = (302, {"Location": to}, b"")
    for path in targets:
        with pytest.raises(FeedError) as e:
            fetch(public.base + path, 1_000_000)
        msg = str(e.value)
        assert "\n" not in msg and ("after a redirect" in msg or "not http(s)" in msg), (path, msg)
    assert internal.hits == []
    with pytest.raises(socket.timeout):
        ftp.accept()  # nobody connected: no "USER anonymous"
    ftp.close()
    # The same through a feed with --fetch: the item keeps its summary, nothing internal is stored.
    public.routes["/feed.xml"] = (200, {"Content-Type": "application/rss+xml"}, _feed(public.base + "/hop"))
    arts, _ = load_articles([public.base + "/feed.xml"], fetch=True)
    assert arts and all("ZX-SECRET" not in a.text for a in arts) and internal.hits == []


def test_a_public_redirect_is_followed(public):
    public.routes["/old"] = (301, {"Location": "/new"}, b"")
    public.routes["/new"] = (200, {"Content-Type": "text/plain"}, b"hier")
    assert fetch(public.base + "/old", 1000)[0] == b"hier"
    public.routes["/loop"] = (302, {"Location": "/loop"}, b"")
    with pytest.raises(FeedError, match="redirects"):
        fetch(public.base + "/loop", 1000)


def test_cli_fetch_stores_nothing_internal(tmp_path, internal, capsys):
    from qa.cli import main

    f = tmp_path / "feed.xml"
    f.write_bytes(_feed(internal.base + "/secret"))
    assert main(["index", str(f), "--fetch", "--index", str(tmp_path / "ix")]) == 0
    assert main(["search", "geheime token ZX-SECRET-4711", "--index", str(tmp_path / "ix"), "--json"]) == 0
    out = capsys.readouterr().out
    assert "ZX-SECRET" not in out.split('"passages"', 1)[1] and internal.hits == []
