"""Order Desk's webhook format: how a posted order is signed, and what a well-formed one is.

Order Desk's "Post Order JSON" rule form-posts the order as JSON text in the field ``order``,
names the store in ``X-Order-Desk-Store-Id`` and signs the text with ``X-Order-Desk-Hash``: the
lowercase hex HMAC-SHA256 of the text, keyed with the store's API key (``docs/orderdesk.md``).
The bridge's intake verifies with this module and the Order Desk simulator signs with it, so the
two can never disagree on the format.

Parsing is strict about what PostgreSQL could not store (NUL characters, unpaired surrogates,
infinite numbers) and about the shape (an object with an ``id`` that fits the orders table), so
whatever passes ``parse_order`` can be written as it is.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import pydantic

from bridge.orderdesk import payload

STORE_HEADER = "X-Order-Desk-Store-Id"
HASH_HEADER = "X-Order-Desk-Hash"
ORDER_FIELD = "order"

MAX_ORDER_ID = 32  # orders.orderdesk_order_id


def sign_order(json_text: str, api_key: str) -> str:
    """Lowercase hex HMAC-SHA256 of the posted JSON text, keyed with the store's API key."""
    return hmac.new(api_key.encode("utf-8"), json_text.encode("utf-8"), hashlib.sha256).hexdigest()


def signed_text(order_field: str, header_hash: str | None, api_key: str) -> str | None:
    """The text the signature covers, the field as received or its URL-decoded form; else None.

    HMAC-SHA256 of either is accepted: the current Order Desk sample signs the raw value; the
    2014 sample and the PHP client ``rawurldecode`` it first. The two differ only when the field
    holds ``%xx`` sequences. Callers must parse the text returned here and never the raw field:
    a captured webhook re-sent with characters percent-encoded (``"id":"%34821..."``) still
    decodes to the signed text, while its raw form names a new order. The bytes verified are the
    bytes parsed.
    """
    if not header_hash:
        return None
    expected = header_hash.strip().lower()
    if not expected.isascii():
        return None
    candidates = [order_field]
    if "%" in order_field:
        candidates.append(unquote(order_field))
    signed = None
    for candidate in candidates:
        # Every candidate is checked, so the time taken does not depend on which one matched.
        if hmac.compare_digest(sign_order(candidate, api_key), expected) and signed is None:
            signed = candidate
    return signed


def verify_signature(order_field: str, header_hash: str | None, api_key: str) -> bool:
    """Whether either form of the field is signed; parse ``signed_text``'s answer, not the field."""
    return signed_text(order_field, header_hash, api_key) is not None


class BadPayload(ValueError):
    """The ``order`` field cannot be taken as an Order Desk order; the message says why."""


@dataclass(frozen=True)
class ParsedOrder:
    """The posted order three ways: the JSON object, its typed view, and the text as signed."""

    data: dict[str, Any]
    order: payload.Order
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


# JSONB refuses NUL and unpaired surrogates; in JSON text both can only come from \u escapes.
_RISKY_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def _unstorable_text(value: Any) -> str | None:
    """Why PostgreSQL's JSONB would refuse a string somewhere in ``value``, if it would."""
    if isinstance(value, str):
        if "\x00" in value:
            return "a NUL character"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "an unpaired surrogate escape"
        return None
    children: Iterable[Any] = ()
    if isinstance(value, dict):
        children = (part for pair in value.items() for part in pair)
    elif isinstance(value, list):
        children = value
    for child in children:
        problem = _unstorable_text(child)
        if problem:
            return problem
    return None


def _finite(literal: str) -> float:
    number = float(literal)
    if not math.isfinite(number):
        raise BadPayload("the order JSON contains a number too large to store")
    return number


def _refuse_constant(name: str) -> Any:
    raise BadPayload(f"the order JSON contains {name}, which JSON does not allow")


def load_json(text: str) -> Any:
    """The JSON value of ``text``, refusing what JSON forbids and numbers too large to store."""
    try:
        return json.loads(text, parse_float=_finite, parse_constant=_refuse_constant)
    except BadPayload:
        raise
    except (ValueError, RecursionError):
        raise BadPayload("the 'order' field is not valid JSON") from None


_JSON_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number"}


def parse_order(text: str) -> ParsedOrder:
    """The posted JSON as an object plus its typed view, or ``BadPayload`` saying what is wrong."""
    return validate(text, load_json(text))


def validate(text: str, data: Any) -> ParsedOrder:
    """``data`` (``text`` already loaded by ``load_json``) as an order, or ``BadPayload``."""
    if not isinstance(data, dict):
        kind = _JSON_KINDS.get(type(data), "null" if data is None else "true/false")
        raise BadPayload(f"the 'order' JSON must be an object, not {kind}")
    raw_id = data.get("id")
    if raw_id is None or isinstance(raw_id, dict | list | bool) or not str(raw_id).strip():
        raise BadPayload("the order has no 'id'")
    problem = None
    if _RISKY_ESCAPE.search(text):
        try:
            problem = _unstorable_text(data)
        except RecursionError:
            problem = "too deep a nesting"
    if problem:
        raise BadPayload(f"the order JSON contains {problem}, which cannot be stored")
    try:
        order = payload.Order.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "order"
        reason = f"the order does not have Order Desk's shape: {where}: {first['msg']}"
        raise BadPayload(reason) from None
    except (ValueError, TypeError, ArithmeticError, RecursionError):
        raise BadPayload("the order does not have Order Desk's shape") from None
    if order.id != order.id.strip() or len(order.id) > MAX_ORDER_ID:
        raise BadPayload(f"the order id must be at most {MAX_ORDER_ID} characters, no spaces")
    return ParsedOrder(data=data, order=order, text=text)
