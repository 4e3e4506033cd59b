"""Serve ``web.create_app()`` on loopback in a process of its own; print the URL, stop when stdin
closes. Settings come from the environment the test gives it."""

from __future__ import annotations

import sys

from bridge.sim.server import BackgroundServer
from web import create_app


def main() -> None:
    server = BackgroundServer(create_app()).start()
    print(server.url, flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
