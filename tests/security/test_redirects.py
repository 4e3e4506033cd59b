"""Hole 6: no Order Desk or warehouse call follows a redirect, so credentials stay at home.

Two real loopback servers: the first answers every request with a redirect to the second, which
records the headers it receives. ``requests`` keeps custom headers (``ORDERDESK-API-KEY``, a
warehouse's key header) across hosts, so before the fix the key reached the second server.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import SecretStr

from bridge.backends.http import ApiClient
from bridge.backends.models import FulfillmentOrder, Line, ShipTo
from bridge.backends.shipstation import ShipStationBackend, ShipStationConfig
from bridge.backends.simulated import SimulatedBackend, SimulatedConfig
from bridge.orderdesk.client import OrderDeskClient
from bridge.remote.errors import RedirectRefused
from bridge.remote.ratelimit import LocalLeakyBucket

OD_KEY = "od-key-0123456789abcdef0123456789"
WAREHOUSE_KEY = "wh-key-abcdef0123456789abcdef"
WAREHOUSE_SECRET = "wh-secret-0123456789abcdef012"
CREDENTIAL_HEADERS = ("orderdesk-api-key", "authorization", "x-api-key")


class _Server:
    """A loopback HTTP server in a thread, with a handler built per test."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Quiet(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def _drain(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)


def _recorder(seen: list[dict[str, str]]) -> type[BaseHTTPRequestHandler]:
    class Recorder(_Quiet):
        def _answer(self) -> None:
            self._drain()
            seen.append({k.lower(): v for k, v in self.headers.items()})
            body = json.dumps({"status": "success", "message": "", "orders": []}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

    return Recorder


def _redirector(target: str, status: int) -> type[BaseHTTPRequestHandler]:
    class Redirector(_Quiet):
        def _answer(self) -> None:
            self._drain()
            self.send_response(status)
            # A query credential in the Location must not be echoed in our error either.
            self.send_header("Location", f"{target}/elsewhere{self.path}?token=leaky-token-42")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = do_PUT = do_DELETE = _answer

    return Redirector


@pytest.fixture
def attacker() -> Iterator[tuple[_Server, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []
    server = _Server(_recorder(seen))
    yield server, seen
    server.close()


@pytest.fixture(params=[301, 302, 307, 308])
def redirecting(request: pytest.FixtureRequest, attacker) -> Iterator[tuple[str, _Server, list]]:
    target, seen = attacker
    server = _Server(_redirector(target.url, request.param))
    yield server.url, target, seen
    server.close()


def _no_credentials_reached(seen: list[dict[str, str]]) -> None:
    leaked = [h for headers in seen for h in CREDENTIAL_HEADERS if h in headers]
    assert leaked == [], f"credentials reached the redirect target: {leaked}"


def _assert_clear(message: str, target: _Server) -> None:
    assert f"{target.url}/elsewhere" in message
    assert "redirect" in message
    for secret in (OD_KEY, WAREHOUSE_KEY, WAREHOUSE_SECRET, "leaky-token-42", "token="):
        assert secret not in message


def _outcome(call: Callable[[], Any]) -> BaseException | None:
    """What the call raised (None if nothing), so the leak is checked before the error type."""
    try:
        call()
    except Exception as exc:
        return exc
    return None


def _orderdesk(base_url: str) -> OrderDeskClient:
    return OrderDeskClient(
        "123456", OD_KEY, base_url, limiter=LocalLeakyBucket(100, 100), read_retries=3
    )


def test_hole6_orderdesk_read_does_not_follow_redirect_with_the_api_key(redirecting) -> None:
    base_url, target, seen = redirecting
    with _orderdesk(base_url) as client:
        error = _outcome(client.test)
    _no_credentials_reached(seen)
    assert seen == []
    assert isinstance(error, RedirectRefused)
    _assert_clear(error.message, target)
    assert "BRIDGE_ORDERDESK_API_URL" in error.message


def test_hole6_orderdesk_write_does_not_follow_redirect_with_the_api_key(redirecting) -> None:
    base_url, target, seen = redirecting
    with _orderdesk(base_url) as client:
        error = _outcome(lambda: client.add_history_note("1001", "a note"))
    _no_credentials_reached(seen)
    assert seen == []
    assert isinstance(error, RedirectRefused)
    _assert_clear(error.message, target)


def test_hole6_orderdesk_redirect_is_not_retried(redirecting) -> None:
    base_url, _target, _seen = redirecting
    calls: list[str] = []
    client = _orderdesk(base_url)
    original = client._transport.session.request

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0])
        return original(*args, **kwargs)

    client._transport.session.request = counting  # type: ignore[method-assign]
    with client:
        error = _outcome(client.test)
    assert isinstance(error, RedirectRefused)
    assert calls == ["GET"], "a redirect is a configuration error: one request, no retry"


def test_hole6_api_client_custom_key_header_is_not_sent_to_redirect_target(redirecting) -> None:
    base_url, target, seen = redirecting
    api = ApiClient(base_url, service="warehouse", timeout=5, headers={"X-Api-Key": WAREHOUSE_KEY})
    try:
        read_error = _outcome(lambda: api.read("/orders", {"page": 1}))
        write_error = _outcome(lambda: api.write("POST", "/orders", {"n": 1}))
    finally:
        api.close()
    _no_credentials_reached(seen)
    assert seen == []
    assert isinstance(read_error, RedirectRefused)
    assert isinstance(write_error, RedirectRefused)
    _assert_clear(read_error.message, target)
    _assert_clear(write_error.message, target)
    assert not read_error.retryable


def _order() -> FulfillmentOrder:
    return FulfillmentOrder(
        order_number="1001",
        ship_to=ShipTo(name="A", address1="1 Main St", city="X", country="US"),
        lines=[Line(line_key="1", sku="SKU", quantity=1)],
    )


def test_hole6_shipstation_basic_auth_never_reaches_redirect_target(redirecting) -> None:
    base_url, target, seen = redirecting
    config = ShipStationConfig(
        base_url=base_url, api_key=SecretStr(WAREHOUSE_KEY), api_secret=SecretStr(WAREHOUSE_SECRET)
    )
    backend = ShipStationBackend(config)
    try:
        read_error = _outcome(lambda: backend.api.read("/orders", {"pageSize": 1}))
        write_error = _outcome(lambda: backend.submit(_order(), "key-1"))
    finally:
        backend.close()
    _no_credentials_reached(seen)
    assert seen == []
    assert isinstance(read_error, RedirectRefused)
    assert isinstance(write_error, RedirectRefused)
    _assert_clear(read_error.message, target)
    _assert_clear(write_error.message, target)


def test_hole6_simulated_backend_token_never_reaches_redirect_target(redirecting) -> None:
    base_url, target, seen = redirecting
    backend = SimulatedBackend(SimulatedConfig(base_url=base_url, api_key=SecretStr(WAREHOUSE_KEY)))
    try:
        error = _outcome(lambda: backend.submit(_order(), "key-1"))
    finally:
        backend.close()
    _no_credentials_reached(seen)
    assert seen == []
    assert isinstance(error, RedirectRefused)
    _assert_clear(error.message, target)
