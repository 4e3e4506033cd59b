"""Named leases in the database: "only one of us does this now", across processes and machines.

Periodic work (sweep, polls, Order Desk pushes per store) may be triggered twice: two beats,
a sweeper re-send, a redelivered message. A lease makes the second run step aside instead of
doubling calls to rate-limited APIs. It expires on its own, so a worker killed while holding one
blocks nobody for longer than its TTL. Works on PostgreSQL and SQLite alike (plain conditional
UPDATE/INSERT, no advisory locks).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from bridge.db import session_scope
from bridge.models import Lease, utcnow


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire(name: str, owner: str, ttl: float) -> bool:
    """Take ``name`` for ``ttl`` seconds unless someone else holds an unexpired lease."""
    now = utcnow()
    expires = now + timedelta(seconds=ttl)
    with session_scope() as session:
        taken = session.execute(
            update(Lease)
            .where(Lease.name == name, (Lease.expires_at <= now) | (Lease.owner == owner))
            .values(owner=owner, expires_at=expires)
            .execution_options(synchronize_session=False)
        ).rowcount
        if taken:
            return True
    try:
        with session_scope() as session:
            session.add(Lease(name=name, owner=owner, expires_at=expires))
    except IntegrityError:
        return False
    return True


def release(name: str, owner: str) -> None:
    with session_scope() as session:
        session.execute(delete(Lease).where(Lease.name == name, Lease.owner == owner))


def clear(name: str) -> None:
    """Drop ``name`` whoever holds it (the holder's work is done or handed over)."""
    with session_scope() as session:
        session.execute(delete(Lease).where(Lease.name == name))


@contextmanager
def held(name: str, ttl: float) -> Iterator[bool]:
    """``with held("sweep", 60) as mine: if mine: ...``; released on exit when taken."""
    owner = new_owner()
    mine = acquire(name, owner, ttl)
    try:
        yield mine
    finally:
        if mine:
            release(name, owner)
