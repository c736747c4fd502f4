"""Imports go one way: every gankit module imports only packages of lower layers (or its own).

The layer order, lowest first (ARCHITECTURE.md explains it):

    errors, catalogue, fastpaths < numbers, hardware, files < pictures < config < data, models, objectives < metrics,
    sampling < classify < report < evaluation < training < export < run < experiments < gankit
    (the API) < the CLI

Modules are read with ``ast`` (imports inside functions count), so nothing is imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src" / "gankit"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "catalogue", "fastpaths", "presets", "weights"),  # import nothing of gankit (presets, weights: data files)
    ("numbers", "files", "hardware"),
    ("pictures",),  # sample grids, figure saving: what sampling, report and classify all draw with
    ("config",),
    ("data", "models", "objectives"),
    ("metrics", "sampling"),
    ("classify",),  # the classifier workbench and the evaluator networks that metrics are computed in
    ("report",),
    ("evaluation",),
    ("training",),
    ("export",),  # works on a loaded Run handed to it; run.py's export_run loads one
    ("run",),
    ("experiments",),
    ("__init__",),  # gankit/__init__.py: the Python API, lazily re-exporting the layers below
    ("cli",),  # cli.py, cli_*.py and __main__.py: one unit
)
LAYER = {unit: level for level, units in enumerate(LAYERS) for unit in units}

# (importing module, imported module) pairs allowed to break the order: none. Add one only
# with a reason, and move the code instead where you can.
KNOWN_EXCEPTIONS: frozenset[tuple[str, str]] = frozenset()


def _module_name(path: Path) -> str:
    parts = ("gankit", *path.relative_to(SOURCE).with_suffix("").parts)
    return ".".join(parts[:-1]) if parts[-1] == "__init__" else ".".join(parts)


def _unit(module: str) -> str:
    """The layer unit of a gankit module: its subpackage or top-level module."""
    parts = module.split(".")
    if len(parts) == 1:
        return "__init__"
    return "cli" if parts[1].startswith("cli") or parts[1] == "__main__" else parts[1]


def _import_statements(path: Path, module: str) -> list[tuple[str, list[str]]]:
    """Every import of ``path`` at any depth (TYPE_CHECKING blocks and functions included) as
    (the module imported from, the names imported): relative imports made absolute."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    statements = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            statements += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            statements.append((base, [alias.name for alias in node.names]))
    return statements


def _imports(path: Path, module: str) -> set[str]:
    """Every gankit module ``path`` imports (absolute or relative, at any depth)."""
    return {base for base, _ in _import_statements(path, module) if base == "gankit" or base.startswith("gankit.")}


MODULES = sorted(SOURCE.rglob("*.py"))


def test_every_unit_has_a_layer():
    units = {_unit(_module_name(path)) for path in MODULES}
    assert units <= set(LAYER), f"add these to LAYERS (and ARCHITECTURE.md): {sorted(units - set(LAYER))}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SOURCE)))
def test_imports_point_down(path):
    module = _module_name(path)
    unit = _unit(module)
    wrong = []
    for imported in sorted(_imports(path, module)):
        target = _unit(imported) if imported != "gankit" else "__init__"
        if target == unit or (module, imported) in KNOWN_EXCEPTIONS:
            continue
        if LAYER[target] >= LAYER[unit]:
            wrong.append(f"{imported} (layer {target})")
    assert not wrong, f"{module} (layer {unit}) imports upward or sideways: {', '.join(wrong)}"


def test_known_exceptions_still_exist():
    """An exception that no longer occurs is removed from the list, so it cannot hide a new one."""
    present = {(_module_name(path), imported) for path in MODULES
               for imported in _imports(path, _module_name(path))}
    assert KNOWN_EXCEPTIONS <= present, sorted(KNOWN_EXCEPTIONS - present)


def test_nothing_imports_the_command_line():
    for path in MODULES:
        module = _module_name(path)
        if _unit(module) != "cli":
            assert "cli" not in {_unit(name) for name in _imports(path, module)}, module


# ---------------------------------------------------------------- no import circles in training/

TRAINING = SOURCE / "training"


def _imported_modules(path: Path, module: str, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``path`` imports, at any depth (TYPE_CHECKING blocks and
    functions included); ``from package import name`` counts ``package.name`` when it is a module."""
    found = set()
    for base, names in _import_statements(path, module):
        found.add(base)
        found.update(f"{base}.{name}" for name in names)
    return (found & known) - {module}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` (module -> modules it imports) as [a, b, ..., a], or None."""
    done: set[str] = set()
    for start in sorted(graph):
        if start in done:
            continue
        path, on_path, stack = [start], {start}, [(start, iter(sorted(graph[start])))]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                on_path.discard(node)
                done.add(node)
            elif child in on_path:
                return path[path.index(child):] + [child]
            elif child not in done:
                path.append(child)
                on_path.add(child)
                stack.append((child, iter(sorted(graph[child]))))
    return None


def test_cycle_finder_finds_a_circle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_training_module_imports_one_that_imports_it_back():
    """Not even for type hints: the shared types live in training/types.py, and what a module
    needs of the trainer or the step comes in as an object it names (TrainingState, EpochEnd,
    the manual step's StepParts)."""
    paths = {_module_name(path): path for path in sorted(TRAINING.glob("*.py"))}
    known = set(paths)
    graph = {module: _imported_modules(path, module, known) for module, path in paths.items()}
    assert graph["gankit.training.trainer"] >= {"gankit.training.state", "gankit.training.distributed"}  # parsed
    circle = _cycle(graph)
    assert circle is None, "import circle: " + " -> ".join(circle)
