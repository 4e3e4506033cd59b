"""The core never reaches up: no module under ``bridge/`` imports ``workers`` or ``web``, not even
inside a function or behind ``TYPE_CHECKING``."""

from __future__ import annotations

import ast
from pathlib import Path

import bridge

UPPER_LAYERS = ("workers", "web")
CORE = Path(bridge.__file__).resolve().parent


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """Every module an ``import``, a ``from ... import`` or an ``import_module("...")`` call
    anywhere in ``tree`` names."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and _names_import(node.func) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.append((node.lineno, first.value))
    return found


def _names_import(func: ast.expr) -> bool:
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name in ("import_module", "__import__")


def reaches_up(module: str) -> bool:
    return any(module == top or module.startswith(f"{top}.") for top in UPPER_LAYERS)


def test_no_core_module_imports_workers_or_web() -> None:
    offenders = [
        f"{path.relative_to(CORE.parent)}:{line}: import {module}"
        for path in sorted(CORE.rglob("*.py"))
        for line, module in imported_modules(ast.parse(path.read_text(), str(path)))
        if reaches_up(module)
    ]
    assert offenders == []


def test_the_scan_sees_imports_inside_functions() -> None:
    source = (
        "def f():\n"
        "    from workers.celery_app import app\n"
        "    import web.admin\n"
        "    importlib.import_module('workers.tasks')\n"
    )
    assert sorted(m for _, m in imported_modules(ast.parse(source)) if reaches_up(m)) == [
        "web.admin",
        "workers.celery_app",
        "workers.tasks",
    ]
    assert not reaches_up("webhook") and not reaches_up("bridge.web")
