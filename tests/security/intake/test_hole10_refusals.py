"""Hole 10: refused webhooks cost a bounded number of rows, whoever floods the intake.

Refusals the store did not sign spend a per-address budget (429 with ``Retry-After`` beyond it,
nothing written) and leave only a sample of receipts: the first of a quiet address, then at
most one per ``BRIDGE_REFUSAL_RECEIPT_SECONDS``. Checked over real HTTP with the buckets in
Redis and in the process, counting ``webhook_receipts`` rows in PostgreSQL.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

import pytest

from bridge.models import Order, WebhookReceipt
from tests.conftest import reset_caches
from tests.intake.conftest import STORE_ID, count, fixture_text, signed_headers

FORGED = fixture_text("typical")
BAD_HASH = {"X-Order-Desk-Store-Id": STORE_ID, "X-Order-Desk-Hash": "0" * 64}
UNKNOWN_STORE = {"X-Order-Desk-Store-Id": "999999", "X-Order-Desk-Hash": "0" * 64}


def _post(
    url: str, headers: dict[str, str], text: str = FORGED, *, source: str = "127.0.0.1"
) -> tuple[int, dict, dict[str, str]]:
    """POST from the loopback address ``source``, so a test can be several clients."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(
        parts.hostname, parts.port, timeout=10, source_address=(source, 0)
    )
    try:
        body = urlencode({"order": text}) if text is not None else ""
        connection.request(
            "POST",
            parts.path,
            body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read()), dict(response.getheaders())
    finally:
        connection.close()


@pytest.fixture(params=["local", "redis"])
def buckets(request: pytest.FixtureRequest, bridge_env: pytest.MonkeyPatch) -> str:
    """Where the buckets live: this process, or the shared Redis (``BRIDGE_REDIS_URL``)."""
    if request.param == "redis":
        request.getfixturevalue("redis_url")
    return request.param


def _limits(bridge_env: pytest.MonkeyPatch, **values: str) -> None:
    for name, value in values.items():
        bridge_env.setenv(f"BRIDGE_{name.upper()}", value)
    reset_caches()


def test_hole10_refusals_above_the_budget_are_429_and_write_nothing(
    store: str, serve: Callable[[], str], buckets: str, bridge_env: pytest.MonkeyPatch
) -> None:
    # Every refusal within the budget keeps its receipt here, to count the budget alone.
    _limits(bridge_env, refusal_burst="5", refusals_per_minute="1", refusal_receipt_seconds="0.001")
    url = serve()

    answers = [_post(url, BAD_HASH if n % 2 else UNKNOWN_STORE) for n in range(12)]
    answers.append(_post(url, BAD_HASH, text=None))  # no order field at all

    assert [status for status, _, _ in answers] == [403] * 5 + [429] * 8
    assert count(WebhookReceipt) == 5
    for _, body, headers in answers[5:]:
        assert body == {"error": "too many refused requests from this address"}
        assert 1 <= int(headers["Retry-After"]) <= 60
    # Another address has its own budget; a signed webhook from the throttled one goes through.
    assert _post(url, BAD_HASH, source="127.0.0.2")[0] == 403
    assert _post(url, signed_headers(FORGED), FORGED)[1]["result"] == "accepted"
    assert count(Order) == 1
    assert count(WebhookReceipt) == 7


def test_hole10_receipts_of_a_refusal_flood_are_sampled(
    store: str, serve: Callable[[], str], buckets: str, bridge_env: pytest.MonkeyPatch
) -> None:
    interval = 5.0
    _limits(bridge_env, refusal_burst="1000", refusals_per_minute="60000")
    _limits(bridge_env, refusal_receipt_seconds=str(interval))
    url = serve()

    started = time.monotonic()
    flood = [_post(url, BAD_HASH)[0] for _ in range(100)]
    other = [_post(url, UNKNOWN_STORE, source="127.0.0.3")[0] for _ in range(40)]
    assert time.monotonic() - started < interval, "the flood must fit in one interval"

    assert set(flood) == set(other) == {403}
    assert count(WebhookReceipt) == 2  # the first refusal of each address
    time.sleep(interval - (time.monotonic() - started) + 0.1)
    assert {_post(url, BAD_HASH)[0] for _ in range(40)} == {403}
    assert count(WebhookReceipt) == 3  # one more once the interval has passed


def test_hole10_ipv6_clients_are_counted_by_their_64_and_mapped_ipv4_as_ipv4() -> None:
    from bridge.intake import refusals

    assert refusals.client_key("2001:db8:1:2:aaaa::1") == refusals.client_key("2001:db8:1:2::9")
    assert refusals.client_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert refusals.client_key("2001:db8:1:3::1") != refusals.client_key("2001:db8:1:2::1")
    assert refusals.client_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert refusals.client_key("") == "unknown"


def test_hole10_behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget(
    store: str, serve: Callable[[], str], bridge_env: pytest.MonkeyPatch
) -> None:
    # All requests come from one peer (the proxy); only BRIDGE_PROXY_HOPS tells clients apart.
    _limits(bridge_env, refusal_burst="2", refusals_per_minute="1", proxy_hops="1")
    url = serve()

    def from_client(address: str) -> int:
        return _post(url, BAD_HASH | {"X-Forwarded-For": address})[0]

    assert [from_client("198.51.100.7") for _ in range(3)] == [403, 403, 429]
    assert from_client("203.0.113.9") == 403
