"""The rooms of docs/architecture.md hold: shells enter the solver by its one door,
dependencies point one way, no module imports another that imports it back, and
the verifier shares no code with the solver (issue: the house)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import wopmatch.solver

ROOT = Path(__file__).resolve().parent.parent
SHELLS = ("wopmatch.cli", "wopmatch.service", "wopmatch.scenarios", "wopmatch.bench", "wopmatch.reports")


class Tree:
    """The modules of a package tree and what each imports."""

    def __init__(self, package_dir: Path) -> None:
        self.base = package_dir.parent
        self.paths = {self._name(p): p for p in sorted(package_dir.rglob("*.py"))}

    def _name(self, path: Path) -> str:
        parts = path.relative_to(self.base).with_suffix("").parts
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    def imports(self, name: str) -> list[tuple[int, str, list[str]]]:
        """(line, module, names imported from it) of every import of the tree's
        package in module ``name``, at any depth (inside functions too), relative
        ones resolved."""
        path = self.paths[name]
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        root = name.split(".")[0]
        out = []
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                out += [(node.lineno, a.name, []) for a in node.names if a.name.split(".")[0] == root]
            elif isinstance(node, ast.ImportFrom):
                target = node.module or ""
                if node.level:
                    parts = package.split(".")
                    target = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
                if target.split(".")[0] == root:
                    out.append((node.lineno, target, [a.name for a in node.names]))
        return out

    def edges(self, name: str) -> set[str]:
        """The modules ``name`` imports (a name imported from a package that is one of its modules counts as it)."""
        out = set()
        for _, target, names in self.imports(name):
            subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in self.paths]
            out.update(subs)
            if len(subs) < len(names) or not names:
                out.add(target)
        return out - {name}

    def door_violations(self, shells: tuple[str, ...], solver: str, public: set[str]) -> list[str]:
        bad = []
        for name in self.paths:
            if not name.startswith(shells):
                continue
            for line, target, names in self.imports(name):
                where = f"{name}:{line}"
                if target.startswith(solver + "."):
                    bad.append(f"{where} imports {target} (a room of the solver, not its door)")
                elif target == solver:
                    bad += [f"{where} imports {n} from {solver}, which is not public" for n in names
                            if n not in public]
        return bad

    def cycles(self) -> list[list[str]]:
        graph = {name: self.edges(name) for name in self.paths}
        found: list[list[str]] = []
        state: dict[str, int] = {}  # 1: on the path, 2: done
        path: list[str] = []

        def visit(node: str) -> None:
            state[node] = 1
            path.append(node)
            for nxt in sorted(graph.get(node, ())):
                if state.get(nxt) == 1:
                    found.append(path[path.index(nxt):] + [nxt])
                elif nxt not in state:
                    visit(nxt)
            path.pop()
            state[node] = 2

        for name in sorted(graph):
            if name not in state:
                visit(name)
        return found


TREE = Tree(Path(wopmatch.solver.__file__).resolve().parent.parent)


def test_shells_use_only_the_solvers_public_names():
    bad = TREE.door_violations(SHELLS, "wopmatch.solver", set(wopmatch.solver.__all__))
    assert not bad, "\n".join(bad)


def test_shells_solve_through_the_python_api_and_use_no_private_name():
    """The command line, the service, sweeps and the bench solve with ``wopmatch.api.solve``
    (so the Python API stays complete), and take no ``_name`` from another package."""
    bad = []
    for name in TREE.paths:
        if not name.startswith(SHELLS):
            continue
        own = ".".join(name.split(".")[:2])
        for line, target, names in TREE.imports(name):
            if target == "wopmatch.solver" and "solve" in names:
                bad.append(f"{name}:{line} solves with wopmatch.solver.solve, not wopmatch.api.solve")
            if not target.startswith(own):
                bad += [f"{name}:{line} imports the private {n} from {target}" for n in names
                        if n.startswith("_") and n != "__version__"]
    assert not bad, "\n".join(bad)
    solvers = [name for name in TREE.paths if name.startswith(SHELLS)
               and any(t == "wopmatch.api" and "solve" in n for _, t, n in TREE.imports(name))]
    assert {s.split(".")[1] for s in solvers} >= {"cli", "service", "scenarios", "bench"}, solvers


def test_every_public_name_is_documented():
    missing = [n for n in wopmatch.solver.__all__
               if callable(getattr(wopmatch.solver, n)) and not (getattr(wopmatch.solver, n).__doc__ or "").strip()]
    assert not missing, f"public names without a docstring: {missing}"


#: The shells that enter through the Python API (reports render for it, below it).
ENTRY_SHELLS = tuple(s for s in SHELLS if s != "wopmatch.reports")


@pytest.mark.parametrize("lower,upper", [("wopmatch.models", ("wopmatch.solver", "wopmatch.api", *SHELLS)),
                                         ("wopmatch.solver", ("wopmatch.api", *SHELLS)),
                                         ("wopmatch.reports", ("wopmatch.api", *ENTRY_SHELLS)),
                                         ("wopmatch.api", ENTRY_SHELLS)])
def test_dependencies_point_one_way(lower, upper):
    """models <- solver <- reports <- the Python API <- the other shells: a lower layer never
    imports a higher one."""
    bad = [f"{name} imports {t}" for name in TREE.paths if name.startswith(lower)
           for t in TREE.edges(name) if t.startswith(upper)]
    assert not bad, "\n".join(bad)


def test_the_verifier_shares_no_code_with_the_solver():
    edges = TREE.edges("wopmatch.solver.verify")
    assert edges and all(t.startswith("wopmatch.models") for t in edges), edges


def test_no_import_cycles():
    cycles = TREE.cycles()
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_the_scans_find_a_deep_import_a_private_name_and_a_cycle(tmp_path):
    """On a made-up tree with each fault, the same scans report it."""
    pkg = tmp_path / "pkg"
    for folder in ("cli", "solver", "solver/graph"):
        (pkg / folder).mkdir(parents=True)
        (pkg / folder / "__init__.py").write_text("")
    (pkg / "solver" / "__init__.py").write_text("from .api import solve\n__all__ = ['solve']\n")
    (pkg / "solver" / "api.py").write_text("from .graph import encoding\n\ndef solve():\n    'x'\n")
    (pkg / "solver" / "graph" / "encoding.py").write_text("def f():\n    from ..api import solve\n")
    (pkg / "cli" / "main.py").write_text("from ..solver import solve, _private\nfrom ..solver.graph import encoding\n")
    tree = Tree(pkg)
    bad = tree.door_violations(("pkg.cli",), "pkg.solver", {"solve"})
    assert any("_private" in b for b in bad) and any("pkg.solver.graph" in b for b in bad), bad
    assert tree.cycles() == [["pkg.solver.api", "pkg.solver.graph.encoding", "pkg.solver.api"]]


#: The solver's rooms from the bottom up (docs/architecture.md): each imports only
#: its own room, rooms below it, and the leaves every room may use.
ROOMS = [("graph",), ("network", "heuristics"), ("donors",), ("policies",), ("postsolve",),
         ("options", "rounds", "api", "")]
LEAVES = {"children", "errors", "interrupt", "progress", "tuning", "verify"}


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[2] if len(parts) > 2 else ""


def test_the_solvers_rooms_depend_one_way():
    rank = {room: k for k, rooms in enumerate(ROOMS) for room in rooms}
    bad = []
    for name in TREE.paths:
        if not name.startswith("wopmatch.solver") or _room(name) in LEAVES:
            continue
        for target in TREE.edges(name):
            if target.startswith("wopmatch.solver") and _room(target) not in LEAVES \
                    and rank[_room(target)] > rank[_room(name)]:
                bad.append(f"{name} ({_room(name)}) imports {target} ({_room(target)}), a room above it")
    assert not bad, "\n".join(bad)


def test_importing_the_models_does_not_load_the_solver():
    """``import wopmatch`` loads the Python API on first use only: a service job caps its
    memory after importing the models and before the solver (service/job.py)."""
    import subprocess
    import sys

    code = ("import sys, wopmatch.models, wopmatch.service.job; "
            "print(sorted(m for m in sys.modules if m.startswith(('wopmatch.solver', 'wopmatch.api', 'ortools'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out
    import wopmatch

    assert callable(wopmatch.solve) and "solve" in dir(wopmatch) and "solve" in wopmatch.__all__


def test_the_donor_room_is_entered_by_one_door_and_reads_top_to_bottom():
    """Outside solver/donors/ nothing imports its modules, only the package; the room
    stays about 1,800 lines, no function over 80 (issue 29)."""
    bad = [f"{name} imports {target}" for name in TREE.paths if not name.startswith("wopmatch.solver.donors")
           for target in TREE.edges(name) if target.startswith("wopmatch.solver.donors.")]
    assert not bad, "\n".join(bad)
    room = sorted((ROOT / "wopmatch" / "solver" / "donors").glob("*.py"))
    lines = sum(len(p.read_text().splitlines()) for p in room)
    assert lines <= 1_850, lines
    long = []
    for path in room:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 80:
                long.append(f"{path.name}:{node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert not long, long


def test_no_test_reads_log_lines_or_positional_arguments():
    """Tests check behaviour: what a solve returns, writes or refuses, not what it logged or how
    a function was called (a log line or argument order can change with the answer intact)."""
    import re

    own = Path(__file__).name
    reads = re.compile(r"caplog|call_args|mock_calls|\bargs\[\d")  # a spy's positional argument by index
    hits = [f"{p.name}: {m.group()}" for p in (ROOT / "tests").glob("test_*.py") if p.name != own
            for m in reads.finditer(p.read_text())]
    assert not hits, hits
