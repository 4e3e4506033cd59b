"""The house is built in layers, and imports only run downward.

Each module may import modules of a lower layer and of its own room, nothing else: not sideways
into another room of its layer, never up, not even inside a function or behind
``TYPE_CHECKING`` (the graph is ``tests/test_imports.py``'s). ``docs/architecture.md#layout``
shows the same layers; a new package gets its place here first.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from tests.test_imports import import_graph

# Lowest first. A room is a top-level module or a package of bridge/, or web/, or workers/.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("bridge.keystrength", "bridge.states", "bridge.metrics"),
    ("bridge.settings",),
    (
        "bridge.models",
        "bridge.logs",
        "bridge.errortracking",
        "bridge.crypto",
        "bridge.db",
        "bridge.migrate",
    ),
    ("bridge.remote", "bridge.migrations"),
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


def room_of(module: str) -> str | None:
    """The room of a first-party module; None for the ``bridge`` package itself."""
    parts = module.split(".")
    if parts[0] in ("web", "workers"):
        return parts[0]
    return f"bridge.{parts[1]}" if len(parts) > 1 else None


def violations(graph: Mapping[str, set[str]]) -> list[str]:
    found = []
    for module, targets in sorted(graph.items()):
        mine = room_of(module)
        for target in sorted(targets):
            theirs = room_of(target)
            if mine is None or theirs is None or theirs == mine:
                continue
            if LAYER_OF[theirs] >= LAYER_OF[mine]:
                way = "sideways" if LAYER_OF[theirs] == LAYER_OF[mine] else "up"
                found.append(f"{module} imports {target} ({way}: {mine} -> {theirs})")
    return found


def test_every_room_has_a_layer() -> None:
    rooms = {room_of(module) for module in import_graph()} - {None}
    assert rooms - set(LAYER_OF) == set(), "give each new package or module a layer in LAYERS"
    assert set(LAYER_OF) - rooms == set(), "LAYERS names a room that no longer exists"


def test_imports_only_run_downward() -> None:
    assert violations(import_graph()) == []


@pytest.mark.parametrize(
    ("importer", "imported", "expected"),
    [
        ("bridge.jobs.dispatch", "workers.celery_app", "up"),
        ("bridge.orderdesk.client", "bridge.backends.base", "up"),
        ("bridge.pipeline.submit", "bridge.ops.operations", "sideways"),
        ("bridge.intake.full", "bridge.pipeline.sweep", "up"),
        ("bridge.pipeline.submit", "bridge.jobs.followups", None),
        ("bridge.pipeline.submit", "bridge.pipeline.notes", None),
    ],
)
def test_the_rule_names_each_way_an_import_can_go_wrong(
    importer: str, imported: str, expected: str | None
) -> None:
    found = violations({importer: {imported}})
    if expected is None:
        assert found == []
    else:
        assert len(found) == 1 and f"({expected}:" in found[0]
