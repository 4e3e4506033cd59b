"""Find installed warehouse backends through the ``orderdesk_bridge.backends`` entry points.

Entry points are the standard plugin mechanism (PyPA, stevedore's "driver" pattern): a 3PL can
ship its own backend as a separate package and name it in a store's config without touching this
code. The scan is cached because reading every distribution's metadata is slow; ``reload=True``
rescans (tests, or after installing a package into a running shell).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

import pydantic
import requests
import structlog

from bridge.backends.base import BackendConfig, WarehouseBackend
from bridge.backends.errors import ConfigError, UnknownBackend
from bridge.remote.ratelimit import RateLimiter

ENTRY_POINT_GROUP = "orderdesk_bridge.backends"

log = structlog.get_logger(__name__)

_lock = threading.Lock()
_cache: dict[str, type[WarehouseBackend]] | None = None


def _scan() -> dict[str, type[WarehouseBackend]]:
    found: dict[str, type[WarehouseBackend]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in found:
            continue
        try:
            cls = ep.load()
        except Exception as exc:
            log.error("backend_load_failed", backend=ep.name, target=ep.value, error=repr(exc))
            continue
        if not (isinstance(cls, type) and issubclass(cls, WarehouseBackend)):
            log.error("backend_not_a_backend", backend=ep.name, target=ep.value)
            continue
        found[ep.name] = cls
    return dict(sorted(found.items()))


def available_backends(reload: bool = False) -> dict[str, type[WarehouseBackend]]:
    """Installed backends by entry-point name (the name stores use in their config)."""
    global _cache
    with _lock:
        if _cache is None or reload:
            if reload:
                importlib.invalidate_caches()
            _cache = _scan()
        return dict(_cache)


def backend_class(name: str) -> type[WarehouseBackend]:
    backends = available_backends()
    try:
        return backends[name]
    except KeyError:
        installed = ", ".join(backends) or "none"
        raise UnknownBackend(
            f"no warehouse backend named {name!r} is installed (installed: {installed})"
        ) from None


def validate_config(cls: type[WarehouseBackend], config: Mapping[str, Any]) -> BackendConfig:
    """The backend's config model built from ``config``; errors name fields, never values."""
    if isinstance(config, cls.config_model):
        return config
    try:
        return cls.config_model.model_validate(dict(config))
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in err['loc']) or 'config'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid {cls.name} backend config: {problems}") from None


def create_backend(
    name: str,
    config: Mapping[str, Any],
    *,
    session: requests.Session | None = None,
    limiter: RateLimiter | None = None,
) -> WarehouseBackend:
    """A ready backend instance: looked up by name, its config validated by its own model."""
    cls = backend_class(name)
    return cls(validate_config(cls, config), session=session, limiter=limiter)
