"""Fixtures for the pipeline's reliability tests: the pipeline suite's simulators and store, and
tools to force an interleaving (hold a warehouse write, see a session wait on a row lock).

Races here are staged, never left to luck: a step is held at a chosen point with threading
events while the test does what a concurrent worker would, then released.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import text

from bridge.backends.simulated import SimulatedBackend
from bridge.db import engine_for
from tests.pipeline.conftest import (  # noqa: F401  (fixtures used by this folder's tests)
    broker,
    orderdesk,
    receive,
    store,
    warehouse,
    warehouse_kind,
)

WAIT = 20.0


@dataclass
class HeldWrite:
    """The warehouse create waits for ``release``; ``reached`` is set once a worker gets there."""

    reached: threading.Event = field(default_factory=threading.Event)
    go: threading.Event = field(default_factory=threading.Event)

    def wait_reached(self) -> None:
        assert self.reached.wait(WAIT), "the submission never reached the warehouse write"

    def release(self) -> None:
        self.go.set()


@pytest.fixture
def held_write(monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldWrite]:
    """Hold the simulated backend's create call (the real HTTP call follows the release)."""
    held = HeldWrite()
    original = SimulatedBackend.submit

    def submit(self: SimulatedBackend, *args: Any, **kwargs: Any) -> Any:
        held.reached.set()
        assert held.go.wait(WAIT), "the test never released the held write"
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SimulatedBackend, "submit", submit)
    yield held
    held.release()


def lock_waiters(database_url: str) -> int:
    """How many sessions of this database are waiting for a lock right now."""
    with engine_for(database_url).connect() as conn:
        return conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ).scalar_one()


def wait_until_blocked_or_done(database_url: str, thread: threading.Thread) -> bool:
    """Wait until ``thread`` either finished or is stuck on a row lock; True when it is stuck."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if not thread.is_alive():
            return False
        if lock_waiters(database_url):
            return True
        time.sleep(0.02)
    raise AssertionError("the thread neither finished nor waited on a lock")


class Runner(threading.Thread):
    """A thread that keeps its target's result or exception for the test to check."""

    def __init__(self, target: Callable[[], Any], name: str) -> None:
        super().__init__(name=name, daemon=True)
        self._target_fn = target
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self._target_fn()
        except BaseException as exc:  # the test inspects it
            self.error = exc

    def outcome(self) -> Any:
        self.join(WAIT)
        assert not self.is_alive(), f"{self.name} did not finish"
        if self.error is not None:
            raise self.error
        return self.result
