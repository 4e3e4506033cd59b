"""The house is built in layers, and imports only run downward.

Each module may import modules of a lower layer and of its own package, nothing else: not
sideways into another package of its layer, never up, not even inside a function or behind
``TYPE_CHECKING``. ``docs/architecture.md#layout`` shows the same layers; a new package gets a
place here first.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("bridge", "web", "workers")

# Lowest first. A room is a top-level module or a package of bridge/, or web/, or workers/.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("bridge.keystrength", "bridge.states", "bridge.metrics"),
    ("bridge.settings",),
    (
        "bridge.models",
        "bridge.logs",
        "bridge.crypto",
        "bridge.db",
        "bridge.migrate",
        "bridge.remote",
    ),
    ("bridge.history", "bridge.accounts", "bridge.orderdesk", "bridge.jobs"),
    ("bridge.backends", "bridge.sim"),
    ("bridge.stores",),
    ("bridge.intake",),
    ("bridge.pipeline", "bridge.ops"),
    ("bridge.devrun",),
    ("bridge.cli",),
    ("workers", "web"),
)
LAYER_OF = {room: rank for rank, rooms in enumerate(LAYERS) for room in rooms}


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """Every module an ``import``, a ``from ... import`` or an ``import_module("...")`` call
    anywhere in ``tree`` names (``from package import module`` names both)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Call) and _names_import(node.func) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.append((node.lineno, first.value))
    return found


def _names_import(func: ast.expr) -> bool:
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name in ("import_module", "__import__")


def room_of(module: str) -> str | None:
    """The room a dotted name belongs to, or None when it is not ours (or is ``bridge`` itself)."""
    parts = module.split(".")
    if parts[0] in ("web", "workers"):
        return parts[0]
    if parts[0] != "bridge" or len(parts) < 2:
        return None
    room = f"bridge.{parts[1]}"
    return room if (ROOT / "bridge" / parts[1]).is_dir() or _is_module(room) else None


def _is_module(room: str) -> bool:
    return (ROOT / (room.replace(".", "/") + ".py")).exists()


def source_files() -> list[Path]:
    return sorted(path for top in SOURCES for path in (ROOT / top).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def violations(importer: str, imported: list[tuple[int, str]]) -> list[str]:
    mine = room_of(importer)
    found = []
    seen: set[tuple[int, str | None]] = set()
    for line, module in imported:
        theirs = room_of(module)
        if mine is None or theirs is None or theirs == mine or (line, theirs) in seen:
            continue
        seen.add((line, theirs))
        if LAYER_OF[theirs] >= LAYER_OF[mine]:
            way = "sideways" if LAYER_OF[theirs] == LAYER_OF[mine] else "up"
            found.append(f"{importer}:{line} imports {module} ({way}: {mine} -> {theirs})")
    return found


def test_every_room_has_a_layer() -> None:
    rooms = {room_of(module_name(path)) for path in source_files()} - {None}
    assert rooms - set(LAYER_OF) == set(), "give each new package or module a layer in LAYERS"
    assert set(LAYER_OF) - rooms == set(), "LAYERS names a room that no longer exists"


def test_imports_only_run_downward() -> None:
    offenders = [
        offence
        for path in source_files()
        for offence in violations(
            module_name(path), imported_modules(ast.parse(path.read_text(), str(path)))
        )
    ]
    assert offenders == []


@pytest.mark.parametrize(
    ("importer", "source", "expected"),
    [
        ("bridge.jobs.dispatch", "def f():\n    from workers.celery_app import app\n", "up"),
        ("bridge.orderdesk.client", "import bridge.backends.base\n", "up"),
        ("bridge.pipeline.submit", "from bridge import ops\n", "sideways"),
        ("bridge.intake.full", "importlib.import_module('bridge.pipeline.sweep')\n", "up"),
        ("bridge.pipeline.submit", "from bridge.jobs import followups\n", None),
        ("bridge.pipeline.submit", "from bridge.pipeline import notes\n", None),
    ],
)
def test_the_scan_sees_each_kind_of_import(
    importer: str, source: str, expected: str | None
) -> None:
    found = violations(importer, imported_modules(ast.parse(source)))
    if expected is None:
        assert found == []
    else:
        assert len(found) == 1 and f"({expected}:" in found[0]
