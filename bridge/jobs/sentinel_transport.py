"""Celery's Redis Sentinel transport, with one kombu defect worked around.

When the broker's primary dies, the worker's consumer closes its broker connection and drops
the transport's link back to it (kombu sets ``transport.client`` to ``None``) before it reconnects
through the Sentinels. Tasks still running then finish, or are terminated and rejected, and their
ack or reject goes to the channel they came from: the old one. If that channel has to open a new
Redis connection pool for it, kombu 5.7.0 (the newest release on PyPI in December 2026) reads the
address from ``transport.client`` and raises ``AttributeError: 'NoneType' object has no attribute
'hostname'`` in ``Channel._connparams``. That is not one of the transport's connection errors,
so Celery does not log it as "Couldn't ack" and carry on: the worker stops (seen in 2 failovers
of 12, ``tests/ha/test_sentinel_failover.py``).

Here the channel answers that case the way every other transport answers an ack on a closed
connection: with a connection error. Celery then logs "Couldn't ack" and reconnects; the message
stays in Redis's unacked set and is restored after the visibility timeout, and the sweeper re-sends
from PostgreSQL whatever the failover lost (every task claims its rows first, so a second delivery
does nothing). ``register`` makes it the transport of the ``sentinel://`` scheme in this process
(``make_celery`` calls it, so the worker, beat, the web's publisher and Flower all use it, and
the logs still say ``sentinel://``); drop it once kombu checks for a released transport itself.
"""

from __future__ import annotations

from typing import Any

import redis
from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import redis as kombu_redis

CLOSED = "the broker connection this channel belonged to is closed (broker failover or restart)"


class SentinelChannel(kombu_redis.SentinelChannel):
    """kombu's Sentinel channel: a released one raises a connection error, not AttributeError."""

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        transport = self.connection
        if transport is None or transport.client is None:
            raise redis.exceptions.ConnectionError(CLOSED)
        params: dict[str, Any] = super()._connparams(asynchronous)
        return params


class SentinelTransport(kombu_redis.SentinelTransport):
    """kombu's ``sentinel://`` transport with ``SentinelChannel`` above."""

    Channel = SentinelChannel


def transport_options(master_name: str) -> dict[str, Any]:
    """The Sentinel part of a Celery app's ``broker_transport_options``: the primary to ask the
    Sentinels for (again after a failover), and short timeouts for asking them."""
    return {
        "master_name": master_name,
        "sentinel_kwargs": {"socket_timeout": 2, "socket_connect_timeout": 2},
    }


def register() -> None:
    """Make ``sentinel://`` URLs use ``SentinelTransport`` in this process (idempotent)."""
    TRANSPORT_ALIASES["sentinel"] = f"{__name__}:SentinelTransport"
