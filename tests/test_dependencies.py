"""Security floors: pyproject's `>=` floors and requirements.lock are at or above the fixed versions
that docs/dependencies.md names (the offline half of a dependency audit)."""
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _version(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", v.split("+")[0])[:4])


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def fixed_versions() -> dict[str, str]:
    rows = re.findall(r"^\| *([A-Za-z0-9_.-]+) *\| *([0-9][0-9.]*) *\|", (ROOT / "docs/dependencies.md").read_text(), re.M)
    return {_norm(name): v for name, v in rows}


def floors() -> dict[str, str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    out = {}
    for d in deps:
        m = re.match(r"([A-Za-z0-9_.-]+)(?:\[[^]]*\])?\s*(?:>=|==)\s*([0-9][^,;\s]*)", d)
        if m:
            out[_norm(m.group(1))] = m.group(2)
    return out


def test_the_docs_name_fixed_versions() -> None:
    fixed = fixed_versions()
    assert {"gradio", "starlette", "fastapi", "python-multipart"} <= set(fixed)


def test_pyproject_floors_are_at_or_above_the_fixed_versions() -> None:
    fixed, have = fixed_versions(), floors()
    low = {n: (have.get(n), v) for n, v in fixed.items() if n not in have or _version(have[n]) < _version(v)}
    assert not low, f"pyproject.toml floors below the fixed versions of docs/dependencies.md (floor, fixed): {low}"


def test_lock_is_at_or_above_the_fixed_versions() -> None:
    lock = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, v = line.split("==", 1)
            lock[_norm(name)] = v.strip()
    fixed = fixed_versions()
    low = {n: (lock.get(n), v) for n, v in fixed.items() if n not in lock or _version(lock[n]) < _version(v)}
    assert not low, f"requirements.lock below the fixed versions of docs/dependencies.md (locked, fixed): {low}"


def test_the_check_catches_a_low_floor() -> None:
    assert _version("0.0.31") < _version("0.0.32") and _version("6.9") < _version("6.16")
