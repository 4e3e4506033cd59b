"""Failed admin sign-ins per user name and per client address, and the lockout they lead to.

The counts live in the database (``admin_login_throttle``), so every gunicorn process and every
web pod sees the same numbers, and ``bridge dev`` on SQLite works the same way. Each failure is
one conditional UPDATE (or an INSERT for a key's first failure), atomic on the row; two processes
checking the lock at the same moment may each let one more guess through, no more.

A user name is stored only as a digest: the table never holds what someone typed into the name
field (which is sometimes a password). Unknown names are counted like known ones, so a lockout
says nothing about which names exist.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from bridge.accounts.users import normalize_name
from bridge.db import session_scope
from bridge.models import AdminLoginThrottle, utcnow
from bridge.settings import Settings

ADDRESS_LENGTH = 64


def user_key(name: str) -> str:
    return "user:" + hashlib.sha256(normalize_name(name).encode()).hexdigest()


def address_key(address: str) -> str:
    return "addr:" + address[:ADDRESS_LENGTH]


@dataclass(frozen=True)
class LoginThrottle:
    """``max_per_user`` failures for one name, or ``max_per_address`` from one address, within
    ``lockout`` lock that name or address for ``lockout``."""

    max_per_user: int
    max_per_address: int
    lockout: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginThrottle:
        return cls(
            max_per_user=settings.admin_login_max_failures,
            max_per_address=settings.admin_login_max_failures_per_address,
            lockout=timedelta(minutes=settings.admin_login_lockout_minutes),
        )

    def locked(self, name: str, address: str) -> bool:
        keys = [user_key(name), address_key(address)]
        with session_scope() as session:
            found = session.scalar(
                select(AdminLoginThrottle.key).where(
                    AdminLoginThrottle.key.in_(keys), AdminLoginThrottle.locked_until > utcnow()
                )
            )
        return found is not None

    def failed(self, name: str, address: str) -> None:
        """Count one failed sign-in against the name and the address."""
        self._count(user_key(name), self.max_per_user)
        self._count(address_key(address), self.max_per_address)
        self._forget_stale()

    def succeeded(self, name: str) -> None:
        """A right password clears the name's count (not the address's: one good account must
        not reset the count of guesses at the others)."""
        with session_scope() as session:
            session.execute(
                delete(AdminLoginThrottle).where(AdminLoginThrottle.key == user_key(name))
            )

    def _count(self, key: str, limit: int) -> None:
        for _ in range(2):
            if self._count_existing(key, limit) or self._insert_first(key, limit):
                return

    def _count_existing(self, key: str, limit: int) -> bool:
        now = utcnow()
        row = AdminLoginThrottle
        stale = row.window_started_at <= now - self.lockout
        failures = case((stale, 1), else_=row.failures + 1)
        with session_scope() as session:
            counted = session.execute(
                update(row)
                .where(row.key == key)
                .values(
                    failures=failures,
                    window_started_at=case((stale, now), else_=row.window_started_at),
                    locked_until=case(
                        (failures >= limit, now + self.lockout), else_=row.locked_until
                    ),
                )
                .execution_options(synchronize_session=False)
            ).rowcount
        return bool(counted)

    def _insert_first(self, key: str, limit: int) -> bool:
        now = utcnow()
        try:
            with session_scope() as session:
                session.add(
                    AdminLoginThrottle(
                        key=key,
                        failures=1,
                        window_started_at=now,
                        locked_until=now + self.lockout if limit <= 1 else None,
                    )
                )
        except IntegrityError:
            return False  # another process inserted it first: count on its row
        return True

    def _forget_stale(self) -> None:
        now = utcnow()
        row = AdminLoginThrottle
        with session_scope() as session:
            session.execute(
                delete(row).where(
                    row.window_started_at <= now - self.lockout,
                    or_(row.locked_until.is_(None), row.locked_until <= now),
                )
            )
