"""The package layering of ARCHITECTURE.md, checked on the source with ``ast``.

Every ``import``/``from ... import`` in ``reliableswap/`` and ``supervision/`` counts, including the
lazy ones inside functions (they create the same coupling). Rules:

1. a subpackage of ``reliableswap`` imports only from its own layer or lower ones (:data:`LAYERS`);
2. ``reliableswap`` never imports ``supervision`` (the triplet builder builds on the library), except
   ``reliableswap.app``, the web demo, which sits on top of both (its Triplet tab runs the builder);
3. ``reliableswap.inference`` and ``reliableswap.evaluation`` never import each other;
4. the graph of packages has no cycle.

A new subpackage must be given a layer here, which is the moment to decide where it belongs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: Layer of each unit (``reliableswap.<sub>`` or a top-level package); lower layers never import higher ones.
LAYERS: dict[str, int] = {
    "reliableswap": 0,  # the package's own __init__
    "reliableswap.paths": 0,
    "reliableswap.weights": 0,
    "reliableswap.manifests": 0,
    "reliableswap.config": 0,
    "reliableswap.io": 0,
    "reliableswap.faces": 1,
    "reliableswap.models": 1,
    "reliableswap.losses": 1,
    "reliableswap.data": 2,
    "reliableswap.swapping": 2,
    "reliableswap.inference": 3,
    "reliableswap.evaluation": 3,
    "reliableswap.lightning": 3,
    "reliableswap.apps": 4,
    "supervision": 5,
    "reliableswap.app": 6,  # the web demo: swapping (inference) and one triplet (supervision) in one page
}

#: Units of ``reliableswap`` allowed to import ``supervision`` (they sit above it).
ABOVE_SUPERVISION = {"reliableswap.app"}

#: Pairs of units that must not import each other in either direction, though on one layer.
SIDE_BY_SIDE = [("reliableswap.inference", "reliableswap.evaluation")]


def unit_of(module: str) -> str | None:
    """``reliableswap.faces.scrfd`` -> ``reliableswap.faces``; other top-level packages -> None."""
    parts = module.split(".")
    if parts[0] == "supervision":
        return "supervision"
    if parts[0] != "reliableswap":
        return None
    return "reliableswap" if len(parts) == 1 else f"reliableswap.{parts[1]}"


def module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported_modules(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in one file, relative imports resolved.

    ``from pkg import name`` counts as an import of ``pkg.name`` too (``name`` may be a
    subpackage: ``from reliableswap import apps``), and ``importlib.import_module("x.y")`` /
    ``__import__("x.y")`` with a literal name count as imports of ``x.y``.
    """
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.append((node.lineno, name))
            found += [(node.lineno, f"{name}.{alias.name}") for alias in node.names if alias.name != "*"]
        elif isinstance(node, ast.Call) and _is_dynamic_import(node.func) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.append((node.lineno, first.value))
    return found


def _is_dynamic_import(func: ast.expr) -> bool:
    if isinstance(func, ast.Attribute):
        return func.attr == "import_module"
    return isinstance(func, ast.Name) and func.id in {"import_module", "__import__"}


def unit_edges(root: Path, packages: tuple[str, ...] = ("reliableswap", "supervision")) -> list[tuple[str, str, str]]:
    """(importing unit, imported unit, 'file:line') for every import between different units."""
    edges = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            module = module_name(path, root)
            src = unit_of(module)
            for line, name in imported_modules(path, module):
                dst = unit_of(name)
                if dst is not None and src is not None and dst != src:
                    edges.append((src, dst, f"{path.relative_to(root)}:{line}"))
    return edges


def violations(edges: list[tuple[str, str, str]]) -> list[str]:
    """Human-readable breaches of the four rules (empty when the tree is layered)."""
    out = []
    for src, dst, where in edges:
        if src not in LAYERS or dst not in LAYERS:
            out.append(f"{where}: {src} -> {dst}: unit without a layer (add it to LAYERS)")
            continue
        if src.startswith("reliableswap") and dst == "supervision" and src not in ABOVE_SUPERVISION:
            out.append(f"{where}: reliableswap must not import supervision ({src} -> {dst})")
        elif LAYERS[dst] > LAYERS[src]:
            out.append(f"{where}: {src} (layer {LAYERS[src]}) imports higher layer {dst} (layer {LAYERS[dst]})")
        if (src, dst) in SIDE_BY_SIDE or (dst, src) in SIDE_BY_SIDE:
            out.append(f"{where}: {src} and {dst} stand side by side and must not import each other")
    graph: dict[str, set[str]] = {}
    for src, dst, _ in edges:
        graph.setdefault(src, set()).add(dst)
    out += [f"import cycle between packages: {' -> '.join(c)}" for c in _cycles(graph)]
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One representative cycle per strongly connected component of more than one unit."""
    cycles, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def test_the_tree_is_layered() -> None:
    found = violations(unit_edges(REPO))
    assert not found, "layer rules broken:\n" + "\n".join(found)


def test_every_unit_has_a_layer() -> None:
    units = {unit_of(module_name(p, REPO)) for p in (REPO / "reliableswap").rglob("*.py")}
    assert units <= set(LAYERS), f"give these a layer in tests/test_layers.py: {sorted(units - set(LAYERS))}"


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("rel", "text", "expected"),
    [
        ("reliableswap/faces/x.py", "from supervision.blend import blend\n", "must not import supervision"),
        ("reliableswap/faces/x.py", "def f():\n    import reliableswap.data.batch\n", "imports higher layer"),
        ("reliableswap/inference/x.py", "from ..evaluation import runner\n", "side by side"),
        ("reliableswap/evaluation/x.py", "import reliableswap.inference.video\n", "side by side"),
        ("reliableswap/newpkg/x.py", "from reliableswap import paths\n", "without a layer"),
        ("reliableswap/lightning/x.py", "from reliableswap import apps\n", "imports higher layer"),
        ("reliableswap/evaluation/metrics/x.py", "from ... import inference\n", "side by side"),
        ("reliableswap/faces/x.py", "import importlib\nimportlib.import_module('supervision.blend')\n",
         "must not import supervision"),
    ],
)
def test_the_checker_catches(tmp_path: Path, rel: str, text: str, expected: str) -> None:
    """The rules can fail: each planted import is reported (relative and lazy imports included)."""
    _write(tmp_path, "reliableswap/__init__.py", "")
    _write(tmp_path, "supervision/__init__.py", "import reliableswap\n")
    _write(tmp_path, rel, text)
    found = violations(unit_edges(tmp_path))
    assert any(expected in v for v in found), found


def test_the_checker_finds_cycles(tmp_path: Path) -> None:
    _write(tmp_path, "reliableswap/__init__.py", "")
    _write(tmp_path, "reliableswap/models/a.py", "from reliableswap.losses import b\n")
    _write(tmp_path, "reliableswap/losses/b.py", "from reliableswap.models import a\n")
    found = violations(unit_edges(tmp_path))
    assert any("cycle" in v and "reliableswap.models" in v for v in found), found
