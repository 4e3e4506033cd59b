"""The failures an operator meets before anything works, and the refusals, as one sentence each.

A database that was never migrated, a PostgreSQL or Redis that does not answer: the driver's
exception is long and names none of what to do. ``explain`` finds one of those causes anywhere
in an exception's chain and says it in words, with the host and port (never a password);
anything else is left alone, so a real bug still shows its traceback.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from urllib.parse import urlsplit

import click
import psycopg
import redis
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from bridge.accounts.users import AdminUserError
from bridge.crypto import SecretError
from bridge.ops.operations import OperationError
from bridge.remote.redis_client import connect
from bridge.settings import SettingsError, get_settings
from bridge.stores.registry import StoreError

NOT_MIGRATED = "database not migrated: run `bridge db upgrade`"
# Refusals whose message is already the one sentence to print.
OPERATOR_ERRORS = (SettingsError, StoreError, SecretError, OperationError, AdminUserError)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        if isinstance(current, DBAPIError) and isinstance(current.orig, BaseException):
            yield current.orig
        current = current.__cause__ or current.__context__


def _postgres_address() -> str:
    url = make_url(get_settings().database_url)
    return f"{url.host or 'localhost'}:{url.port or 5432}"


def _redis_address() -> str:
    settings = get_settings()
    parts = urlsplit(settings.redis_url or settings.broker_url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}"


def _reason(exc: BaseException) -> str:
    """The driver's last words on a failed connection, e.g. ``Connection refused``."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    first = lines[0] if lines else type(exc).__name__
    return first.rsplit("failed: ", 1)[-1]


def explain(exc: BaseException) -> str | None:
    """One sentence for a cause an operator can fix, or None."""
    if isinstance(exc, OPERATOR_ERRORS):
        return str(exc)
    for cause in _chain(exc):
        if isinstance(cause, psycopg.errors.UndefinedTable | psycopg.errors.UndefinedColumn):
            return NOT_MIGRATED
        if isinstance(cause, sqlite3.OperationalError) and "no such table" in str(cause):
            return NOT_MIGRATED
        if isinstance(cause, psycopg.OperationalError) and not isinstance(
            cause, psycopg.errors.QueryCanceled
        ):
            return f"cannot reach PostgreSQL at {_postgres_address()}: {_reason(cause)}"
        if isinstance(cause, redis.ConnectionError):
            return f"Redis unreachable at {_redis_address()}: {_reason(cause)}"
    return None


def require_redis() -> None:
    """Stop with one sentence when the shared Redis (rate limiters) does not answer.

    Commands that call Order Desk take a token from it first; without this check its absence
    shows up as retries and then as "Order Desk unreachable", which sends a person the wrong way.
    Without a Redis URL (a trial) the buckets live in the process and there is nothing to check.
    """
    settings = get_settings()
    if not settings.redis_url:
        return
    client = connect(settings.redis_url, settings.redis_sentinel_master)
    try:
        client.ping()
    except redis.RedisError as exc:
        message = f"Redis unreachable at {_redis_address()}: {_reason(exc)}"
        raise click.ClickException(message) from None
    finally:
        client.close()
