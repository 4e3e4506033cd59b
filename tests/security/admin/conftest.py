"""Fixtures for the admin sign-in tests: the app with one user, and servers in processes of their
own (to show that sign-in failures are counted across processes, as gunicorn runs them)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import reset_caches
from tests.ops.conftest import (  # noqa: F401 - fixtures these tests share with tests/ops
    admin_app,
    admin_client,
    broker,
    seed_order,
    store,
)
from tests.support.admin_server import admin_server as admin_server_process


@pytest.fixture
def admin_server(database: str, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Start ``web.create_app()`` in a new process on loopback; returns its base URL."""
    with ExitStack() as servers:
        yield lambda: servers.enter_context(admin_server_process(tmp_path))


@pytest.fixture
def make_admin_app(database: str, bridge_env: pytest.MonkeyPatch) -> Callable[..., Flask]:
    """The web app built with extra ``BRIDGE_*`` settings (the admin user is added separately)."""

    def make(**env: str) -> Flask:
        from web import create_app

        for key, value in env.items():
            bridge_env.setenv(key, value)
        reset_caches()
        return create_app()

    return make
