"""The web app in a process of its own on loopback, as gunicorn runs it.

Sign-in throttling must hold across processes and the browser tests want a real server, so both
start ``tests.security.admin.serve`` with the test's settings taken from the environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


@contextmanager
def admin_server(workdir: Path) -> Iterator[str]:
    """Serve ``web.create_app()`` until the block ends; yields its base URL."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    environment["PYTHONPATH"] = str(PROJECT)
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.security.admin.serve"],
        cwd=workdir,
        env=environment,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None and process.stdin is not None
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://"), "the admin server did not start"
        yield url
    finally:
        process.stdin.close()
        process.wait(timeout=30)
