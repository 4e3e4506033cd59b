"""A WSGI app counting its requests with prometheus_client, served by the real gunicorn config.

It stands in for ``web:create_app()`` so the gunicorn settings (bind, workers, multi-process
metrics folder, ``child_exit``) are tested on their own.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest, multiprocess

REQUESTS = Counter("deploy_test_requests_total", "Requests served.")
LIVE_WORKERS = Gauge(
    "deploy_test_live_workers", "Worker processes alive.", multiprocess_mode="livesum"
)
LIVE_WORKERS.set(1)


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ["PATH_INFO"] == "/metrics":
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        REQUESTS.inc()
        body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
