"""The worker's ``/metrics``: every prefork child's counts, summed, served by the main process.

Tasks run in forked children, each counting in its own memory, so the main process could show
none of it. prometheus_client's multiprocess mode has every process write its values to files in
one directory and a ``MultiProcessCollector`` sum them; the main process serves that sum on
``BRIDGE_METRICS_PORT`` (``0``: no endpoint, plain per-process counting), together with the
business gauges read from PostgreSQL (``bridge.ops.gauges``): one reading per worker, not one
per child.

The mode is chosen when a metric is created, and the ``celery`` command imports
prometheus_client before it loads the app (Flower's command plugin uses it), so setting
``PROMETHEUS_MULTIPROC_DIR`` in the app module would come too late. Instead, once Celery says
this process is a worker (the ``celery worker`` command runs and the loader's
``worker_initialized`` is set, just before the task modules are imported) and before
``bridge.metrics`` defines anything, a fresh directory is made for this start, the variable
points at it and prometheus_client's value class is switched to the multiprocess one. Children
inherit both through the fork; a child that exits is marked dead; the directory is removed
when the worker stops.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from typing import Any

import click
import structlog
from celery import Celery, signals
from prometheus_client import CollectorRegistry, multiprocess, start_http_server, values

from bridge.settings import get_settings

log = structlog.get_logger(__name__)

DIRECTORY_PREFIX = "orderdesk-bridge-worker-metrics-"


@dataclass
class _Serving:
    """This worker's metrics directory and HTTP server, once set up."""

    directory: str | None = None
    server: Any = None


_serving = _Serving()


def _starting_worker(app: Celery) -> bool:
    """Whether this process is starting ``celery worker`` (beat initialises the loader too)."""
    command = click.get_current_context(silent=True)
    return app.loader.worker_initialized and command is not None and command.info_name == "worker"


@signals.import_modules.connect
def _multiprocess_mode(sender: Celery, **_: Any) -> None:
    """In a worker, before the task modules (and ``bridge.metrics``) are imported."""
    if not _starting_worker(sender) or get_settings().metrics_port == 0:
        return
    if "bridge.metrics" in sys.modules:
        # Its metrics without labels already count per process and will be missing from the
        # endpoint; the worker still runs (orders matter more), and says so.
        log.error(
            "worker_metrics.partial",
            reason="bridge.metrics was imported before the worker set up multiprocess metrics",
            hint="import it from the task modules only, never from workers.celery_app's imports",
        )
    _serving.directory = tempfile.mkdtemp(prefix=DIRECTORY_PREFIX)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _serving.directory
    values.ValueClass = values.get_value_class()


@signals.worker_init.connect
def _serve(**_: Any) -> None:
    """Serve the children's summed metrics and the business gauges from the main process."""
    if _serving.directory is None:
        return
    # Imported here, not at the top: the gauges import bridge.metrics, which must wait for
    # _multiprocess_mode (this module is loaded with the app, before that runs).
    from bridge.ops.gauges import BusinessGauges

    settings = get_settings()
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=_serving.directory)
    registry.register(BusinessGauges(settings))
    try:
        _serving.server, _ = start_http_server(settings.metrics_port, registry=registry)
    except OSError as exc:
        # Orders matter more than metrics: the worker goes on, the `up == 0` alert tells.
        log.error(
            "worker_metrics.unavailable",
            port=settings.metrics_port,
            reason=exc.strerror or type(exc).__name__,
            hint="another process holds BRIDGE_METRICS_PORT; give each worker on a host its own",
        )
        return
    log.info("worker_metrics.serving", port=settings.metrics_port)


@signals.worker_process_shutdown.connect
def _child_exited(pid: int, **_: Any) -> None:
    """A child's live gauges stop counting once it is gone (its counters stay in the sum)."""
    if _serving.directory is not None:
        multiprocess.mark_process_dead(pid, _serving.directory)


@signals.worker_shutdown.connect
def _stop(**_: Any) -> None:
    if _serving.server is not None:
        _serving.server.shutdown()
        _serving.server = None
    if _serving.directory is not None:
        shutil.rmtree(_serving.directory, ignore_errors=True)
        _serving.directory = None
