"""Fixtures for the intake's security tests: the intake suite's store and database, a live server.

The live server runs in this process (``BackgroundServer``), so a test can see whether the
server's store snapshot is warm, i.e. whether a request can take the one-statement fast path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from bridge.settings import get_settings
from bridge.sim.server import BackgroundServer
from tests.conftest import reset_caches
from tests.intake.conftest import URL, store  # noqa: F401 (a fixture used by these tests)
from web import create_app


@pytest.fixture
def serve(database: str) -> Iterator[Callable[[], str]]:
    """Start ``create_app()`` on loopback with the settings as the test left them; its URL."""
    servers: list[BackgroundServer] = []

    def start() -> str:
        server = BackgroundServer(create_app(get_settings()), finish_requests=True).start()
        servers.append(server)
        return server.url + URL

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(params=["full-path", "fast-path"])
def path(request: pytest.FixtureRequest, bridge_env: pytest.MonkeyPatch) -> str:
    """The full path alone (no store snapshot is ever used), or the one-statement fast path."""
    if request.param == "full-path":
        bridge_env.setenv("BRIDGE_STORE_CACHE_SECONDS", "0")
        reset_caches()
    return request.param
