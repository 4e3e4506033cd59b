"""Admin accounts: who may sign in to the admin pages, and the name their actions are kept under.

Passwords are hashed with scrypt (werkzeug's ``generate_password_hash``) and never stored, shown
or logged in clear. Each session cookie carries the user's ``session_generation``; disabling the
user or changing the password bumps it, so every session issued before ends on its next request.
``authenticate`` spends the same hashing work on an unknown name as on a known one, so the time
an answer takes does not tell which names exist.
"""

from __future__ import annotations

import re
import secrets
from functools import cache

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from bridge.models import AdminUser, utcnow

HASH_METHOD = "scrypt"
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
MIN_PASSWORD_LENGTH = 12
# Long enough for any passphrase or manager-generated password, short enough to hash cheaply.
MAX_PASSWORD_LENGTH = 256
MIN_DISTINCT_CHARACTERS = 5


class AdminUserError(ValueError):
    """An account operation that cannot be done; the message says why in one sentence."""


def normalize_name(name: str) -> str:
    """User names are case-insensitive: ``Alice`` and ``alice`` are the same account."""
    return name.strip().lower()


def check_name(name: str) -> str:
    normalized = normalize_name(name)
    if not NAME_PATTERN.fullmatch(normalized):
        raise AdminUserError(
            "a user name is 1 to 64 characters: letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return normalized


def password_problem(name: str, password: str) -> str | None:
    """Why ``password`` is too weak for ``name``, or None when it is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"the password is too short: use at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"the password is too long: use at most {MAX_PASSWORD_LENGTH} characters"
    if password != password.strip():
        return "the password starts or ends with a space: remove it"
    if len(set(password)) < MIN_DISTINCT_CHARACTERS:
        return (
            f"the password repeats too few characters: use at least {MIN_DISTINCT_CHARACTERS} "
            "different ones"
        )
    if password.isdigit():
        return "the password is only digits: mix in letters or words"
    if normalize_name(name) in password.lower():
        return "the password contains the user name: choose one that does not"
    return None


def hash_password(name: str, password: str) -> str:
    problem = password_problem(name, password)
    if problem:
        raise AdminUserError(problem)
    return generate_password_hash(password, method=HASH_METHOD)


@cache
def _dummy_hash() -> str:
    """A hash nobody knows the password of, checked for unknown names to take the same time."""
    return generate_password_hash(secrets.token_urlsafe(32), method=HASH_METHOD)


class AdminUsers:
    """The admin accounts, inside the caller's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def list(self) -> list[AdminUser]:
        return list(self.session.scalars(select(AdminUser).order_by(AdminUser.name)))

    def find(self, name: str) -> AdminUser | None:
        return self.session.scalar(select(AdminUser).where(AdminUser.name == normalize_name(name)))

    def get(self, name: str) -> AdminUser:
        user = self.find(name)
        if user is None:
            raise AdminUserError(f"no admin user {normalize_name(name)!r}")
        return user

    def add(self, name: str, password: str) -> AdminUser:
        normalized = check_name(name)
        if self.find(normalized) is not None:
            raise AdminUserError(f"admin user {normalized!r} already exists")
        user = AdminUser(name=normalized, password_hash=hash_password(normalized, password))
        self.session.add(user)
        try:
            self.session.flush()
        except IntegrityError:
            raise AdminUserError(f"admin user {normalized!r} already exists") from None
        return user

    def set_password(self, name: str, password: str) -> AdminUser:
        user = self.get(name)
        user.password_hash = hash_password(user.name, password)
        user.password_changed_at = utcnow()
        user.session_generation += 1
        return user

    def disable(self, name: str) -> AdminUser:
        user = self.get(name)
        user.active = False
        user.session_generation += 1
        return user

    def end_sessions(self, user_id: int) -> None:
        """Sign the user out everywhere: every cookie issued so far stops working."""
        user = self.session.get(AdminUser, user_id)
        if user is not None:
            user.session_generation += 1

    def enable(self, name: str) -> AdminUser:
        user = self.get(name)
        user.active = True
        return user

    def authenticate(self, name: str, password: str) -> AdminUser | None:
        """The active user with this name and password, or None whatever the reason."""
        user = self.find(name) if NAME_PATTERN.fullmatch(normalize_name(name)) else None
        if user is None:
            check_password_hash(_dummy_hash(), password)
            return None
        if not check_password_hash(user.password_hash, password) or not user.active:
            return None
        return user

    def for_session(self, user_id: object, generation: object) -> AdminUser | None:
        """The user a session cookie names, if it is still active and its sessions still valid."""
        if not isinstance(user_id, int) or not isinstance(generation, int):
            return None
        user = self.session.get(AdminUser, user_id)
        if user is None or not user.active or user.session_generation != generation:
            return None
        return user
