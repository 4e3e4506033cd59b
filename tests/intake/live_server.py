"""Serve ``web.create_app()`` on loopback in a process of its own, for the live intake tests.

A process of its own because the Celery app reads the broker URL once at import: a test that
needs Redis (or a dead broker) as the broker gets a server that was started with it. The URL is
printed on the first line of stdout; closing stdin stops the server (each request publishes its
messages before its connection closes).
"""

from __future__ import annotations

import sys

from bridge.sim.server import BackgroundServer
from web import create_app


def main() -> None:
    server = BackgroundServer(create_app(), finish_requests=True).start()
    print(server.url, flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
