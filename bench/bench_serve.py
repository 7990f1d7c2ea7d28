"""Web chat start-up benchmark: seconds from `python -m qa serve` to a page that answers 200.

    python bench/bench_serve.py [--index DIR] [--runs 3]

Uses an existing index (a temporary copy of DIR, default index/; built from seeds/ first if
missing), so it measures start-up, not indexing. Also reports the first and a warm `/ask`
answer through gradio_client, i.e. what the first user waits for.
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_run(index: Path, timeout: float = 120.0) -> dict:
    import httpx

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "qa", "serve", "--index", str(index), "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        ready = None
        while time.perf_counter() - t0 < timeout:
            if proc.poll() is not None:
                raise SystemExit(f"serve exited with {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    ready = time.perf_counter() - t0
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        if ready is None:
            raise SystemExit(f"no page after {timeout:.0f} s")
        from gradio_client import Client

        client = Client(url, verbose=False)
        t1 = time.perf_counter()
        client.predict("Which countries were involved?", api_name="/ask")
        first = time.perf_counter() - t1
        t2 = time.perf_counter()
        client.predict("Wie leidde de actie?", api_name="/ask")
        warm = time.perf_counter() - t2
        return {"ready": ready, "first_answer": first, "warm_answer": warm}
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=Path, default=ROOT / "index")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "index"
        if (args.index / "manifest.json").exists():
            shutil.copytree(args.index, index)
        else:
            from qa import Index, load_articles

            idx = Index(index)
            idx.add(load_articles([ROOT / "seeds"])[0])
            idx.save()
        from qa import Index

        n = Index.load(index)
        print(f"index: {len(n.articles())} articles, {len(n)} chunks; {os.cpu_count()} cores; {args.runs} runs")
        runs = [one_run(index) for _ in range(args.runs)]
    for key, label in (("ready", "serve start -> page 200"), ("first_answer", "first /ask answer"),
                       ("warm_answer", "next /ask answer")):
        xs = [r[key] for r in runs]
        print(f"{label:<26} median {statistics.median(xs):6.2f} s   min {min(xs):6.2f} s   max {max(xs):6.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
