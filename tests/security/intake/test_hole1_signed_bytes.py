"""Hole 1: one captured webhook must never become a second order, whatever its encoding.

The intake accepts the HMAC of the ``order`` field as received or of its URL-decoded form. An
attacker holding one signed webhook can percent-encode characters of the field (``"%34821..."``):
the decoded text still matches the signature, so the intake must parse that decoded text, the
bytes it verified, and not the raw field (which names a new order id). Every malleation below is
sent over real HTTP against both accepting paths and must answer 403 or ``duplicate``; the
number of orders in PostgreSQL stays one.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

import pytest
import requests

from bridge.intake import accept
from bridge.intake.storecache import store_cache
from bridge.models import Order
from bridge.settings import get_settings
from tests.intake.conftest import STORE_ID, count, fixture_order, order_row, signed_headers

OD_ID = "48211937"
FORM = "application/x-www-form-urlencoded"


def _signed_text(orderdesk_order_id: str = OD_ID) -> str:
    """Compact JSON as Order Desk posts it: no newlines, spaces only inside values."""
    order = fixture_order("typical")
    order["id"] = orderdesk_order_id
    return json.dumps(order, separators=(",", ":"))


ORIGINAL = _signed_text()
SIGNATURE = signed_headers(ORIGINAL)["X-Order-Desk-Hash"]
assert " " in ORIGINAL and '"email":"dana.reyes@example.com"' in ORIGINAL


def _hex(text: str, *, upper: bool = True) -> str:
    return "".join(f"%{ord(char):02X}" if upper else f"%{ord(char):02x}" for char in text)


def _swap(old: str, new: str, text: str = ORIGINAL) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def _form(*fields: tuple[str, str]) -> bytes:
    return "&".join(f"{quote_plus(name)}={quote_plus(value)}" for name, value in fields).encode()


@dataclass(frozen=True)
class Attempt:
    """One replay of the captured webhook: the body as sent and its headers."""

    body: bytes
    content_type: str = FORM
    store_id: str = STORE_ID
    signature: str = SIGNATURE

    def headers(self) -> dict[str, str]:
        return {
            "Content-Type": self.content_type,
            "X-Order-Desk-Store-Id": self.store_id,
            "X-Order-Desk-Hash": self.signature,
        }


def _field(value: str) -> Attempt:
    """The ``order`` field holds ``value`` once the form is decoded."""
    return Attempt(_form(("order", value)))


ENCODED_DIGIT = _swap(f'"id":"{OD_ID}"', f'"id":"%34{OD_ID[1:]}"')


def _multipart(value: str) -> Attempt:
    boundary = "x-bridge-boundary-7f3a"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="order"\r\n\r\n'
        f"{value}\r\n--{boundary}--\r\n"
    ).encode()
    return Attempt(body, f"multipart/form-data; boundary={boundary}")


MALLEATIONS: dict[str, Attempt] = {
    "replayed-as-captured": _field(ORIGINAL),
    "encoded-digit-in-id": _field(ENCODED_DIGIT),
    "every-id-digit-encoded-lowercase": _field(
        _swap(f'"id":"{OD_ID}"', f'"id":"{_hex(OD_ID, upper=False)}"')
    ),
    "mixed-case-hex": _field(
        _swap(f'"id":"{OD_ID}"', f'"id":"%34{OD_ID[1:]}"').replace(
            '"email":"dana', '"e%6Dail":"da%6ea', 1
        )
    ),
    "encoded-quotes-around-id": _field(_swap(f'"id":"{OD_ID}"', f"%22id%22:%22{OD_ID}%22")),
    "encoded-closing-quote-swallows-next-key": _field(
        _swap(f'"id":"{OD_ID}","email":"', f'"id":"{OD_ID}%22,%22email%22:%22')
    ),
    "whole-field-encoded": _field(quote(ORIGINAL, safe="")),
    "double-encoded-digit": _field(_swap(f'"id":"{OD_ID}"', f'"id":"%2534{OD_ID[1:]}"')),
    "plus-for-space-in-field": _field(ORIGINAL.replace(" ", "+")),
    "space-as-percent-20-in-body": Attempt(b"order=" + quote(ORIGINAL, safe="").encode()),
    "lowercase-hex-in-body": Attempt(
        re.sub(
            r"%[0-9A-F]{2}", lambda hit: hit.group().lower(), "order=" + quote(ORIGINAL, safe="")
        ).encode()
    ),
    "encoded-ampersand-and-equals-in-field": Attempt(
        (
            "order=" + quote(ORIGINAL, safe="") + "%26order%3D" + quote(ENCODED_DIGIT, safe="")
        ).encode()
    ),
    "encoded-field-name": Attempt(
        b"%6Frder=" + quote(ENCODED_DIGIT, safe="").encode() + b"&order=" + b"x"
    ),
    "second-order-field-after": Attempt(
        _form(("order", ORIGINAL), ("order", _signed_text("48211938")))
    ),
    "second-order-field-before": Attempt(
        _form(("order", _signed_text("48211938")), ("order", ORIGINAL))
    ),
    "encoded-digit-in-multipart": _multipart(ENCODED_DIGIT),
    "unicode-escape-in-id": _field(_swap(f'"id":"{OD_ID}"', f'"id":"\\u0034{OD_ID[1:]}"')),
    "overlong-utf8-digit": _field(_swap(f'"id":"{OD_ID}"', f'"id":"%C0%B4{OD_ID[1:]}"')),
    "latin-1-charset": Attempt(_form(("order", ENCODED_DIGIT)), f"{FORM}; charset=latin-1"),
    "uppercase-signature": Attempt(_form(("order", ENCODED_DIGIT)), signature=SIGNATURE.upper()),
    "store-id-trailing-space": Attempt(_form(("order", ENCODED_DIGIT)), store_id=f"{STORE_ID} "),
    "store-id-leading-zero": Attempt(_form(("order", ENCODED_DIGIT)), store_id=f"0{STORE_ID}"),
}


@pytest.fixture
def fast_path_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Watches the one-statement accept (it still runs): the order ids it was asked to insert."""
    calls: list[str] = []
    real = accept.accept_new_order

    def watched(database_url: str, order: dict, *args: object) -> int | None:
        calls.append(order["orderdesk_order_id"])
        return real(database_url, order, *args)

    monkeypatch.setattr(accept, "accept_new_order", watched)
    yield calls


def _snapshot_is_warm() -> bool:
    settings = get_settings()
    snapshot = store_cache.get(settings.database_url, STORE_ID, settings.store_cache_seconds)
    return snapshot is not None


def _deliver(url: str, attempt: Attempt) -> tuple[int, dict]:
    response = requests.post(url, data=attempt.body, headers=attempt.headers(), timeout=10)
    return response.status_code, response.json()


def test_hole1_no_malleation_of_a_captured_webhook_makes_a_new_order(
    store: str, serve: Callable[[], str], path: str, fast_path_calls: list[str]
) -> None:
    url = serve()
    headers = signed_headers(ORIGINAL)
    first = requests.post(url, data={"order": ORIGINAL}, headers=headers, timeout=10)
    assert first.json() == {"result": "accepted", "order_id": OD_ID}

    answers = {}
    for name, attempt in MALLEATIONS.items():
        assert _snapshot_is_warm() == (path == "fast-path")
        answers[name] = _deliver(url, attempt)

    orders = count(Order)
    assert orders == 1, f"{orders - 1} forged order(s)"
    unexpected = {
        name: answer
        for name, answer in answers.items()
        if answer != (200, {"result": "duplicate", "order_id": OD_ID})
        and not (answer[0] == 403 and "error" in answer[1])
    }
    assert unexpected == {}
    assert order_row(OD_ID).idempotency_key == f"od-{STORE_ID}-{OD_ID}"
    # On the fast path the decoded malleations did reach the one-statement accept, as the
    # signed order id, and it inserted nothing.
    if path == "fast-path":
        assert fast_path_calls and set(fast_path_calls) == {OD_ID}
    else:
        assert fast_path_calls == []


def test_hole1_the_decoded_text_is_what_is_stored_when_only_it_matches(
    store: str, serve: Callable[[], str], path: str, fast_path_calls: list[str]
) -> None:
    """A legacy signer (``rawurldecode`` first) of a new order: the order is the signed text."""
    url = serve()
    warm_up = _signed_text("900001")
    requests.post(url, data={"order": warm_up}, headers=signed_headers(warm_up), timeout=10)
    signed = _signed_text("900002")
    sent = _swap('"id":"900002"', '"id":"%39%30%30%30%30%32"', signed)

    status, body = _deliver(
        url, Attempt(_form(("order", sent)), signature=signed_headers(signed)["X-Order-Desk-Hash"])
    )

    assert (status, body) == (200, {"result": "accepted", "order_id": "900002"})
    row = order_row("900002")
    assert row.payload == json.loads(signed)
    assert row.payload_sha256 == hashlib.sha256(signed.encode()).hexdigest()
    assert count(Order) == 2
    assert fast_path_calls == (["900002"] if path == "fast-path" else [])
