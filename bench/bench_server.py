"""HTTP server benchmark: login guessing rate with and without the throttle, API latency, and
what an oversized request costs.

    python bench/bench_server.py [--seconds 5]

Starts `qa.web.server.serve` in this process (uvicorn in a thread) on a temporary copy of the seed
index, with a login, and hammers it from one client over one keep-alive connection.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

USER, PASSWORD = "alice", "correct horse"


def guess_rate(url: str, seconds: float) -> tuple[float, int, int]:
    """Wrong-password logins for `seconds`: (passwords checked per second, checked, refused with 429)."""
    import httpx

    checked = refused = 0
    with httpx.Client(base_url=url, timeout=30) as c:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            r = c.post("/login", data={"username": USER, "password": f"guess{checked + refused}"})
            if r.status_code == 429:
                refused += 1
            else:
                checked += 1
        took = time.perf_counter() - t0
    return checked / took, checked, refused


def main() -> int:
    import httpx

    from qa import Index, load_articles
    from qa.web.server import Security, serve

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "index"
        idx = Index(index)
        idx.add(load_articles([ROOT / "seeds"])[0])
        idx.save()
        print(f"index: {len(idx.articles())} articles, {len(idx)} chunks; {os.cpu_count()} cores")
        for throttle in (False, True):
            running = serve(index, port=0, security=Security(auth=(USER, PASSWORD), throttle_logins=throttle))
            try:
                rate, checked, refused = guess_rate(running.url, args.seconds)
            finally:
                running.close()
            print(f"login guesses, throttle {'on ' if throttle else 'off'}: {rate:8.1f} passwords checked/s "
                  f"({checked} checked, {refused} refused with 429 in {args.seconds:.0f} s)")

        running = serve(index, port=0)
        try:
            with httpx.Client(base_url=running.url, timeout=60) as c:
                qs = ["Which countries were involved?", "Wie leidde de actie?", "Which news agency was the target?"]
                c.post("/api/ask", json={"question": qs[0]})  # warm-up
                lat = []
                for i in range(30):
                    t = time.perf_counter()
                    assert c.post("/api/ask", json={"question": qs[i % 3]}).status_code == 200
                    lat.append(time.perf_counter() - t)
                print(f"POST /api/ask, one client: p50 {statistics.median(lat) * 1000:.0f} ms, "
                      f"p95 {sorted(lat)[int(len(lat) * 0.95) - 1] * 1000:.0f} ms")
                lat = []
                for i in range(10):
                    t = time.perf_counter()
                    assert c.post("/v1/chat/completions", json={"model": "qa", "messages": [
                        {"role": "user", "content": qs[i % 3]}]}).status_code == 200
                    lat.append(time.perf_counter() - t)
                print(f"POST /v1/chat/completions: p50 {statistics.median(lat) * 1000:.0f} ms")

                def ask(q: str) -> tuple[int, float]:
                    t = time.perf_counter()
                    r = httpx.post(running.url + "api/ask", json={"question": q}, timeout=120)
                    return r.status_code, time.perf_counter() - t

                t = time.perf_counter()
                with ThreadPoolExecutor(40) as pool:
                    res = list(pool.map(ask, [qs[i % 3] for i in range(40)]))
                codes = {s: sum(1 for x, _ in res if x == s) for s in {x for x, _ in res}}
                print(f"40 questions at once: {codes} in {time.perf_counter() - t:.1f} s, "
                      f"slowest {max(d for _, d in res):.2f} s")
                big = b'{"question": "' + b"x" * (8 * 1024 * 1024) + b'"}'
                t = time.perf_counter()
                r = c.post("/api/ask", content=big, headers={"content-type": "application/json"})
                print(f"8 MB request body: HTTP {r.status_code} in {(time.perf_counter() - t) * 1000:.0f} ms")
        finally:
            running.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
