"""Serve ``web.create_app()`` on loopback in a process of its own, for the live intake tests.

A process of its own because the Celery app reads the broker URL once at import: a test that
needs Redis (or a dead broker) as the broker gets a server that was started with it. The URL is
printed on the first line of stdout; closing stdin stops the server after every message the
intake committed has been handed to the broker.
"""

from __future__ import annotations

import sys

from bridge.sim.server import BackgroundServer
from web import create_app
from web.intake import publisher


def main() -> None:
    server = BackgroundServer(create_app()).start()
    print(server.url, flush=True)
    sys.stdin.read()
    server.stop()
    publisher.flush()


if __name__ == "__main__":
    main()
