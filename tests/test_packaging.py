"""Packaging: the wheel holds the code, the package data and the seed articles; the installed
package works from any folder; the default index location."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT, SEEDS

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python < 3.11
    tomllib = None


def _build_wheel(dest: Path) -> Path:
    """Build the wheel from a copy of the source tree (the build must not litter the checkout)."""
    src = dest / "src"
    def ignore(folder: str, names: list[str]) -> set[str]:
        skip = {n for n in names if n in ("__pycache__", ".pytest_cache", "node_modules") or n.endswith(".egg-info")}
        if Path(folder) == ROOT:  # the checkout's venv, git data, indexes and build leftovers
            skip |= {n for n in names if n in (".venv", ".git", "index", "build") or n.startswith("index.")}
        return skip

    shutil.copytree(ROOT, src, symlinks=True, ignore=ignore)
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(dest / "dist"), str(src)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    (wheel,) = (dest / "dist").glob("*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    return _build_wheel(tmp_path_factory.mktemp("wheel"))


def test_wheel_holds_code_seeds_and_package_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    # every module of every wing, and every data file shipped next to the code (weights, JSON, .npz,
    # the chat page's files), however deep
    for f in (ROOT / "qa").rglob("*"):
        if f.is_file() and f.suffix in (".py", ".json", ".npz", ".js", ".css", ".html") \
                and "__pycache__" not in f.parts and "seeds" not in f.relative_to(ROOT / "qa").parts:
            assert f"qa/{f.relative_to(ROOT / 'qa').as_posix()}" in names, f
    for static in ("chat.js", "chat.css", "chat.html", "settings.html"):
        assert f"qa/web/static/{static}" in names, static
    seeds = sorted(p for p in SEEDS.rglob("*") if p.is_file())
    assert seeds
    with zipfile.ZipFile(wheel) as z:
        for s in seeds:
            assert z.read(f"qa/seeds/{s.relative_to(SEEDS).as_posix()}") == s.read_bytes()
        meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = z.read(meta).decode()
        entry = z.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert "qa = qa.cli:main" in entry
    import qa

    assert f"Version: {qa.__version__}" in metadata
    for req in ("torch==2.13.0", "gradio<7,>=6.16", "starlette<2,>=1.0.1", "python-multipart<0.1,>=0.0.32"):
        assert f"Requires-Dist: {req}" in metadata, req
    assert "Provides-Extra: test" in metadata and "Provides-Extra: ray" in metadata
    assert 'Requires-Dist: openai>=1.40; extra == "test"' in metadata


@pytest.mark.skipif(tomllib is None, reason="needs tomllib")
def test_requirements_txt_installs_the_package_with_its_test_extras():
    spec = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert spec["project"]["scripts"] == {"qa": "qa.cli:main"}
    assert "torch==2.13.0" in spec["project"]["dependencies"]
    reqs = [x.strip() for x in (ROOT / "requirements.txt").read_text().splitlines()
            if x.strip() and not x.startswith("#")]
    assert reqs == ["-e .[test,ray]"]  # the tests run the Ray path too
    assert "pip install -q -e '.[test,ray]'" in (ROOT / "Makefile").read_text()


@pytest.mark.slow
def test_installed_wheel_works_from_an_empty_folder(wheel, tmp_path):
    """The wheel unpacked on its own (dependencies from this venv), run from a folder with no
    checkout: `qa index ARTICLES --index idx`, `qa ask --json`, and a first `qa ask` without any
    index answers from the packaged seed article (built in the per-user data folder)."""
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "-q", "--target",
                        str(target), str(wheel)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    empty = tmp_path / "empty"
    (empty / "articles").mkdir(parents=True)
    shutil.copy(next(SEEDS.glob("*.txt")), empty / "articles" / "story.txt")
    env = {**os.environ, "PYTHONPATH": str(target), "XDG_DATA_HOME": str(tmp_path / "data")}
    env.pop("QA_INDEX", None)

    def qa(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "qa", *args], cwd=empty, env=env, capture_output=True,
                              text=True, timeout=300)

    v = qa("--version")
    assert v.returncode == 0 and v.stdout.startswith("qa ")
    r = qa("index", "articles", "--index", "idx")
    assert r.returncode == 0 and "added 1" in r.stdout, r.stderr
    r = qa("ask", "Which countries were involved?", "--index", "idx", "--json")
    assert r.returncode == 0 and '"found": true' in r.stdout and "Canada" in r.stdout, r.stderr
    r = qa("ask", "Wie leidde de actie?")
    assert r.returncode == 0 and "parket" in r.stdout, r.stderr
    assert (tmp_path / "data" / "qa" / "index" / "manifest.json").is_file()
    assert str(target / "qa" / "seeds") in r.stderr  # built from the packaged seeds
    assert not (empty / "index").exists()


def test_default_index_location(tmp_path, monkeypatch):
    from qa.index.default import default_index_path, user_data_dir

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QA_INDEX", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    if sys.platform.startswith("linux"):
        assert default_index_path() == tmp_path / "data" / "qa" / "index" == user_data_dir() / "index"
    (tmp_path / "seeds").mkdir()  # a project folder (a checkout has seeds/)
    assert default_index_path() == Path("index")
    monkeypatch.setenv("QA_INDEX", str(tmp_path / "elsewhere"))
    assert default_index_path() == tmp_path / "elsewhere"
