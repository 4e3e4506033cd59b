"""Serve a WSGI app on loopback from a background thread.

The simulators are real HTTP servers so that tests, benchmarks and ``bridge dev`` exercise the
same sockets, headers and timeouts as production. Port 0 asks the kernel for a free port, which
lets many simulators run side by side in one test session.
"""

from __future__ import annotations

import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

# How often the serving loop checks for shutdown; werkzeug's default (0.5 s) made every
# simulator stop cost half a second.
POLL_INTERVAL = 0.05


class QuietRequestHandler(WSGIRequestHandler):
    """No access-log line per request: the simulators keep their own request logs."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        return None

    def make_environ(self) -> dict[str, Any]:
        """Keep headers whose names hold an underscore, which werkzeug drops.

        ShipBob's API requires one (``shipbob_channel_id``). A header also sent with hyphens
        keeps the hyphenated value, so the two spellings cannot be confused.
        """
        environ = super().make_environ()
        for name, value in self.headers.items():
            if "_" in name:
                environ.setdefault(f"HTTP_{name.upper().replace('-', '_')}", value)
        return environ


class BackgroundServer:
    """A threaded werkzeug server bound to loopback; ``url`` is known once started."""

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        access_log: bool = False,
        finish_requests: bool = False,
    ) -> None:
        """``finish_requests``: ``stop()`` waits for requests in flight, including the work a
        response does when it closes (the intake publishes then), as gunicorn's graceful stop does.
        """
        handler = WSGIRequestHandler if access_log else QuietRequestHandler
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=handler
        )
        self._server.daemon_threads = not finish_requests
        self._server.block_on_close = finish_requests
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL},
            name=f"sim-{self.port}",
            daemon=True,
        )

    @property
    def port(self) -> int:
        return self._server.server_port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> BackgroundServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
