"""The house rules, read from the code's own imports (``ast``): imports point down the layers written in
docs/architecture.md, there is no import cycle between modules, and no module takes a private name (``_x``)
from another module. Function-level (lazy) imports count like top-level ones."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "denoisebench"

#: lowest first; a module may import from its own layer or any layer below it (see docs/architecture.md)
LAYERS: list[tuple[str, ...]] = [
    ("errors", "images", "seeding", "stats", "config", "profiles", "version"),
    ("interfaces", "hookspecs"),
    ("registry", "pluginmanager"),
    ("selection", "datasets", "metricmeta", "protocols"),
    ("builtin",),
    ("results", "store"),
    ("engine",),
    ("baseline",),
    ("reporting",),
    ("testing",),
    ("api", "__init__"),
    ("cli", "__main__"),
]
LAYER_OF = {name: i for i, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def group(module: str) -> str:
    """The layer key of a module: its first component under the package (``denoisebench.engine.worker`` ->
    ``engine``; the package itself -> ``__init__``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def resolve(importer: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    is_package = modules()[importer].name == "__init__.py"
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def type_checking_only(tree: ast.AST) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:`` (never executed: annotations only, as pytest's
    hookspec.py does); they are exempt from the layering and cycle checks, not from the private-name check."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            out |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return out


def imports(known: dict[str, Path], annotations: bool = False):
    """(importer, imported module, names taken, line) for every import of a denoisebench module; imports for
    type checking only are included when ``annotations``."""
    for name, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        skip = set() if annotations else type_checking_only(tree)
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "denoisebench":
                        yield name, alias.name, [], node.lineno
            elif isinstance(node, ast.ImportFrom):
                target = resolve(name, node)
                if target.split(".")[0] != "denoisebench":
                    continue
                taken = []
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    if sub in known:  # `from denoisebench import stats`: a module, not a name
                        yield name, sub, [], node.lineno
                    else:
                        taken.append(alias.name)
                if taken:
                    yield name, target, taken, node.lineno


def edges(annotations: bool = False):
    known = modules()
    return [(a, b, names, line) for a, b, names, line in imports(known, annotations) if b in known]


def test_every_module_has_a_layer():
    missing = sorted({group(m) for m in modules()} - set(LAYER_OF))
    assert not missing, f"add these to LAYERS here and to docs/architecture.md: {missing}"


def test_imports_point_down():
    bad = []
    for a, b, _, line in edges():
        la, lb = LAYER_OF[group(a)], LAYER_OF[group(b)]
        if lb > la:
            bad.append(f"{a}:{line} imports {b} ({group(a)} is below {group(b)})")
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_no_private_names_across_modules():
    bad = []
    for a, b, names, line in edges(annotations=True):
        if a == b:
            continue
        for n in names:
            if n.startswith("_") and not (n.startswith("__") and n.endswith("__")):
                bad.append(f"{a}:{line} takes {n} from {b}")
    assert not bad, "private names imported from another module:\n" + "\n".join(bad)


def test_no_import_cycles():
    graph: dict[str, set[str]] = {}
    for a, b, _, _ in edges():
        if a != b and not b.startswith(a + ".") and not a.startswith(b + "."):  # a package and its own modules
            graph.setdefault(a, set()).add(b)
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


@pytest.mark.parametrize("heavy", ["torch", "matplotlib", "rich"])
def test_only_allowed_layers_import_heavy_libraries(heavy):
    """torch only in plugins (the built-in LPIPS metric, lazily); rich and matplotlib only in reporting."""
    allowed = {"torch": {"builtin"}, "matplotlib": {"reporting"}, "rich": {"reporting"}}[heavy]
    bad = []
    for name, path in modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            if any(n.split(".")[0] == heavy for n in names) and group(name) not in allowed:
                bad.append(f"{name}:{node.lineno}")
    assert not bad, f"{heavy} imported outside {sorted(allowed)}: {bad}"
