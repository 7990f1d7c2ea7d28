"""Disk full and read-only index folders: the CLI says so in one line and exits 2, and the index
keeps its last committed state (issue 19, item 11, CLI part)."""
import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from qa import Index
import qa.index.store


def _src(tmp_path: Path, name: str, sentences: int = 3) -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / f"{name}.txt").write_text(f"Bericht {name}\n\n" + " ".join(
        f"De haven van {name}dorp ontving {i} schepen uit Canada." for i in range(sentences)), "utf-8")
    return d


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_a_failing_write_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch, err):
    from qa.cli import main

    ix = tmp_path / "ix"
    assert main(["index", str(_src(tmp_path, "eerste")), "--index", str(ix)]) == 0
    capsys.readouterr()
    real_open = open

    def full(file, mode="r", *a, **k):  # every file the store writes fails as the disk would
        if "w" in mode:
            raise OSError(err, os.strerror(err), str(file))
        return real_open(file, mode, *a, **k)

    monkeypatch.setattr(qa.index.store, "open", full, raising=False)
    code = main(["index", str(_src(tmp_path, "tweede")), "--index", str(ix)])
    err_out = capsys.readouterr().err
    assert code == 2 and len(err_out.strip().splitlines()) == 1 and "Traceback" not in err_out, err_out
    assert os.strerror(err) in err_out and "last committed state" in err_out
    monkeypatch.undo()
    assert [a.id for a in Index.load(ix).articles()] == ["eerste.txt"]
    assert not [n for n in os.listdir(ix) if n.startswith("tmp-")]  # nothing half-written left behind


def _qa(*args):
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "qa", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)




def test_a_really_full_disk_is_one_line_and_exit_2(tmp_path, tmpfs):
    mnt, mount = tmpfs
    mount("size=160k")
    first = _qa("index", _src(tmp_path, "eerste"), "--index", mnt / "ix")
    assert first.returncode == 0, first.stderr
    r = _qa("index", _src(tmp_path, "tweede", 400), "--index", mnt / "ix")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr
    assert "No space left on device" in r.stderr
    listed = _qa("list", "--index", mnt / "ix")
    assert listed.returncode == 0 and "eerste.txt" in listed.stdout and "tweede" not in listed.stdout


def test_a_read_only_index_is_one_line_and_exit_2_and_still_searchable(tmp_path, tmpfs):
    mnt, mount = tmpfs
    mount("size=8m")
    assert _qa("index", _src(tmp_path, "eerste"), "--index", mnt / "ix").returncode == 0
    mount("remount", "ro")
    for args in (["index", _src(tmp_path, "tweede")], ["remove", "eerste.txt"], ["compact"]):
        r = _qa(*args, "--index", mnt / "ix")
        if args[0] == "compact" and r.returncode == 0:
            continue  # one segment: nothing to merge, nothing written
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr, \
            (args, r.stderr)
        assert "Read-only file system" in r.stderr, r.stderr
    s = _qa("search", "schepen uit Canada", "--index", mnt / "ix")  # readers take no lock
    assert s.returncode == 0 and "eerste" in s.stdout, s.stderr
