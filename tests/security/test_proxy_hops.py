"""Behind a reverse proxy, the throttles count real clients and the admin cookie knows https.

Without ``BRIDGE_PROXY_HOPS`` every client behind a proxy shares the proxy's address (one refusal
budget, one sign-in lockout for all) and an https site looks like http. Forwarded headers are
believed only for the configured number of proxies, so a client cannot pick its own address.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask, jsonify, request

from tests.conftest import reset_caches
from web import create_app


@pytest.fixture
def app_with(bridge_env: pytest.MonkeyPatch) -> Iterator:
    def build(hops: int | None) -> Flask:
        if hops is not None:
            bridge_env.setenv("BRIDGE_PROXY_HOPS", str(hops))
        bridge_env.setenv("BRIDGE_ADMIN_ENABLED", "false")
        reset_caches()
        app = create_app()

        @app.get("/_peer")
        def peer() -> object:
            return jsonify(addr=request.remote_addr, secure=request.is_secure)

        return app

    yield build


FORWARDED = {"X-Forwarded-For": "198.51.100.7, 203.0.113.9", "X-Forwarded-Proto": "https"}


def test_forwarded_headers_are_ignored_without_trusted_proxies(app_with) -> None:
    answer = app_with(None).test_client().get("/_peer", headers=FORWARDED).get_json()
    assert answer == {"addr": "127.0.0.1", "secure": False}


def test_one_trusted_proxy_gives_the_client_it_saw_and_its_scheme(app_with) -> None:
    answer = app_with(1).test_client().get("/_peer", headers=FORWARDED).get_json()
    # The proxy appended the last entry; the entry before it is the client's own claim.
    assert answer == {"addr": "203.0.113.9", "secure": True}


def test_two_trusted_proxies_reach_one_entry_further(app_with) -> None:
    headers = FORWARDED | {"X-Forwarded-Proto": "https, http"}
    answer = app_with(2).test_client().get("/_peer", headers=headers).get_json()
    assert answer == {"addr": "198.51.100.7", "secure": True}
