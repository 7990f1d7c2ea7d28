"""The package's shape: four wings whose imports run one way, no import circle, no module over 700 lines.

Every import in qa/ is read with `ast`, the ones inside functions too (a lazy import is still a
dependency). Order: limits < ingest < index < answers < web; the top level (cli, api, evaluate,
__init__, __main__) may import anything, and nothing below it may import it (except
`from qa import __version__`).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

QA = Path(__file__).resolve().parent.parent / "qa"
RANK = {"limits": 0, "ingest": 1, "index": 2, "answers": 3, "web": 4}
TOP = 5  # cli, api, evaluate, __init__, __main__


def module_name(path: Path) -> str:
    parts = list(path.relative_to(QA.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(QA.rglob("*.py")) if "seeds" not in p.relative_to(QA).parts}


def rank(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:  # the package itself
        return TOP
    return RANK.get(parts[1], TOP)


def imports(name: str, path: Path, known: set[str]) -> list[tuple[str, int, tuple[str, ...]]]:
    """(imported qa module, line, names imported from it) for every import of a qa module in `path`."""
    is_pkg = path.name == "__init__.py"
    here = name.split(".") if is_pkg else name.split(".")[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno, ()) for a in node.names if a.name.split(".")[0] == "qa"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[:len(here) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "qa":
                continue
            names = tuple(a.name for a in node.names)
            # `from qa.web import server`: the names may be modules themselves
            subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in known]
            if subs:
                out += [(s, node.lineno, ()) for s in subs]
            else:
                out.append((target, node.lineno, names))
    return out


def graph() -> dict[str, list[tuple[str, int, tuple[str, ...]]]]:
    mods = modules()
    return {name: imports(name, path, set(mods)) for name, path in mods.items()}


def test_every_import_names_a_module_that_exists():
    mods = modules()
    missing = [f"{m} line {line}: {t}" for m, edges in graph().items() for t, line, _ in edges if t not in mods]
    assert not missing, missing


def test_imports_run_one_way():
    wrong = []
    for m, edges in graph().items():
        for target, line, names in edges:
            if target == "qa" and names == ("__version__",):
                continue  # the version string; qa is loaded before any of its modules anyway
            if rank(target) > rank(m):
                wrong.append(f"{m} (line {line}) imports {target}")
    assert not wrong, "imports must run web -> answers -> index -> ingest -> limits:\n" + "\n".join(wrong)


def test_limits_imports_no_wing():
    assert [t for t, _, _ in graph()["qa.limits"]] == []


def test_no_import_circle():
    g = {m: sorted({t for t, _, names in edges if not (t == "qa" and names == ("__version__",))})
         for m, edges in graph().items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for t in g.get(m, []):
            if state.get(t) == 1:
                return path[path.index(t):] + [t]
            if t not in state and (cycle := visit(t)):
                return cycle
        path.pop()
        state[m] = 2
        return None

    for m in g:
        if m not in state and (cycle := visit(m)):
            pytest.fail("import circle: " + " -> ".join(cycle))


def test_the_check_sees_a_circle_and_an_upward_import(tmp_path):
    """The walker itself: a lazy import inside a function counts."""
    src = tmp_path / "mod.py"
    src.write_text("def f():\n    from ..web import server\n    from .. import limits\n")
    edges = imports("qa.ingest.mod", src, {"qa.web.server", "qa.limits"})
    assert [(t, line) for t, line, _ in edges] == [("qa.web.server", 2), ("qa.limits", 3)]
    assert rank("qa.web.server") > rank("qa.ingest.mod") > rank("qa.limits")


def test_no_module_over_700_lines():
    long = {str(p.relative_to(QA)): n for p in QA.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 700}
    assert not long, long


def test_the_wings_are_there():
    for wing in RANK:
        if wing != "limits":
            assert (QA / wing / "__init__.py").is_file(), wing
    assert sorted(p.name for p in QA.glob("*.py")) == ["__init__.py", "__main__.py", "api.py", "cli.py",
                                                      "evaluate.py", "limits.py"]
