"""The package's floors: imports only point down, and there are no import cycles.

``LAYERS`` is the one declaration of skrif's floors; ``docs/developers.rst`` shows
the same table (checked below). Every import counts, including the ones deferred
into a function body: a deferred import is still a dependency.
"""

import ast
import pathlib
import re

import skrif

ROOT = pathlib.Path(skrif.__file__).parent

#: Floor of every top-level unit of the package (a subpackage or a module), lowest
#: first. A module may import its own unit and units on lower floors; two units on
#: one floor may not import each other.
LAYERS = {
    "skrif.exceptions": 0,
    "skrif._utils": 1,
    "skrif.datasets": 1,
    "skrif.functionals": 1,
    "skrif._linalg": 2,
    "skrif._objectives": 3,
    "skrif._removal": 4,
    "skrif._core": 5,
    "skrif._preprocess": 6,
    "skrif._features": 7,
    "skrif._dask": 8,
    "skrif._estimator": 9,
    "skrif.validation": 10,
    "skrif._display": 11,
    "skrif._report": 12,
    "skrif.cli": 13,
    "skrif.__main__": 14,
    "skrif": 14,
}


def _modules():
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = ("skrif",) + path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _unit(module):
    parts = module.split(".")
    return ".".join(parts[:2])


def _imports(module, path, source=None):
    """Modules of skrif that ``module`` imports (every import statement)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    source = path.read_text() if source is None else source
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                target = base + ("." + node.module if node.module else "")
            else:
                target = node.module or ""
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                found.add(candidate if candidate in MODULES else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in MODULES and m != module}


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


def test_every_unit_has_a_floor():
    assert sorted({_unit(m) for m in MODULES} - set(LAYERS)) == []


def test_imports_point_down():
    upward = [
        f"{module} -> {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if _unit(target) != _unit(module)
        and LAYERS[_unit(target)] >= LAYERS[_unit(module)]
    ]
    assert upward == []


def test_no_import_cycles():
    # Tarjan's strongly connected components over the module graph.
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in GRAPH:
        if module not in index:
            visit(module)
    assert cycles == []


def test_the_checker_sees_deferred_and_relative_imports():
    # The graph builder must resolve relative and deferred imports, or the two
    # tests above pass vacuously.
    source = (
        "from .. import exceptions\n"
        "from .problem import Problem\n"
        "def f():\n"
        "    from ..validation import summarize\n"
        "    import skrif._features.audit\n"
    )
    path = ROOT / "_core" / "fitted.py"
    assert _imports("skrif._core.fitted", path, source) == {
        "skrif.exceptions", "skrif._core.problem", "skrif.validation", "skrif._features.audit",
    }


def test_developer_guide_shows_the_same_floors():
    text = (ROOT.parent / "docs" / "developers.rst").read_text()
    shown = {}
    for line in text.splitlines():
        match = re.match(r"^(\d+)\s+``(skrif[\w.]*)/?``", line)
        if match:
            shown[match.group(2).rstrip("/").replace("/", ".")] = int(match.group(1))
    assert shown == LAYERS


def test_developer_guide_names_every_module():
    text = (ROOT.parent / "docs" / "developers.rst").read_text()
    missing = []
    for module in MODULES:
        unit = _unit(module)
        if module == unit:
            continue  # a unit of its own: checked by the floor table
        name = module.rsplit(".", 1)[1]
        if f"``{name}``" not in text:
            missing.append(module)
    assert missing == []


def test_warnings_raised_through_the_user_line_helper():
    # A fixed stacklevel is right for one call path only; skrif._utils.warn.warn
    # finds the user's frame whichever public method reached the warning.
    offenders = [
        str(path.relative_to(ROOT.parent))
        for path in sorted(ROOT.rglob("*.py"))
        if path != ROOT / "_utils" / "warn.py" and "warnings.warn(" in path.read_text()
    ]
    assert offenders == []
