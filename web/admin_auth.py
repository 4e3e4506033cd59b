"""Signing in to the admin pages: accounts, a signed session cookie, CSRF, throttled logins.

The session is Flask's signed cookie, keyed by a key derived from ``BRIDGE_SECRET_KEY`` for this
one purpose (so the cookie signature never exposes the key that encrypts stored API keys). It is
scoped to ``/admin``, HttpOnly, SameSite=Lax, Secure whenever the request came over https, and
ends after ``BRIDGE_ADMIN_SESSION_IDLE_MINUTES`` without a request. Every request re-reads the
user: a disabled user, or one whose password changed since the cookie was issued, is signed out
at once.

Every POST, the sign-in form included, must carry the session's CSRF token and come from a page
of this host (``Origin`` or ``Referer``).
"""

from __future__ import annotations

import hmac
import secrets
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import structlog
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import (
    Flask,
    Request,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException

from bridge.accounts.login_throttle import LoginThrottle
from bridge.accounts.users import AdminUsers
from bridge.crypto import secret_material
from bridge.db import session_scope
from bridge.models import AdminUser, utcnow
from bridge.settings import Settings

log = structlog.get_logger(__name__)

COOKIE_NAME = "bridge_admin"
COOKIE_PATH = "/admin"
PUBLIC_ENDPOINTS = frozenset({"admin.login"})
WRONG_LOGIN = "Wrong user name or password."
LOCKED_OUT = "Too many failed sign-ins. Wait a while, then try again."


class Refused(HTTPException):
    """A plain-text refusal with its own status."""

    def __init__(self, status: int, sentence: str) -> None:
        super().__init__(description=sentence)
        self.code = status

    def get_response(self, environ: Any = None, scope: Any = None) -> Response:
        return Response(self.description + "\n", self.code, mimetype="text/plain")


class AdminSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, marked Secure whenever the request itself was https."""

    salt = "orderdesk-bridge admin session"

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """No session outside the admin pages, whose path the cookie is bound to anyway.

        Opening one costs every webhook a signing serializer (about 0.1 ms of CPU) for a
        cookie the browser never sends there; None gives Flask's cheap null session.
        """
        if not request.path.startswith(COOKIE_PATH):
            return None
        return super().open_session(app, request)


def _session_key(material: str) -> str:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"orderdesk-bridge admin sessions"
    ).derive(material.strip().encode())
    return derived.hex()


def configure_sessions(app: Flask, settings: Settings) -> None:
    """Sign admin sessions with keys derived from every configured secret key (first signs)."""
    keys = [_session_key(part) for part in secret_material(settings).split(",") if part.strip()]
    app.secret_key = keys[0]
    app.config.update(
        SECRET_KEY_FALLBACKS=keys[1:],
        SESSION_COOKIE_NAME=COOKIE_NAME,
        SESSION_COOKIE_PATH=COOKIE_PATH,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.admin_session_idle_minutes),
    )
    app.session_interface = AdminSessionInterface()


def _settings() -> Settings:
    return current_app.config["BRIDGE_SETTINGS"]


# -- CSRF --------------------------------------------------------------------------------------


def csrf_token() -> str:
    """The session's form token, made on first use (the sign-in page makes it for visitors)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def _same_host() -> bool:
    source = request.headers.get("Origin") or request.headers.get("Referer") or ""
    return bool(source) and source != "null" and urlsplit(source).netloc == request.host


def check_csrf() -> None:
    expected = session.get("csrf", "")
    given = request.form.get("csrf_token", "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Refused(403, "This form has expired or did not come from the admin pages; reload it.")
    if not _same_host():
        raise Refused(403, "This request did not come from a page of this site.")


# -- who is signed in --------------------------------------------------------------------------


def _idle_expired() -> bool:
    seen = session.get("seen")
    idle = _settings().admin_session_idle_minutes * 60
    return not isinstance(seen, int) or time.time() - seen > idle


def _signed_in_user() -> AdminUser | None:
    if "uid" not in session or _idle_expired():
        return None
    with session_scope() as db:
        user = AdminUsers(db).for_session(session.get("uid"), session.get("gen"))
        if user is not None:
            db.expunge(user)
    return user


def guard() -> Response | None:
    """Before every admin request: CSRF on POSTs, then a valid session unless signing in."""
    if request.method == "POST":
        check_csrf()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    user = _signed_in_user()
    if user is None:
        session.clear()
        back_to = request.full_path.rstrip("?") if request.method == "GET" else ""
        return redirect(_login_url(back_to), code=303)
    session["seen"] = int(time.time())
    g.admin_user = user
    return None


def current_user_name() -> str:
    return g.admin_user.name


# -- sign in and out ---------------------------------------------------------------------------


def _login_url(next_path: str = "") -> str:
    if _safe_next(next_path):
        return url_for("admin.login", next=next_path)
    return url_for("admin.login")


def _safe_next(target: str) -> bool:
    """Only a path inside the admin pages, never another site (``//host``, ``/\\host``)."""
    parts = urlsplit(target)
    return (
        target.startswith(COOKIE_PATH + "/")
        and not parts.scheme
        and not parts.netloc
        and "\\" not in target
        and not target.startswith("//")
    )


def _render_login(error: str | None, status: int) -> tuple[str, int]:
    next_path = request.values.get("next", "")
    return render_template("admin/login.html", error=error, next=next_path), status


def login() -> Response | tuple[str, int]:
    if request.method == "GET":
        csrf_token()
        return _render_login(None, 200)
    name = request.form.get("name", "")
    password = request.form.get("password", "")
    address = request.remote_addr or ""
    throttle = LoginThrottle.from_settings(_settings())
    if throttle.locked(name, address):
        log.warning("admin sign-in refused: locked out", address=address)
        return _render_login(LOCKED_OUT, 429)
    with session_scope() as db:
        user = AdminUsers(db).authenticate(name, password)
        if user is not None:
            user.last_login_at = utcnow()
            identity = (user.id, user.name, user.session_generation)
    if user is None:
        throttle.failed(name, address)
        log.warning("admin sign-in failed", address=address)
        return _render_login(WRONG_LOGIN, 401)
    throttle.succeeded(name)
    user_id, user_name, generation = identity
    session.clear()
    session.permanent = True
    session.update(
        uid=user_id, gen=generation, seen=int(time.time()), csrf=secrets.token_urlsafe(32)
    )
    log.info("admin signed in", user=user_name, address=address)
    target = request.form.get("next", "")
    return redirect(target if _safe_next(target) else url_for("admin.dashboard"), code=303)


def logout() -> Response:
    """Sign out: this user's sessions end everywhere, copies of the cookie included."""
    with session_scope() as db:
        AdminUsers(db).end_sessions(g.admin_user.id)
    log.info("admin signed out", user=current_user_name())
    session.clear()
    return redirect(url_for("admin.login"), code=303)
