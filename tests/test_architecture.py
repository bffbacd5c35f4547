"""The package's shape: the import graph of ``bayescale/`` has no cycle.

Edges come from parsing every module with ``ast`` (nothing is imported): module-level and
function-level imports both count (a function-level import only defers a cycle to the
first call), ``if TYPE_CHECKING:`` blocks do not (they never run). ``from pkg import x``
is an edge to the submodule ``pkg.x`` when ``x`` is one, else to ``pkg``'s ``__init__``.
Importing ``pkg.x`` also runs ``pkg/__init__``, which is not counted as an edge: a package
importing its own submodules is not a cycle, unless a submodule imports the package's own
names back. ``bayescale/__init__.py`` is a lazy table (PEP 562): it has no import
statements of its own (so no edges; any it gains count), and ``from bayescale import name``
is an edge to the module its ``_EXPORTS`` names, which that lookup imports.
"""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "bayescale"


def modules(root: Path) -> dict[str, Path]:
    """Dotted module name → file, for every ``.py`` file of the package at ``root``."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = (root.name, *path.relative_to(root).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def lazy_exports(init: Path) -> dict[str, str]:
    """Public name → module, from a lazy ``__init__``'s ``_EXPORTS = {module: (names)}``."""
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign)
            else []
        )
        if any(isinstance(t, ast.Name) and t.id == "_EXPORTS" for t in targets):
            table = ast.literal_eval(node.value)
            return {name: module for module, names in table.items() for name in names}
    return {}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _Imports(ast.NodeVisitor):
    """(imported module, names or None, relative level, line) for every import that runs."""

    def __init__(self):
        self.found = []

    def visit_If(self, node: ast.If):
        if _is_type_checking(node.test):
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import):
        self.found += [(alias.name, None, 0, node.lineno) for alias in node.names]

    def visit_ImportFrom(self, node: ast.ImportFrom):
        names = [alias.name for alias in node.names]
        self.found.append((node.module or "", names, node.level, node.lineno))


def import_graph(root: Path) -> dict[str, dict[str, str]]:
    """``{module: {imported module: 'file:line'}}`` among the modules of the package at
    ``root``, by the rules in this file's docstring."""
    mods = modules(root)
    top = root.name
    lazy = lazy_exports(root / "__init__.py")
    graph: dict[str, dict[str, str]] = {name: {} for name in mods}
    for name, path in mods.items():
        is_package = path.name == "__init__.py"
        visitor = _Imports()
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        for module, names, level, line in visitor.found:
            if level:  # relative: from the module's package, up level - 1 more
                base = name.split(".")
                base = base[: len(base) - level + (1 if is_package else 0)]
                module = ".".join(base + ([module] if module else []))
            if module != top and not module.startswith(top + "."):
                continue
            targets = []
            if names is None:  # import a.b.c: runs a, a.b and a.b.c; the edge is to a.b.c
                targets.append(module)
            else:
                for imported in names:
                    if f"{module}.{imported}" in mods:
                        targets.append(f"{module}.{imported}")  # a submodule
                    elif module == top and imported in lazy:
                        targets.append(lazy[imported])
                    else:
                        targets.append(module)
            where = f"{path.relative_to(root.parent)}:{line}"
            for target in targets:
                if target in mods and target != name:
                    graph[name].setdefault(target, where)
    return graph


def find_cycles(graph: dict[str, dict[str, str]]) -> list[list[str]]:
    """One cycle ``[a, b, ..., a]`` through each strongly connected component that has
    one (Tarjan's algorithm, iterative), in a stable order."""
    index, low, on_stack, stack, components = {}, {}, set(), [], []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(component)
    cycles = []
    for component in components:
        first = min(component)
        # shortest path back to ``first`` inside the component (breadth first)
        previous, frontier, found = {first: None}, [first], None
        while frontier and found is None:
            nxt = []
            for node in frontier:
                for child in sorted(graph[node]):
                    if child == first:
                        found = node
                        break
                    if child in component and child not in previous:
                        previous[child] = node
                        nxt.append(child)
                if found is not None:
                    break
            frontier = nxt
        path = []
        while found is not None:
            path.append(found)
            found = previous[found]
        cycles.append(path[::-1] + [first])
    return sorted(cycles)


def describe(graph, cycle: list[str]) -> str:
    return (
        " -> ".join(cycle)
        + "\n"
        + "\n".join(f"    {a} imports {b} at {graph[a][b]}" for a, b in itertools.pairwise(cycle))
    )


def test_bayescale_import_graph_has_no_cycle():
    graph = import_graph(PACKAGE)
    assert len(graph) > 20 and sum(map(len, graph.values())) > 20  # it found the package
    cycles = find_cycles(graph)
    assert not cycles, "import cycle(s) in bayescale/:\n" + "\n".join(
        describe(graph, c) for c in cycles
    )


# ------------------------------------------------------------ the checker on a toy package
def write_package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "toy" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "toy"


LAZY_INIT = '_EXPORTS = {"toy.a": ("run",), "toy.sub.c": ("C",)}\n'


@pytest.mark.parametrize(
    "files, cycles",
    [
        # no cycle: a package __init__ importing its submodules, which import each other; a
        # TYPE_CHECKING-guarded import back; the lazy top-level table
        (
            {
                "__init__.py": LAZY_INIT,
                "a.py": "from toy.sub import c\nfrom toy import b\n",
                "b.py": (
                    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from toy.a import x\n"
                ),
                "sub/__init__.py": "from toy.sub import c, d\n",
                "sub/c.py": "from toy.sub.d import D\n",
                "sub/d.py": "import math\n",
            },
            [],
        ),
        # a function-level import closes a cycle; so does a name resolved through the lazy table
        (
            {
                "__init__.py": LAZY_INIT,
                "a.py": "from toy import b\n",
                "b.py": "def f():\n    from toy import run\n",
            },
            [["toy.a", "toy.b", "toy.a"]],
        ),
        # a submodule importing its package's own names back, relative imports included
        (
            {
                "__init__.py": LAZY_INIT,
                "sub/__init__.py": "from . import c\nVALUE = 1\n",
                "sub/c.py": "from . import VALUE\n",
            },
            [["toy.sub", "toy.sub.c", "toy.sub"]],
        ),
        # an eager import in the top-level __init__ counts: a module importing a name back
        (
            {
                "__init__.py": LAZY_INIT + "from toy.a import run\nVERSION = 1\n",
                "a.py": "from toy import VERSION\n",
            },
            [["toy", "toy.a", "toy"]],
        ),
        # the else branch of a TYPE_CHECKING test runs; a longer cycle is reported in order
        (
            {
                "__init__.py": LAZY_INIT,
                "a.py": "import toy.b\n",
                "b.py": "from toy.sub.c import C\n",
                "sub/__init__.py": "",
                "sub/c.py": "import typing\nif typing.TYPE_CHECKING:\n    pass\nelse:\n"
                "    from toy.a import run\n",
            },
            [["toy.a", "toy.b", "toy.sub.c", "toy.a"]],
        ),
    ],
)
def test_cycle_finder_on_a_toy_package(tmp_path, files, cycles):
    graph = import_graph(write_package(tmp_path, files))
    assert find_cycles(graph) == cycles, graph


def test_every_module_imports_first():
    """The graph above does not count a package's ``__init__``, which Python runs before
    any of its submodules: each module, imported first in a fresh interpreter, must load
    (``bayescale.optimum`` once failed this way through ``bayescale.laws``' own laws)."""
    import subprocess
    import sys

    names = sorted(n for n in modules(PACKAGE) if not n.endswith("__main__"))
    # the PyMC front end's modules need the optional pymc extra; without it they may only
    # fail for want of it
    optional = ("pymc", "pytensor", "nutpie")
    script = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    for loaded in [m for m in sys.modules if m.split('.')[0] == 'bayescale']:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ModuleNotFoundError as err:\n"
        f"        if err.name.split('.')[0] not in {optional!r}:\n"
        "            raise\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
