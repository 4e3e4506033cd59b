"""Order Desk's webhook format: the signature, the text it covers, and what parses as an order."""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import quote, unquote

import pytest

from bridge.orderdesk import webhook
from bridge.sim.orderdesk import sign_order as simulator_sign_order

API_KEY = "od-test-key-7c1e55a0b9d24f16a8e3"


def test_signature_is_hmac_sha256_of_the_text_keyed_with_the_api_key() -> None:
    text = '{"id": "1"}'
    expected = hmac.new(API_KEY.encode(), text.encode(), hashlib.sha256).hexdigest()

    assert webhook.sign_order(text, API_KEY) == expected


def test_the_simulator_signs_with_the_bridges_own_code() -> None:
    assert simulator_sign_order is webhook.sign_order


def test_signature_accepts_both_variants_and_nothing_else() -> None:
    text = '{"id": "1", "note": "50%41 off"}'

    assert webhook.verify_signature(text, webhook.sign_order(text, API_KEY), API_KEY)
    decoded = webhook.sign_order(unquote(text), API_KEY).upper()
    assert webhook.verify_signature(text, decoded, API_KEY)
    assert not webhook.verify_signature(text, webhook.sign_order(text, "other-key"), API_KEY)
    assert not webhook.verify_signature(text, None, API_KEY)
    assert not webhook.verify_signature(text, "é" * 64, API_KEY)


def test_signed_text_is_the_form_the_signature_covers() -> None:
    original = '{"id": "48211937"}'
    encoded = original.replace("4", quote("4"))

    signature = webhook.sign_order(original, API_KEY)

    assert webhook.signed_text(original, signature, API_KEY) == original
    assert webhook.signed_text(encoded, signature, API_KEY) == original
    assert webhook.signed_text(encoded, webhook.sign_order(encoded, API_KEY), API_KEY) == encoded


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{", "not valid JSON"),
        ("[1]", "must be an object, not an array"),
        ("null", "must be an object, not null"),
        ('{"note": "x"}', "has no 'id'"),
        ('{"id": "1", "x": NaN}', "NaN, which JSON does not allow"),
        ('{"id": "1", "x": 1e999}', "a number too large to store"),
        ('{"id": "1", "x": "a\\u0000b"}', "a NUL character"),
        ('{"id": "1", "x": "\\ud800"}', "an unpaired surrogate escape"),
        ('{"id": " 1"}', "at most 32 characters, no spaces"),
        (json.dumps({"id": "1" * 33}), "at most 32 characters, no spaces"),
    ],
)
def test_parse_order_says_what_is_wrong(text: str, reason: str) -> None:
    with pytest.raises(webhook.BadPayload, match=reason):
        webhook.parse_order(text)


def test_parse_order_keeps_the_signed_text_and_the_json() -> None:
    text = '{"id": 48211937, "source_id": "1001"}'

    parsed = webhook.parse_order(text)

    assert (parsed.order.id, parsed.data["source_id"], parsed.text) == ("48211937", "1001", text)
    assert parsed.sha256 == hashlib.sha256(text.encode()).hexdigest()
