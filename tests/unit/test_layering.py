"""The layers hold: shared/ never imports services/, and bench/ never imports tests/.

Every module is read as a syntax tree, so an import inside a function counts as much
as one at the top. So does an import by name through importlib, and one by a name
worked out at run time is refused outright: it is how the layer above was reached
before (the area registry imported each area's package), and nothing can tell where
it leads.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# (a layer, the package it must never import)
RULES = (("shared", "services"), ("bench", "tests"))
COMPUTED = "<a name worked out at run time>"


def imports(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, module) of every import in ``tree``, in order of lines."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and _imports_by_name(node.func):
            written = _written(node.args[0]) if node.args else None
            found.append((node.lineno, written or COMPUTED))
    return iter(sorted(found))


def _imports_by_name(func: ast.expr) -> bool:
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name in ("import_module", "__import__")


def _written(arg: ast.expr) -> str | None:
    """The name as written, or as far as an f-string writes it before its first field."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.JoinedStr) and arg.values:
        first = arg.values[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
    return None


def _forbidden(module: str, package: str) -> bool:
    return module in (COMPUTED, package) or module.startswith(package + ".")


def violations(layer: str, package: str) -> list[str]:
    found = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        found += [f"{path.relative_to(ROOT)}:{line} imports {module}"
                  for line, module in imports(tree) if _forbidden(module, package)]
    return found


@pytest.mark.parametrize(("layer", "package"), RULES)
def test_a_layer_never_imports_the_one_above_it(layer: str, package: str) -> None:
    assert len(list((ROOT / layer).rglob("*.py"))) > 3, f"no modules found under {layer}/"
    assert violations(layer, package) == []


def test_every_way_of_importing_is_seen() -> None:
    source = '''
import services.ledger
from services import cli
from shared import areas
import servicesx

def later(name, entry):
    from services.ledger import tasks
    importlib.import_module(f"services.{name}.api")
    __import__("services")
    import_module(entry.module)
'''
    assert [(line, module) for line, module in imports(ast.parse(source))
            if _forbidden(module, "services")] == [
        (2, "services.ledger"), (3, "services"), (8, "services.ledger"), (9, "services."),
        (10, "services"), (11, COMPUTED)]
