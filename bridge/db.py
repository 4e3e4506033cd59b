"""Engines and sessions for PostgreSQL (production, tests) and SQLite (``bridge dev``).

One engine per URL per process. Sessions are short: a unit of work opens one, commits and
closes it before any network call, so no database connection is held while we wait on
Order Desk or a warehouse.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bridge.settings import get_settings


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the web process read while a worker writes; busy_timeout queues writers.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_bridge_engine(url: str, **options: Any) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    options.setdefault("pool_pre_ping", True)
    options.setdefault("pool_size", 5)
    options.setdefault("max_overflow", 10)
    options.setdefault("connect_args", {"connect_timeout": 5})
    return create_engine(url, **options)


_engines: dict[str, Engine] = {}
_statement_engines: dict[str, Engine] = {}
_sessionmakers: dict[str, sessionmaker[Session]] = {}
_lock = threading.Lock()


def engine_for(url: str) -> Engine:
    with _lock:
        if url not in _engines:
            _engines[url] = create_bridge_engine(url)
            _sessionmakers[url] = sessionmaker(bind=_engines[url], expire_on_commit=False)
        return _engines[url]


def statement_engine_for(url: str) -> Engine:
    """A PostgreSQL engine whose statements commit one by one, with no pre-ping.

    For work that is a single statement (the intake's accept): BEGIN and COMMIT would be two
    more round trips and the pre-ping a third. Its callers retry once on a dropped connection.
    """
    with _lock:
        if url not in _statement_engines:
            _statement_engines[url] = create_bridge_engine(
                url, isolation_level="AUTOCOMMIT", pool_pre_ping=False, pool_size=2
            )
        return _statement_engines[url]


def get_engine() -> Engine:
    return engine_for(get_settings().database_url)


def new_session() -> Session:
    url = get_settings().database_url
    engine_for(url)
    return _sessionmakers[url]()


@contextmanager
def session_scope() -> Iterator[Session]:
    """A transaction: committed on success, rolled back on any exception."""
    session = new_session()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def reset_engines() -> None:
    """Dispose cached engines: tests switch databases, forked workers must not share pools."""
    with _lock:
        for engine in [*_engines.values(), *_statement_engines.values()]:
            engine.dispose()
        _engines.clear()
        _statement_engines.clear()
        _sessionmakers.clear()
