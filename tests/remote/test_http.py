"""The one sending layer over real HTTP on loopback: what each way of failing means.

A tiny threaded HTTP server plays the remote API from a script of answers, one per request, and
records every request it read, so each test shows both what the caller was told and what
reached the server.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from bridge.remote.errors import (
    AmbiguousOutcome,
    AuthError,
    RateLimited,
    RedirectRefused,
    TransientError,
)
from bridge.remote.http import Sender, Service, header_count, header_seconds, never_sent
from bridge.remote.ratelimit import LocalLeakyBucket, ServerGate

KEY = "k3y-0123456789abcdef"
SERVICE = Service(
    name="test API",
    base_url_setting="TEST_API_URL",
    remaining_header="X-Budget-Left",
    retry_after_headers=("Retry-After",),
    pause_when_exhausted=True,
)
DROP = "drop"


@dataclass
class Answer:
    status: int = 200
    body: Any = field(default_factory=lambda: {"ok": True})
    headers: dict[str, str] = field(default_factory=dict)


class Api:
    """A loopback server answering from ``script`` (then 200s), recording what it read."""

    def __init__(self) -> None:
        self.script: list[Answer | str] = []
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                api.seen.append((self.command, self.path, dict(self.headers.items())))
                answer = api.script.pop(0) if api.script else Answer()
                if answer == DROP:
                    # The whole request was read; the answer never comes.
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                assert isinstance(answer, Answer)
                raw = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body)
                data = raw.encode() if isinstance(raw, str) else raw
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def api() -> Iterator[Api]:
    server = Api()
    yield server
    server.close()


@pytest.fixture
def make_sender() -> Iterator[Any]:
    made: list[Sender] = []

    def make(base_url: str, **kwargs: Any) -> Sender:
        kwargs.setdefault("limiter", LocalLeakyBucket(100, 100))
        kwargs.setdefault("timeout", (2.0, 2.0))
        kwargs.setdefault("service", SERVICE)
        sender = Sender(base_url, headers={"X-Api-Key": KEY}, **kwargs)
        made.append(sender)
        return sender

    yield make
    for sender in made:
        sender.close()


def _body(response: requests.Response) -> Any:
    return response.json()


def _closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def test_a_closed_port_means_never_sent_so_even_a_write_is_transient(make_sender) -> None:
    sender = make_sender(_closed_port())
    with pytest.raises(TransientError) as caught:
        sender.send("POST", "/orders", json={"n": 1})
    assert "Connection refused" in caught.value.message
    assert (caught.value.service, caught.value.path) == ("test API", "/orders")
    assert KEY not in str(caught.value)


class CountingGate(ServerGate):
    """A limiter that counts the requests it let go."""

    def __init__(self) -> None:
        super().__init__("counting")
        self.acquired = 0

    def acquire(self, timeout: float | None = None) -> None:
        self.acquired += 1
        super().acquire(timeout)


def test_a_write_never_sent_is_safe_to_repeat_so_it_is_retried(make_sender) -> None:
    gate = CountingGate()
    sender = make_sender(_closed_port(), limiter=gate)
    with pytest.raises(TransientError):
        sender.call("POST", "/orders", _body, json={}, attempts=2)
    assert gate.acquired == 2


def test_a_dropped_connection_after_the_request_is_ambiguous_for_a_write(
    make_sender, api: Api
) -> None:
    api.script = [DROP]
    sender = make_sender(api.url)
    with pytest.raises(AmbiguousOutcome) as caught:
        sender.call("POST", "/orders", _body, json={"n": 1}, attempts=3)
    assert [method for method, _, _ in api.seen] == ["POST"], "a plain write is sent once"
    assert "look it up" in caught.value.message
    assert caught.value.retryable


def test_never_sent_tells_a_refused_connection_from_a_dropped_one(api: Api) -> None:
    with pytest.raises(requests.ConnectionError) as refused:
        requests.post(_closed_port(), timeout=2)
    api.script = [DROP]
    with pytest.raises(requests.ConnectionError) as dropped:
        requests.post(api.url, json={}, timeout=2)
    assert never_sent(refused.value)
    assert not never_sent(dropped.value)


def test_an_idempotent_write_is_retried_after_an_ambiguous_outcome(make_sender, api: Api) -> None:
    api.script = [DROP, Answer(body={"moved": 3})]
    sender = make_sender(api.url)
    assert sender.call("PUT", "/folder", _body, json={}, attempts=3, idempotent=True) == {
        "moved": 3
    }
    assert [method for method, _, _ in api.seen] == ["PUT", "PUT"]


def test_a_dropped_read_is_transient_and_retried(make_sender, api: Api) -> None:
    api.script = [DROP, Answer(body={"orders": []})]
    sender = make_sender(api.url)
    assert sender.call("GET", "/orders", _body, attempts=2) == {"orders": []}
    assert len(api.seen) == 2


def test_429_penalizes_the_limiter_and_the_read_waits_retry_after(make_sender, api: Api) -> None:
    api.script = [Answer(429, {"error": "slow down"}, {"Retry-After": "1"})]
    limiter = LocalLeakyBucket(100, 100)
    sender = make_sender(api.url, limiter=limiter)
    started = time.monotonic()
    assert sender.call("GET", "/orders", _body, attempts=2) == {"ok": True}
    assert time.monotonic() - started >= 0.95
    assert len(api.seen) == 2


def test_429_on_a_write_surfaces_with_the_servers_wait(make_sender, api: Api) -> None:
    api.script = [Answer(429, {}, {"Retry-After": "7"})]
    limiter = LocalLeakyBucket(100, 100)
    sender = make_sender(api.url, limiter=limiter)
    with pytest.raises(RateLimited) as caught:
        sender.send("POST", "/orders", json={})
    assert caught.value.retry_after == 7
    assert caught.value.status_code == 429
    # Everybody sharing the limiter now waits too.
    assert limiter.try_acquire() > 6


def test_our_own_limiter_closed_too_long_is_not_waited_out(make_sender, api: Api) -> None:
    gate = ServerGate("test")
    gate.penalize(30)
    sender = make_sender(api.url, limiter=gate, acquire_timeout=0.1)
    started = time.monotonic()
    with pytest.raises(RateLimited) as caught:
        sender.call("GET", "/orders", _body, attempts=4)
    assert time.monotonic() - started < 1
    assert 29 < caught.value.retry_after <= 30
    assert caught.value.status_code is None
    assert api.seen == []


def test_5xx_on_a_read_is_retried_until_it_succeeds(make_sender, api: Api) -> None:
    api.script = [Answer(503, {}), Answer(502, {}), Answer(body={"id": 1})]
    sender = make_sender(api.url)
    assert sender.call("GET", "/orders/1", _body, attempts=4) == {"id": 1}
    assert len(api.seen) == 3


def test_5xx_on_a_read_gives_up_as_transient(make_sender, api: Api) -> None:
    api.script = [Answer(500, {})] * 3
    sender = make_sender(api.url)
    with pytest.raises(TransientError) as caught:
        sender.call("GET", "/orders/1", _body, attempts=2)
    assert caught.value.status_code == 500
    assert len(api.seen) == 2


def test_5xx_on_a_write_is_ambiguous_and_not_retried(make_sender, api: Api) -> None:
    api.script = [Answer(500, {})]
    sender = make_sender(api.url)
    with pytest.raises(AmbiguousOutcome) as caught:
        sender.call("POST", "/orders", _body, json={}, attempts=3)
    assert caught.value.status_code == 500
    assert len(api.seen) == 1


def test_a_redirect_is_refused_without_following_it(make_sender, api: Api) -> None:
    elsewhere = Api()
    try:
        api.script = [Answer(302, {}, {"Location": f"{elsewhere.url}/steal?token=leak-42"})]
        sender = make_sender(api.url)
        with pytest.raises(RedirectRefused) as caught:
            sender.call("GET", "/orders", _body, attempts=3)
        assert elsewhere.seen == []
        assert len(api.seen) == 1, "a redirect is a setting to fix: not retried"
    finally:
        elsewhere.close()
    message = caught.value.message
    assert f"{elsewhere.url}/steal" in message and "TEST_API_URL" in message
    assert "leak-42" not in message and KEY not in message
    assert not caught.value.retryable


def test_401_is_an_auth_error_in_the_services_words_and_not_retried(make_sender, api: Api) -> None:
    api.script = [Answer(401, {"message": "bad key"})]
    service = Service(
        name="test API",
        base_url_setting="TEST_API_URL",
        refused_credentials=lambda response: f"refused: {response.json()['message']}",
    )
    sender = make_sender(api.url, service=service)
    with pytest.raises(AuthError) as caught:
        sender.call("GET", "/orders", _body, attempts=3)
    assert caught.value.message == "refused: bad key"
    assert caught.value.status_code == 401
    assert not caught.value.retryable
    assert len(api.seen) == 1


def test_an_exhausted_budget_closes_the_limiter_until_the_reset(make_sender, api: Api) -> None:
    api.script = [Answer(headers={"X-Budget-Left": "0", "Retry-After": "5"})]
    limiter = LocalLeakyBucket(100, 100)
    sender = make_sender(api.url, limiter=limiter)
    sender.send("GET", "/orders")
    assert limiter.try_acquire() > 4


def test_an_unreadable_answer_is_transient_for_a_read_and_ambiguous_for_a_write(
    make_sender, api: Api
) -> None:
    api.script = [Answer(body=b"<html>"), Answer(body=b"<html>")]
    sender = make_sender(api.url)
    with pytest.raises(TransientError):
        sender.json(sender.send("GET", "/orders"), "GET", "/orders")
    with pytest.raises(AmbiguousOutcome):
        sender.json(sender.send("POST", "/orders", json={}), "POST", "/orders")


def test_the_key_header_goes_with_every_request(make_sender, api: Api) -> None:
    sender = make_sender(api.url)
    sender.send("GET", "/orders", params={"page": 2})
    method, path, headers = api.seen[0]
    assert (method, path) == ("GET", "/orders?page=2")
    assert headers["X-Api-Key"] == KEY
    assert headers["User-Agent"].startswith("orderdesk-bridge/")


def test_rate_headers_are_read_defensively() -> None:
    assert header_seconds({"Retry-After": "soon", "X-Reset": "3"}, ("Retry-After", "X-Reset")) == 3
    assert header_seconds({"Retry-After": "-1"}, ("Retry-After",)) is None
    assert header_seconds({"Retry-After": "nan"}, ("Retry-After",)) is None
    assert header_count({"X-Left": "4.0"}, "X-Left") == 4
    assert header_count({"X-Left": "inf"}, "X-Left") is None
    assert header_count({"X-Left": "lots"}, "X-Left") is None
    assert header_count({}, None) is None
