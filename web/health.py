"""Liveness, readiness and metrics endpoints for load balancers, Kubernetes and Prometheus."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from flask import Blueprint, Response, current_app, jsonify
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from sqlalchemy import text

from bridge.crypto import SecretError
from bridge.db import get_engine, session_scope
from bridge.jobs.celery_config import publishing_app
from bridge.settings import SettingsError, get_settings
from bridge.stores.registry import StoreRegistry

bp = Blueprint("health", __name__)

# Decrypting every store's secrets is cheap but not free: a probe every few seconds reuses the
# last verdict for this long (a key change needs a restart anyway, so little is lost).
SECRETS_CHECK_SECONDS = 30.0


class CachedCheck:
    """One readiness check's last result, reused for ``ttl`` seconds, per app."""

    def __init__(self, check: Callable[[], str | None], ttl: float) -> None:
        self._check = check
        self._ttl = ttl
        self._lock = threading.Lock()
        self._expires = 0.0
        self._result: str | None = None

    def __call__(self) -> str | None:
        with self._lock:
            if time.monotonic() >= self._expires:
                self._result = self._check()
                self._expires = time.monotonic() + self._ttl
            return self._result


@bp.get("/healthz")
def healthz() -> Response:
    """The process is up and serving; says nothing about its dependencies."""
    return jsonify(status="ok")


def _check_database() -> str | None:
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        return f"database unreachable: {type(exc).__name__}"
    return None


def _check_broker() -> str | None:
    try:
        with publishing_app(get_settings()).connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"broker unreachable: {type(exc).__name__}"
    return None


def _check_secrets() -> str | None:
    """Every store's secrets decrypt with the configured keys (names stores, never secrets)."""
    try:
        with session_scope() as session:
            broken = StoreRegistry(session).undecryptable()
    except (SettingsError, SecretError) as exc:
        return f"stored secrets cannot be read: {exc}"
    except Exception as exc:
        return f"stored secrets not checked: {type(exc).__name__}"
    if broken:
        return (
            f"the stored secrets of store(s) {', '.join(broken)} cannot be decrypted with "
            "BRIDGE_SECRET_KEY (was a key dropped before `bridge secret-key rotate`?)"
        )
    return None


def _cached_secrets_check() -> str | None:
    check = current_app.extensions.setdefault(
        "bridge_secrets_check", CachedCheck(_check_secrets, SECRETS_CHECK_SECONDS)
    )
    return check()


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Ready to take webhooks: the database answers, the broker accepts connections and the
    stored secrets decrypt with the configured keys."""
    database = _check_database()
    secrets = None if database else _cached_secrets_check()
    problems = [p for p in (database, _check_broker(), secrets) if p]
    if problems:
        return jsonify(status="unavailable", problems=problems), 503
    return jsonify(status="ok"), 200


@bp.get("/metrics")
def metrics() -> Response:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        payload = generate_latest(registry)
    else:
        payload = generate_latest(REGISTRY)
    return Response(payload, mimetype=CONTENT_TYPE_LATEST)
