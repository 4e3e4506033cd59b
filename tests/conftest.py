"""Shared fixtures: a real PostgreSQL database, a real Redis and the simulators (over HTTP).

Each test session creates its own PostgreSQL database (so parallel runs and leftovers never
collide), migrates it once, and empties the tables after every test that used it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import redis
from sqlalchemy import text

from bridge import crypto, db, migrate, settings
from bridge.intake.storecache import store_cache
from bridge.jobs import dispatch
from bridge.jobs.celery_config import CelerySender
from bridge.models import Base
from bridge.remote import ratelimit

PG_SERVER = os.environ.get("BRIDGE_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
REDIS_SERVER = os.environ.get("BRIDGE_TEST_REDIS", "redis://127.0.0.1:6379")
TEST_SECRET_KEY = "test-secret-key-for-the-suite-only-0123456789"

# The Order Desk and warehouse simulators every suite starts the same way.
pytest_plugins = ["tests.support.simulators"]


def _sqlalchemy_url(database: str) -> str:
    return f"{PG_SERVER.replace('postgresql://', 'postgresql+psycopg://', 1)}/{database}"


def create_pg_database() -> str:
    name = f"bridge_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_pg_database(name: str) -> None:
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session", autouse=True)
def message_sender() -> Iterator[None]:
    """Messages go through Celery to the broker each test's settings name, as in production."""
    previous = dispatch.install_sender(CelerySender())
    yield
    dispatch.install_sender(previous)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A migrated, empty PostgreSQL database for this test session."""
    name = create_pg_database()
    url = _sqlalchemy_url(name)
    migrate.upgrade(url)
    yield url
    db.reset_engines()
    drop_pg_database(name)


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    """An empty, unmigrated PostgreSQL database of its own."""
    name = create_pg_database()
    yield _sqlalchemy_url(name)
    db.reset_engines()
    drop_pg_database(name)


def reset_caches() -> None:
    settings.get_settings.cache_clear()
    crypto.get_secret_box.cache_clear()
    db.reset_engines()
    store_cache.clear()
    ratelimit.local_bucket.cache_clear()


@pytest.fixture
def bridge_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[pytest.MonkeyPatch]:
    """Production-mode settings with a known secret key and a private data folder."""
    for key in list(os.environ):
        if key.startswith("BRIDGE_") and not key.startswith("BRIDGE_TEST_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BRIDGE_SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("BRIDGE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("BRIDGE_LOG_FORMAT", "console")
    reset_caches()
    yield monkeypatch
    reset_caches()


@pytest.fixture
def database(bridge_env: pytest.MonkeyPatch, pg_url: str) -> Iterator[str]:
    """Point the bridge at the session's PostgreSQL database; empty its tables afterwards."""
    bridge_env.setenv("BRIDGE_DATABASE_URL", pg_url)
    reset_caches()
    yield pg_url
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with db.engine_for(pg_url).begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def redis_url(bridge_env: pytest.MonkeyPatch) -> Iterator[str]:
    """A Redis database for this test, flushed before and after."""
    url = f"{REDIS_SERVER}/14"
    client = redis.Redis.from_url(url)
    client.flushdb()
    bridge_env.setenv("BRIDGE_REDIS_URL", url)
    reset_caches()
    yield url
    client.flushdb()
    client.close()
