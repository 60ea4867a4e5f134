"""Imports go one way: no cycle among the bot's modules, and no test imports a benchmark or another test."""

from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parents[2] / "bot"


def _module(path: Path) -> str:
    parts = path.relative_to(BOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, here: str, known: set[str]) -> set[str]:
    """The bot modules a file (module ``here``) imports anywhere in it: the top, a function, TYPE_CHECKING."""
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)  # "from bot import stats"
    return {m for m in found if m in known and m != here}


def graph() -> dict[str, set[str]]:
    """Each bot module and the bot modules it imports."""
    files = sorted(BOT.rglob("*.py"))
    known = {_module(f) for f in files}
    return {_module(f): imports(f, _module(f), known) for f in files}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every group of modules that import each other, round and round (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return out


def test_the_bot_has_no_import_cycle() -> None:
    found = cycles(graph())
    assert not found, "modules that import each other: " + "; ".join(" <-> ".join(c) for c in found)


def test_the_cycle_finder_finds_one() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_function_level_imports_are_seen(tmp_path: Path) -> None:
    f = tmp_path / "x.py"
    f.write_text("import os\n\ndef g():\n    from bot.store import Store\n    import bot.stats\n"
                 "    from . import text\n")
    known = {"bot.store", "bot.stats", "bot.text", "bot.x"}
    assert imports(f, "bot.x", known) == {"bot.store", "bot.stats", "bot.text"}


def forbidden_imports(path: Path) -> list[str]:
    """What a test file imports that it must not: a benchmark, a test module or the conftest."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "tests" if node.level else node.module or ""  # a relative import stays inside tests/
            found += [base, *(f"{base}.{a.name}" for a in node.names)]

    def bad(name: str) -> bool:
        parts = name.split(".")
        return parts[0] == "benchmarks" or (parts[0] == "tests" and any(
            p.startswith("test_") or p == "conftest" for p in parts))

    return sorted({name for name in found if bad(name)})


def test_no_test_imports_a_benchmark_or_another_test_module() -> None:
    # shared helpers live in tests/support, so a test module can be moved or deleted on its own;
    # benchmarks may use tests/support, never the other way round
    tests = Path(__file__).resolve().parents[1]
    offenders = [f"{path.relative_to(tests)}: {name}" for path in sorted(tests.rglob("*.py"))
                 for name in forbidden_imports(path)]
    assert not offenders, offenders


def test_the_forbidden_import_finder_finds_each_kind(tmp_path: Path) -> None:
    f = tmp_path / "test_x.py"
    f.write_text("import benchmarks.load\nfrom benchmarks import clinc150\nfrom tests.unit import test_cli\n"
                 "from tests.conftest import x\nfrom . import test_y\n"
                 "def g():\n    import tests.telegram.test_run\n"
                 "from tests.support.default import default_engine\nimport bot.engine\n")
    assert forbidden_imports(f) == ["benchmarks", "benchmarks.clinc150", "benchmarks.load", "tests.conftest",
                                    "tests.conftest.x", "tests.telegram.test_run", "tests.test_y",
                                    "tests.unit.test_cli"]
