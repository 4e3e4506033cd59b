"""The metric names the bridge exports, as Prometheus sees them, from ``bridge.metrics``."""

from __future__ import annotations

import re

from prometheus_client.metrics import MetricWrapperBase

from bridge import metrics

SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}
BRIDGE_NAME = re.compile(r"\bbridge_[a-z0-9_]+\b")


def exported_names() -> set[str]:
    """Every series name: counters with ``_total``, histograms' three series, the gauges."""
    names = set(metrics.GAUGES)
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            family = value.describe()[0]
            names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
    return names


def named_in(expr: str) -> set[str]:
    """The bridge metric names an expression reads."""
    return set(BRIDGE_NAME.findall(expr))
