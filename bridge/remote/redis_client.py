"""A Redis client for a plain ``redis://`` URL or for a Sentinel-watched primary.

``sentinel://host:port;sentinel://host:port/DB`` (Celery's own spelling of its sentinel
transport, so one variable can serve the broker and the limiter) names the Sentinels, not
Redis: the client asks them which server is the primary of ``master_name`` and asks again after
a failover, so the shared rate limiter follows the broker to the promoted replica. A password in
the first URL is the Redis servers' password; the Sentinels are asked without one.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import unquote, urlsplit

import redis
from redis.sentinel import Sentinel

SENTINEL_SCHEME = "sentinel://"
TIMEOUTS = {"socket_timeout": 5.0, "socket_connect_timeout": 5.0}


def is_sentinel(url: str) -> bool:
    return url.startswith(SENTINEL_SCHEME)


def sentinel_hosts(url: str) -> list[tuple[str, int]]:
    """The Sentinels' (host, port) pairs of a ``sentinel://a:26379;sentinel://b:26379`` URL."""
    hosts = []
    for part in url.split(";"):
        split = urlsplit(part.strip())
        if split.scheme != "sentinel" or not split.hostname:
            raise ValueError(f"not a sentinel:// address: {split.scheme}://{split.hostname}")
        hosts.append((split.hostname, split.port or 26379))
    return hosts


def connect(url: str, master_name: str) -> redis.Redis:
    """A client of the Redis ``url`` names, through its Sentinels when it is ``sentinel://``."""
    if not is_sentinel(url):
        return redis.Redis.from_url(url, **TIMEOUTS)
    first = urlsplit(url.split(";", 1)[0])
    db = int(first.path.strip("/") or 0)
    password = unquote(first.password) if first.password else None
    sentinel = Sentinel(sentinel_hosts(url), sentinel_kwargs=dict(TIMEOUTS), **TIMEOUTS)
    return sentinel.master_for(master_name, db=db, password=password)


@lru_cache(maxsize=8)
def shared(url: str, master_name: str) -> redis.Redis:
    """One client (and its connection pool) per Redis per process, for every caller: the
    limiters, the window mirror and the intake's hand-off all talk to the same servers."""
    return connect(url, master_name)
