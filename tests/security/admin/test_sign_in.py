"""Hole 7: the admin pages had one shared Basic password, no throttling and no sign-out.

Now: named accounts, a sign-in form, a signed session cookie that ends when idle, when the user
is disabled or when the password changes, a sign-out, and a lockout after repeated failures per
user name and per client address, counted in the database so every web process agrees.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from bridge.db import session_scope
from bridge.settings import Settings
from tests.ops.conftest import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    ORIGIN,
    add_admin_user,
    form_token,
    sign_in,
)

REPO = Path(__file__).resolve().parents[3]
WRONG = "Wrong user name or password."
LOCKED = "Too many failed sign-ins."


def _set_password(name: str, password: str) -> None:
    from bridge.accounts.users import AdminUsers

    with session_scope() as session:
        AdminUsers(session).set_password(name, password)


def _disable(name: str) -> None:
    from bridge.accounts.users import AdminUsers

    with session_scope() as session:
        AdminUsers(session).disable(name)


def _body(response) -> str:
    return response.get_data(as_text=True)


def test_hole7_a_named_account_signs_in_and_sees_its_name(admin_app: Flask) -> None:
    with admin_app.test_client() as client:
        response = sign_in(client)
        assert response.status_code == 303
        assert response.headers["Location"].endswith("/admin/")
        page = client.get("/admin/")
        assert page.status_code == 200
        assert ADMIN_USER in _body(page) and "Sign out" in _body(page)


def test_hole7_sign_in_returns_to_the_page_asked_for_but_never_off_site(admin_app: Flask) -> None:
    with admin_app.test_client() as client:
        first = client.get("/admin/stores")
        assert first.status_code == 303 and "next=/admin/stores" in first.headers["Location"]
        for target, lands_on in [
            ("/admin/stores", "/admin/stores"),
            ("https://evil.example/admin/", "/admin/"),
            ("//evil.example/admin/", "/admin/"),
        ]:
            token = form_token(client)
            response = client.post(
                "/admin/login",
                data={
                    "name": ADMIN_USER,
                    "password": ADMIN_PASSWORD,
                    "csrf_token": token,
                    "next": target,
                },
                headers=ORIGIN,
            )
            assert response.status_code == 303
            assert response.headers["Location"] == lands_on, target


def test_hole7_wrong_password_and_unknown_user_get_the_same_answer(
    admin_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    with admin_app.test_client() as client:
        wrong = sign_in(client, password="not the password at all")
        unknown = sign_in(client, name="nobody-here")
        for response in (wrong, unknown):
            assert response.status_code == 401
            assert WRONG in _body(response)
            assert client.get("/admin/").status_code == 303  # still signed out
        strip = re.compile(r'name="csrf_token" value="[^"]+"')
        assert strip.sub("", _body(wrong)) == strip.sub("", _body(unknown))
        assert ADMIN_PASSWORD not in _body(wrong)
        assert sign_in(client).status_code == 303
    logged = caplog.text
    assert "admin sign-in failed" in logged and "admin signed in" in logged
    assert ADMIN_PASSWORD not in logged and "not the password at all" not in logged


def test_hole7_unknown_user_costs_a_password_hash_too(admin_app: Flask) -> None:
    """Constant-ish time: an unknown name is not answered measurably faster than a wrong
    password (the dummy hash is made once, so warm it up first)."""
    with admin_app.test_client() as client:
        sign_in(client, name="warm-up", password="x" * 12)

        def best_of(name: str) -> float:
            timings = []
            for _ in range(3):
                started = time.perf_counter()
                sign_in(client, name=name, password="wrong password 123")
                timings.append(time.perf_counter() - started)
            return min(timings)

        known, unknown = best_of(ADMIN_USER), best_of("no-such-user")
    assert unknown > known * 0.3, (known, unknown)


def test_hole7_lockout_after_repeated_failures_for_one_user(
    make_admin_app: Callable[..., Flask],
) -> None:
    app = make_admin_app(BRIDGE_ADMIN_LOGIN_MAX_FAILURES="3")
    add_admin_user()
    add_admin_user("second", "another long passphrase")
    with app.test_client() as client:
        for _ in range(3):
            assert sign_in(client, password="guess guess guess").status_code == 401
        locked = sign_in(client)  # the right password, too late
        assert locked.status_code == 429
        assert LOCKED in _body(locked)
        assert client.get("/admin/").status_code == 303
        # The name is locked, not the address: another user still gets in from here.
        assert sign_in(client, "second", "another long passphrase").status_code == 303


def test_hole7_lockout_looks_the_same_for_an_unknown_name(
    make_admin_app: Callable[..., Flask],
) -> None:
    app = make_admin_app(BRIDGE_ADMIN_LOGIN_MAX_FAILURES="2")
    add_admin_user()
    with app.test_client() as client:
        for name in (ADMIN_USER, "ghost"):
            for _ in range(2):
                sign_in(client, name=name, password="guess guess guess")
        known, unknown = sign_in(client), sign_in(client, name="ghost")
    assert known.status_code == unknown.status_code == 429
    strip = re.compile(r'name="csrf_token" value="[^"]+"|name="next" value="[^"]*"')
    assert strip.sub("", _body(known)) == strip.sub("", _body(unknown))


def test_hole7_lockout_after_repeated_failures_from_one_address(
    make_admin_app: Callable[..., Flask],
) -> None:
    app = make_admin_app(BRIDGE_ADMIN_LOGIN_MAX_FAILURES_PER_ADDRESS="4")
    add_admin_user()
    spray = {"REMOTE_ADDR": "203.0.113.9"}
    with app.test_client() as client:
        for number in range(4):  # a different name each time: only the address repeats
            response = sign_in(client, f"user{number}", "guess guess guess", environ_base=spray)
            assert response.status_code == 401
        locked = sign_in(client, environ_base=spray)
        assert locked.status_code == 429
        # The same account from another address is not locked.
        other = sign_in(client, environ_base={"REMOTE_ADDR": "198.51.100.7"})
        assert other.status_code == 303


def test_hole7_failures_are_counted_across_processes(
    admin_server: Callable[[], str], bridge_env: pytest.MonkeyPatch
) -> None:
    """Two web servers in two processes, as gunicorn runs them: failures on one lock the other."""
    bridge_env.setenv("BRIDGE_ADMIN_LOGIN_MAX_FAILURES", "3")
    add_admin_user()
    first, second = admin_server(), admin_server()

    def attempt(base: str, password: str) -> requests.Response:
        with requests.Session() as browser:
            page = browser.get(f"{base}/admin/login", timeout=10).text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page)
            assert token
            return browser.post(
                f"{base}/admin/login",
                data={"name": ADMIN_USER, "password": password, "csrf_token": token.group(1)},
                headers={"Origin": base},
                allow_redirects=False,
                timeout=10,
            )

    assert [attempt(first, "guess guess guess").status_code for _ in range(2)] == [401, 401]
    assert attempt(second, "guess guess guess").status_code == 401
    assert attempt(first, ADMIN_PASSWORD).status_code == 429
    assert attempt(second, ADMIN_PASSWORD).status_code == 429


def test_hole7_simultaneous_failures_are_all_counted(database: str) -> None:
    """Eight failures at the same instant, as eight gunicorn workers would record them: none is
    lost, including the race to insert a name's first row."""
    from bridge.accounts.login_throttle import LoginThrottle, user_key
    from bridge.models import AdminLoginThrottle

    throttle = LoginThrottle(max_per_user=8, max_per_address=100, lockout=timedelta(minutes=5))
    start = threading.Barrier(8)

    def fail() -> None:
        start.wait()
        throttle.failed("target", "192.0.2.1")

    workers = [threading.Thread(target=fail) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    with session_scope() as session:
        row = session.get(AdminLoginThrottle, user_key("target"))
        assert row is not None and row.failures == 8
    assert throttle.locked("target", "198.51.100.1")
    assert not throttle.locked("someone-else", "198.51.100.1")


def test_hole7_success_clears_the_count(make_admin_app: Callable[..., Flask]) -> None:
    app = make_admin_app(BRIDGE_ADMIN_LOGIN_MAX_FAILURES="3")
    add_admin_user()
    with app.test_client() as client:
        for _ in range(2):
            sign_in(client, password="guess guess guess")
        assert sign_in(client).status_code == 303
        for _ in range(2):
            sign_in(client, password="guess guess guess")
        assert sign_in(client).status_code == 303


def test_hole7_sign_out_ends_the_session_and_a_copied_cookie(admin_client: FlaskClient) -> None:
    token = form_token(admin_client, "/admin/")
    copied = admin_client.get_cookie("bridge_admin", path="/admin")
    assert copied is not None

    response = admin_client.post("/admin/logout", data={"csrf_token": token}, headers=ORIGIN)

    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/login")
    assert admin_client.get("/admin/").status_code == 303
    # The cookie as it was before signing out (say, copied off the machine) is dead too.
    admin_client.set_cookie("bridge_admin", copied.value, path="/admin")
    assert admin_client.get("/admin/").status_code == 303


def test_hole7_sign_out_is_a_post_with_a_form(admin_client: FlaskClient) -> None:
    assert admin_client.get("/admin/logout").status_code == 405
    refused = admin_client.post("/admin/logout", headers=ORIGIN)
    assert refused.status_code == 403
    assert admin_client.get("/admin/").status_code == 200  # still signed in


def test_hole7_an_idle_session_expires(admin_client: FlaskClient) -> None:
    with admin_client.session_transaction("/admin/") as session:
        assert "uid" in session
        session["seen"] = int(time.time()) - 29 * 60  # last request 29 minutes ago
    assert admin_client.get("/admin/").status_code == 200
    with admin_client.session_transaction("/admin/") as session:
        session["seen"] = int(time.time()) - 31 * 60  # last request 31 minutes ago

    response = admin_client.get("/admin/")

    assert response.status_code == 303 and "/admin/login" in response.headers["Location"]
    assert admin_client.get("/admin/orders").status_code == 303


def test_hole7_idle_expiry_is_a_setting(make_admin_app: Callable[..., Flask]) -> None:
    app = make_admin_app(BRIDGE_ADMIN_SESSION_IDLE_MINUTES="5")
    add_admin_user()
    assert app.permanent_session_lifetime.total_seconds() == 300
    with app.test_client() as client:
        sign_in(client)
        with client.session_transaction("/admin/") as session:
            session["seen"] = int(time.time()) - 4 * 60
        assert client.get("/admin/").status_code == 200  # and the request renews it
        with client.session_transaction("/admin/") as session:
            assert time.time() - session["seen"] < 60
            session["seen"] = int(time.time()) - 6 * 60
        assert client.get("/admin/").status_code == 303


def test_hole7_a_disabled_users_session_is_refused_at_once(admin_client: FlaskClient) -> None:
    assert admin_client.get("/admin/").status_code == 200
    _disable(ADMIN_USER)
    assert admin_client.get("/admin/").status_code == 303
    assert sign_in(admin_client).status_code == 401  # and cannot sign in again


def test_hole7_a_password_change_ends_existing_sessions(admin_client: FlaskClient) -> None:
    assert admin_client.get("/admin/").status_code == 200
    _set_password(ADMIN_USER, "a brand new passphrase")
    assert admin_client.get("/admin/").status_code == 303
    assert sign_in(admin_client).status_code == 401
    assert sign_in(admin_client, password="a brand new passphrase").status_code == 303


def test_hole7_the_cookie_is_httponly_samesite_lax_and_scoped_to_admin(admin_app: Flask) -> None:
    with admin_app.test_client() as client:
        response = sign_in(client)
    (cookie,) = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("bridge_admin=")]
    flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert "httponly" in flags
    assert "samesite=lax" in cookie.lower()
    assert "path=/admin" in cookie.lower()
    assert "secure" not in flags  # plain http (a trial on localhost): the browser would drop it
    assert ADMIN_PASSWORD not in cookie


def test_hole7_the_cookie_is_secure_over_https(admin_app: Flask) -> None:
    with admin_app.test_client() as client:
        client.get("/admin/login", base_url="https://admin.example")
        token = client.get_cookie("bridge_admin", domain="admin.example", path="/admin")
        assert token is not None
        page = client.get("/admin/login", base_url="https://admin.example").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert csrf
        response = client.post(
            "/admin/login",
            base_url="https://admin.example",
            data={"name": ADMIN_USER, "password": ADMIN_PASSWORD, "csrf_token": csrf.group(1)},
            headers={"Origin": "https://admin.example"},
        )
    assert response.status_code == 303
    (cookie,) = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("bridge_admin=")]
    flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"secure", "httponly"} <= flags
    assert "samesite=lax" in cookie.lower()


def test_hole7_the_session_cannot_be_forged_without_the_secret_key(admin_app: Flask) -> None:
    from flask.sessions import SecureCookieSessionInterface

    forger = Flask("forger")
    forger.secret_key = "guessed"
    signer = SecureCookieSessionInterface().get_signing_serializer(forger)
    assert signer is not None
    forged = signer.dumps({"uid": 1, "gen": 1, "seen": int(time.time()), "csrf": "x"})
    with admin_app.test_client() as client:
        client.set_cookie("bridge_admin", forged, path="/admin")
        assert client.get("/admin/").status_code == 303


def test_hole7_admin_pages_can_be_switched_off(make_admin_app: Callable[..., Flask]) -> None:
    app = make_admin_app(BRIDGE_ADMIN_ENABLED="false")
    assert not [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/admin")]
    with app.test_client() as client:
        for path in ("/admin/", "/admin/login", "/admin/orders"):
            assert client.get(path).status_code == 404, path
        assert client.post("/admin/login", data={"name": "x"}).status_code == 404
        assert client.get("/healthz").status_code == 200


def test_hole11_a_page_number_of_non_ascii_digits_is_refused_not_a_crash(
    admin_client: FlaskClient,
) -> None:
    for path in ("/admin/orders", "/admin/receipts"):
        for page in ("\N{SUPERSCRIPT TWO}", "\N{FULLWIDTH DIGIT ONE}", "\u0663", "9" * 5000):
            response = admin_client.get(path, query_string={"page": page})
            assert response.status_code == 400, (path, page[:5])
            assert "page must be a whole number" in _body(response)
        assert admin_client.get(path, query_string={"page": "2"}).status_code == 200
    for row in ("%C2%B2", "9" * 30):
        assert admin_client.get(f"/admin/orders/{row}").status_code == 404


def test_hole7_the_shared_password_is_gone_from_settings_and_recipes() -> None:
    assert "admin_password" not in Settings.model_fields
    recipes = [
        REPO / "README.md",
        REPO / "deploy" / "env.example",
        REPO / "deploy" / "compose.yaml",
        REPO / "deploy" / "README.md",
        *(REPO / "deploy" / "k8s").glob("*.yaml"),
        *(REPO / "deploy" / "systemd").iterdir(),
    ]
    for path in recipes:
        assert "BRIDGE_ADMIN_PASSWORD" not in path.read_text(), path


def test_hole7_sessions_survive_a_secret_key_rotation_and_die_with_the_old_key(
    make_admin_app: Callable[..., Flask],
) -> None:
    old_key, new_key = "first-secret-key-0123456789abcdef", "second-secret-key-0123456789abcdef"
    first = make_admin_app(BRIDGE_SECRET_KEY=old_key)
    add_admin_user()
    with first.test_client() as client:
        assert sign_in(client).status_code == 303
        cookie = client.get_cookie("bridge_admin", path="/admin")
        assert cookie is not None
    for keys, status in [(f"{new_key},{old_key}", 200), (new_key, 303)]:
        app = make_admin_app(BRIDGE_SECRET_KEY=keys)
        with app.test_client() as client:
            client.set_cookie("bridge_admin", cookie.value, path="/admin")
            assert client.get("/admin/").status_code == status, keys
