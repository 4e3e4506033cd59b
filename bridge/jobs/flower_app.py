"""The Celery app Flower runs with (``celery -A bridge.jobs.flower_app flower``), Sentinel-aware.

Flower needs no task code (it learns the tasks from the workers' events) and must not get the
bridge's settings (see ``bridge.jobs.flower``), so this app is built from two variables only:
``CELERY_BROKER_URL`` (read by Celery itself) and, for a ``sentinel://`` broker,
``BRIDGE_REDIS_SENTINEL_MASTER`` (default ``mymaster``, like the bridge's setting). Handed only
the URL, Celery's Sentinel transport refuses to start without a master name; with it, Flower
asks the Sentinels for the primary and, after a failover, for the promoted replica, exactly as
the workers do (through the same transport, ``sentinel_transport``).
"""

from __future__ import annotations

import os

from celery import Celery

from bridge.jobs import sentinel_transport

DEFAULT_MASTER = "mymaster"


def make_flower_app() -> Celery:
    app = Celery("orderdesk_bridge")
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if broker.startswith("sentinel://"):
        sentinel_transport.register()
        master = os.environ.get("BRIDGE_REDIS_SENTINEL_MASTER", "").strip() or DEFAULT_MASTER
        app.conf.broker_transport_options = sentinel_transport.transport_options(master)
    return app


app = make_flower_app()
