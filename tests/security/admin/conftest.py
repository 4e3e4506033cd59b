"""Fixtures for the admin sign-in tests: the app with one user, and servers in processes of their
own (to show that sign-in failures are counted across processes, as gunicorn runs them)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
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

PROJECT = Path(__file__).resolve().parents[3]


@pytest.fixture
def admin_server(database: str, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Start ``web.create_app()`` in a new process on loopback; returns its base URL."""
    started: list[subprocess.Popen[str]] = []

    def start() -> str:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
        environment["PYTHONPATH"] = str(PROJECT)
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.security.admin.serve"],
            cwd=tmp_path,
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        started.append(process)
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://"), "the admin server did not start"
        return url

    yield start
    for process in started:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=30)


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
