"""Verify and record one Order Desk webhook so that no order is lost or submitted twice.

Order Desk retries any answer above 201 and merchants re-send orders by hand, so the same order
arrives many times, sometimes concurrently. The guarantee rests on PostgreSQL alone: one
transaction writes the receipt and inserts the order with ``ON CONFLICT DO NOTHING`` (unique on
store + Order Desk id, and on the idempotency key made of them); a request that finds the row
already there locks it and decides what the repeat means (a plain duplicate, a newer payload before
or after submission, a corrected parked order, a cancellation). Work for Celery is only *described*
here (``IntakeResult.enqueue``): the caller publishes it after the commit, and the sweeper covers a
publish that never happens.

The busy case (the first delivery of a fulfillable order for a store this process has seen)
skips the transaction: ``accept_for_known_store`` checks the signature against the process's
snapshot of the store and writes order and receipt in one statement (``bridge.intake_accept``),
which also re-checks the store. Anything it cannot accept outright takes the full path here.
It spares the busy case a transaction and an ORM session (``bench/intake_bench.py`` measures it).

Requests refused before their signature checks out spend a budget per client address and
leave only a sample of receipts (``bridge.refusals``), so forged posts cannot fill the table.

This module knows nothing of Flask: ``web/intake.py`` reads the body and hands over an
``IntakeRequest``. Outcomes and bodies: docs/architecture.md#intake-contract, including the
answers to an order posted from the store's cancel folder (``{"result": "cancel_requested"}``,
or ``"cancel_refused"`` with a reason when the order has already left the warehouse).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import pydantic
import structlog
from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from bridge import refusals
from bridge.backends.fulfillment import Unfulfillable, to_fulfillment_order
from bridge.crypto import SecretError
from bridge.db import session_scope
from bridge.history import EventKind, record, transition
from bridge.intake_accept import accept_new_order
from bridge.jobs import queues
from bridge.models import Order, Store, WebhookReceipt, utcnow
from bridge.orderdesk import payload
from bridge.settings import get_settings
from bridge.states import TERMINAL, OrderState, can_move
from bridge.storecache import StoreSnapshot, store_cache
from bridge.stores.registry import StoreRegistry

log = structlog.get_logger(__name__)

STORE_HEADER = "X-Order-Desk-Store-Id"
HASH_HEADER = "X-Order-Desk-Hash"
ORDER_FIELD = "order"

ACCEPTED = "accepted"
DUPLICATE = "duplicate"
PARKED = "parked"
CANCEL_REQUESTED = "cancel_requested"
CANCEL_REFUSED = "cancel_refused"
INVALID = "invalid"
REFUSED = "refused"
UNAVAILABLE = "unavailable"
THROTTLED = "throttled"
TOO_LARGE = "too_large"

CANCELLED_BEFORE_ARRIVAL = "cancelled in Order Desk before it reached the bridge"
MAX_ORDER_ID = 32  # orders.orderdesk_order_id
OD_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

Enqueue = tuple[str, tuple[Any, ...]]


@dataclass(frozen=True)
class IntakeRequest:
    """One webhook as the web layer read it; ``order_field`` is None when the form lacks it."""

    body: bytes
    order_field: str | None
    headers: Mapping[str, str]
    remote_addr: str = ""

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None


@dataclass
class IntakeResult:
    """The answer for Order Desk plus the work to publish once the transaction is committed."""

    status: int
    body: dict[str, Any]
    outcome: str
    order_row_id: int | None = None
    enqueue: list[Enqueue] = field(default_factory=list)
    store_id: str = ""
    orderdesk_order_id: str = ""
    reason: str = ""
    # Seconds for a ``Retry-After`` header (429 answers only).
    retry_after: int = 0


class BadPayload(ValueError):
    """The ``order`` field cannot be taken as an Order Desk order; the message says why."""


@dataclass(frozen=True)
class ParsedOrder:
    data: dict[str, Any]
    order: payload.Order
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


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
    key = api_key.encode("utf-8")
    signed = None
    for candidate in candidates:
        mac = hmac.new(key, candidate.encode("utf-8"), hashlib.sha256).hexdigest()
        if hmac.compare_digest(mac, expected) and signed is None:
            signed = candidate
    return signed


def verify_signature(order_field: str, header_hash: str | None, api_key: str) -> bool:
    """Whether either form of the field is signed; parse ``signed_text``'s answer, not the field."""
    return signed_text(order_field, header_hash, api_key) is not None


def is_cancel_request(store: Store | StoreSnapshot, order_json: Mapping[str, Any]) -> bool:
    """An order posted while it sits in the store's cancel folder asks us to cancel it.

    The folder id is resolved through ``orderdesk_folders`` (filled from ``GET /store`` outside
    the request); a payload that names its folder is matched by name as well.
    """
    cancel_folder = (store.cancel_folder or "").strip()
    if not cancel_folder:
        return False
    folder_id = (store.orderdesk_folders or {}).get(cancel_folder)
    posted_id = order_json.get("folder_id")
    if folder_id is not None and posted_id is not None and str(posted_id) == str(folder_id):
        return True
    folder_name = order_json.get("folder_name")
    return isinstance(folder_name, str) and folder_name.strip() == cancel_folder


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


def _load_json(text: str) -> Any:
    try:
        return json.loads(text, parse_float=_finite, parse_constant=_refuse_constant)
    except BadPayload:
        raise
    except (ValueError, RecursionError):
        raise BadPayload("the 'order' field is not valid JSON") from None


_JSON_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number"}


def parse_order(text: str) -> ParsedOrder:
    """The posted JSON as an object plus its typed view, or ``BadPayload`` saying what is wrong."""
    return _validate(text, _load_json(text))


def _validate(text: str, data: Any) -> ParsedOrder:
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


def parse_od_time(value: str) -> datetime | None:
    """Order Desk's ``date_updated`` ("YYYY-MM-DD HH:MM:SS") as a naive UTC datetime."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        return datetime.strptime(value, OD_TIME_FORMAT)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def _is_newer(candidate: str, known: str) -> bool:
    new = parse_od_time(candidate)
    old = parse_od_time(known)
    return new is not None and (old is None or new > old)


def _clean(value: str | None, limit: int) -> str:
    """Text safe for a PostgreSQL column: no NUL, no unpaired surrogate, at most ``limit``."""
    safe = (value or "").replace("\x00", "").encode("utf-8", "backslashreplace").decode("utf-8")
    return safe[:limit]


def _peek_order_id(data: Any) -> str:
    value = data.get("id") if isinstance(data, dict) else None
    if isinstance(value, str | int) and not isinstance(value, bool):
        return _clean(str(value), 64)
    return ""


def why_unfulfillable(order: payload.Order) -> str | None:
    """Why the warehouse could not ship this order as sent, in words for the merchant."""
    try:
        to_fulfillment_order(order)
    except Unfulfillable as exc:
        return exc.reason
    return None


def order_row_values(store: Store | StoreSnapshot, parsed: ParsedOrder) -> dict[str, Any]:
    """The order row's columns taken from the payload (both accepting paths write these)."""
    order = parsed.order
    return {
        "store_id": store.id,
        "orderdesk_order_id": order.id,
        "order_number": (order.source_id.strip() or order.id)[:64],
        "payload": parsed.data,
        "payload_sha256": parsed.sha256,
        "orderdesk_updated_at": order.date_updated[:32],
        "idempotency_key": f"od-{store.orderdesk_store_id}-{order.id}",
    }


def receipt_values(
    request: IntakeRequest,
    store_row_id: int | None,
    claimed_store_id: str,
    orderdesk_order_id: str,
    result: IntakeResult,
) -> dict[str, Any]:
    """The receipt's columns; the body itself is never kept, only its hash and size."""
    return {
        "received_at": utcnow(),
        "store_id": store_row_id,
        "claimed_store_id": claimed_store_id,
        "orderdesk_order_id": orderdesk_order_id,
        "outcome": result.outcome,
        "http_status": result.status,
        "reason": result.reason,
        "body_sha256": hashlib.sha256(request.body).hexdigest(),
        "body_bytes": len(request.body),
        "remote_addr": _clean(request.remote_addr, 64),
    }


def _is_database_outage(exc: DBAPIError) -> bool:
    return isinstance(exc, OperationalError | InterfaceError) or exc.connection_invalidated


def handle(
    request: IntakeRequest,
    transaction: Callable[[], AbstractContextManager[Session]] = session_scope,
) -> IntakeResult:
    """Verify, record and decide one webhook in one transaction; never raises for bad input.

    A database outage answers 503 with nothing written, so Order Desk retries later.
    """
    try:
        accepted = accept_for_known_store(request)
        if accepted is not None:
            return accepted
        with transaction() as session:
            return _Intake(session, request).run()
    except DBAPIError as exc:
        if not _is_database_outage(exc):
            raise
        log.warning("intake_database_unavailable", error=type(exc).__name__)
        return IntakeResult(503, {"error": "database unavailable"}, UNAVAILABLE)
    except SecretError:
        log.error("intake_api_key_unreadable", store_id=_clean(request.header(STORE_HEADER), 64))
        error = "the store's API key cannot be read; check BRIDGE_SECRET_KEY"
        return IntakeResult(503, {"error": error}, UNAVAILABLE)


def accept_for_known_store(request: IntakeRequest) -> IntakeResult | None:
    """The busy case, a new order for a store this process knows, in one statement; else None.

    Only ever accepts: whatever it cannot accept outright (no snapshot, a signature that does
    not match the remembered key, bad JSON, a cancellation, an unfulfillable order, a store
    changed since the snapshot, an order already held) goes to the full path, which reads the
    store afresh and decides. See ``bridge.storecache`` and ``bridge.intake_accept``.
    """
    settings = get_settings()
    database_url = settings.database_url
    field_value = request.order_field
    if not database_url.startswith("postgresql") or not field_value:
        return None
    claimed = _clean(request.header(STORE_HEADER), 64).strip()
    store = store_cache.get(database_url, claimed, settings.store_cache_seconds)
    if store is None or not store.active:
        return None
    signed = signed_text(field_value, request.header(HASH_HEADER), store.api_key)
    if signed is None:
        return None
    try:
        parsed = parse_order(signed)
    except BadPayload:
        return None
    if is_cancel_request(store, parsed.data) or why_unfulfillable(parsed.order):
        return None
    od_id = parsed.order.id
    result = IntakeResult(
        200,
        {"result": ACCEPTED, "order_id": od_id},
        ACCEPTED,
        store_id=claimed,
        orderdesk_order_id=od_id,
    )
    row = {
        **order_row_values(store, parsed),
        "payload": parsed.text,
        "state": OrderState.RECEIVED.value,
    }
    receipt = receipt_values(request, store.id, claimed, od_id, result)
    new_id = accept_new_order(database_url, row, receipt, store.updated_at)
    if new_id is None:
        return None
    result.order_row_id = new_id
    result.enqueue = [(queues.SUBMIT_ORDER, (new_id,))]
    return result


class _Intake:
    """One request's decisions; every path ends in ``finish``, which writes the receipt.

    Except for refusals the store did not sign: those go through ``bridge.refusals`` first,
    which may answer 429 or skip the receipt, so forged posts cannot grow the table unbounded.
    """

    def __init__(self, session: Session, request: IntakeRequest) -> None:
        self.session = session
        self.request = request
        self.claimed = _clean(request.header(STORE_HEADER), 64).strip()
        self.store: Store | None = None
        self.data: Any = None
        self.json_error: BadPayload | None = None
        self.orderdesk_order_id = ""
        self.verified = False

    def run(self) -> IntakeResult:
        field_value = self.request.order_field
        if field_value is None or not field_value.strip():
            return self._refuse(400, INVALID, "the form field 'order' is missing or empty")
        self._read(field_value)

        if not self.claimed:
            return self._refuse(403, REFUSED, f"the {STORE_HEADER} header is missing")
        if self.claimed.isascii() and self.claimed.isdigit() and len(self.claimed) <= 32:
            self.store = StoreRegistry(self.session).find(self.claimed)
        if self.store is None:
            return self._refuse(403, REFUSED, f"unknown store {self.claimed!r}")
        if not self.store.active:
            return self._refuse(403, REFUSED, f"store {self.claimed} is disabled")
        signature = self.request.header(HASH_HEADER)
        if not signature:
            return self._refuse(403, REFUSED, f"the {HASH_HEADER} header is missing")
        api_key = StoreRegistry(self.session).api_key(self.store)
        store_cache.remember(get_settings().database_url, self.store, api_key)
        signed = signed_text(field_value, signature, api_key)
        if signed is None:
            return self._refuse(403, REFUSED, f"the {HASH_HEADER} header does not match")
        self.verified = True
        if signed != field_value:
            self._read(signed)

        if self.json_error:
            return self._refuse(400, INVALID, str(self.json_error))
        try:
            parsed = _validate(signed, self.data)
        except BadPayload as exc:
            return self._refuse(400, INVALID, str(exc))
        self.orderdesk_order_id = parsed.order.id
        return _Decision(self, parsed).run()

    def _read(self, text: str) -> None:
        """Parse ``text``; before the signature is checked only to name the order in a receipt."""
        self.data, self.json_error = None, None
        try:
            self.data = _load_json(text)
        except BadPayload as exc:
            self.json_error = exc
        self.orderdesk_order_id = _peek_order_id(self.data)

    def _refuse(self, status: int, outcome: str, reason: str) -> IntakeResult:
        """A refusal; one not signed by the store spends its sender's budget (``refusals``)."""
        result = IntakeResult(status, {"error": reason}, outcome, reason=reason)
        if self.verified:
            return self.finish(result)
        verdict = refusals.judge(self.request.remote_addr)
        if verdict.throttled:
            error = "too many refused requests from this address"
            throttled = IntakeResult(
                429, {"error": error}, THROTTLED, reason=error, retry_after=verdict.retry_after
            )
            return self._named(throttled)
        if not verdict.keep_receipt:
            return self._named(result)
        return self.finish(result)

    def finish(self, result: IntakeResult) -> IntakeResult:
        store_row_id = self.store.id if self.store is not None else None
        values = receipt_values(
            self.request, store_row_id, self.claimed, self.orderdesk_order_id, result
        )
        # A plain Core INSERT: the receipt is never read back, so skip the ORM's machinery.
        self.session.execute(insert(WebhookReceipt.__table__).values(**values))
        return self._named(result)

    def _named(self, result: IntakeResult) -> IntakeResult:
        result.store_id = self.claimed
        result.orderdesk_order_id = self.orderdesk_order_id
        return result


class _Decision:
    """What a signed, well-formed order means given what we already hold for it."""

    def __init__(self, intake: _Intake, parsed: ParsedOrder) -> None:
        assert intake.store is not None
        self.intake = intake
        self.session = intake.session
        self.store: Store = intake.store
        self.parsed = parsed
        self.od_id = parsed.order.id
        self.unfulfillable = why_unfulfillable(parsed.order)

    def run(self) -> IntakeResult:
        cancel = is_cancel_request(self.store, self.parsed.data)
        new_id = self._insert()
        if new_id is not None and not cancel and not self.unfulfillable:
            # The busy path: nothing more to change, so no ORM object is loaded at all.
            enqueue: list[Enqueue] = [(queues.SUBMIT_ORDER, (new_id,))]
            return self._finish(new_id, ACCEPTED, enqueue=enqueue)
        order = self._load(new_id)
        if new_id is not None:
            if cancel:
                transition(self.session, order, OrderState.CANCELLED, CANCELLED_BEFORE_ARRIVAL)
                order.reason = CANCELLED_BEFORE_ARRIVAL
                return self._answer(order, CANCEL_REQUESTED)
            return self._park(order, "parked: the order cannot be fulfilled as sent")
        if cancel:
            return self._cancel_known(order)
        if not _is_newer(self.parsed.order.date_updated, order.orderdesk_updated_at):
            return self._answer(order, DUPLICATE)
        state = OrderState(order.state)
        if state is OrderState.RECEIVED:
            self._refresh(order)
            record(
                self.session,
                order,
                EventKind.PAYLOAD_REFRESHED,
                "payload refreshed before submission",
            )
            if self.unfulfillable:
                return self._park(order, "parked: the refreshed order cannot be fulfilled")
            return self._answer(order, DUPLICATE)
        if state is OrderState.REJECTED:
            self._refresh(order)
            if self.unfulfillable:
                record(
                    self.session, order, EventKind.PAYLOAD_REFRESHED, "re-sent, still unfulfillable"
                )
                return self._park(order, None)
            transition(self.session, order, OrderState.RECEIVED, "re-sent with a correction")
            order.reason = None
            return self._answer(order, ACCEPTED, enqueue=[(queues.SUBMIT_ORDER, (order.id,))])
        order.changed_after_submission = True
        order.orderdesk_updated_at = self.parsed.order.date_updated[:32]
        record(
            self.session,
            order,
            EventKind.CHANGED_AFTER_SUBMISSION,
            "changed after submission: the warehouse still has the earlier version",
            date_updated=self.parsed.order.date_updated,
            payload_sha256=self.parsed.sha256,
        )
        return self._answer(order, DUPLICATE)

    def _insert(self) -> int | None:
        """The new row's id, or None when the order exists (a concurrent insert is waited for)."""
        dialect = self.session.get_bind().dialect.name
        upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        table = Order.__table__
        statement = (
            upsert(table)
            .values(**self._row_values(), state=OrderState.RECEIVED.value)
            # No conflict target: the idempotency key is unique too and derived from (store,
            # Order Desk id). Naming one index would let a racing insert of the same order
            # fail on the other with a unique violation instead of doing nothing.
            .on_conflict_do_nothing()
            .returning(table.c.id)
        )
        return self.session.execute(statement).scalar_one_or_none()

    def _load(self, new_id: int | None) -> Order:
        if new_id is not None:
            return self.session.get_one(Order, new_id)
        return self.session.execute(
            select(Order)
            .where(Order.store_id == self.store.id, Order.orderdesk_order_id == self.od_id)
            .with_for_update()
        ).scalar_one()

    def _row_values(self) -> dict[str, Any]:
        return order_row_values(self.store, self.parsed)

    def _refresh(self, order: Order) -> None:
        values = self._row_values()
        for name in ("payload", "payload_sha256", "order_number", "orderdesk_updated_at"):
            setattr(order, name, values[name])

    def _park(self, order: Order, message: str | None) -> IntakeResult:
        reason = self.unfulfillable or ""
        if order.state != OrderState.REJECTED:
            transition(self.session, order, OrderState.REJECTED, message or reason, reason=reason)
        order.reason = reason
        return self._answer(
            order,
            PARKED,
            reason=reason,
            enqueue=[(queues.PARK_IN_ORDERDESK, (order.id,))],
        )

    def _cancel_known(self, order: Order) -> IntakeResult:
        state = OrderState(order.state)
        if state in (OrderState.CANCEL_REQUESTED, OrderState.CANCELLED):
            return self._answer(order, DUPLICATE)
        if state is OrderState.REJECTED:
            # Parked orders never reached a warehouse: there is nothing to ask it.
            message = "cancelled in Order Desk while parked"
            transition(self.session, order, OrderState.CANCELLED, message)
            order.reason = message
            return self._answer(order, CANCEL_REQUESTED)
        if can_move(state, OrderState.CANCEL_REQUESTED):
            transition(self.session, order, OrderState.CANCEL_REQUESTED, "cancelled in Order Desk")
            return self._answer(
                order, CANCEL_REQUESTED, enqueue=[(queues.CANCEL_ORDER, (order.id,))]
            )
        if state in TERMINAL or state is OrderState.PARTIALLY_SHIPPED:
            reason = f"order {self.od_id} is already {state.value}; it can no longer be cancelled"
        else:
            reason = (
                f"order {self.od_id} is {state.value}: the bridge cannot tell whether the "
                "warehouse holds it, so a person must cancel it there"
            )
        record(
            self.session,
            order,
            EventKind.CANCEL_TOO_LATE,
            "cancel requested too late",
            reason=reason,
        )
        return self._answer(order, CANCEL_REFUSED, reason=reason)

    def _answer(
        self,
        order: Order,
        outcome: str,
        *,
        reason: str | None = None,
        enqueue: list[Enqueue] | None = None,
    ) -> IntakeResult:
        return self._finish(order.id, outcome, reason=reason, enqueue=enqueue)

    def _finish(
        self,
        order_row_id: int,
        outcome: str,
        *,
        reason: str | None = None,
        enqueue: list[Enqueue] | None = None,
    ) -> IntakeResult:
        body: dict[str, Any] = {"result": outcome, "order_id": self.od_id}
        if reason is not None:
            body["reason"] = reason
        result = IntakeResult(
            200,
            body,
            outcome,
            order_row_id=order_row_id,
            enqueue=enqueue or [],
            reason=reason or "",
        )
        return self.intake.finish(result)


@dataclass(frozen=True)
class TrustedIntake:
    """What ``take_trusted`` decided; ``inserted`` is True when this call created the order row."""

    result: IntakeResult
    inserted: bool


def take_trusted(session: Session, store: Store, parsed: ParsedOrder) -> TrustedIntake:
    """Decide an order the bridge fetched from Order Desk itself, exactly as a webhook's.

    Reconciliation lists orders with the store's own key, so there is no signature to check and
    no request to keep a receipt of; everything after that (duplicate, refresh, parking, cancel
    folder, acceptance) is the webhook's own ``_Decision``. Runs in the caller's transaction; the
    caller publishes ``result.enqueue`` after the commit, as the web layer does.
    """
    intake = _TrustedIntake(session, store, parsed)
    decision = _TrustedDecision(intake, parsed)
    result = decision.run()
    return TrustedIntake(result, decision.inserted)


class _TrustedIntake(_Intake):
    """An intake with the store already known and nothing to verify or receipt."""

    def __init__(self, session: Session, store: Store, parsed: ParsedOrder) -> None:
        headers = {STORE_HEADER: store.orderdesk_store_id}
        super().__init__(session, IntakeRequest(b"", parsed.text, headers))
        self.store = store
        self.orderdesk_order_id = parsed.order.id

    def finish(self, result: IntakeResult) -> IntakeResult:
        result.store_id = self.claimed
        result.orderdesk_order_id = self.orderdesk_order_id
        return result


class _TrustedDecision(_Decision):
    """The webhook's decisions, remembering whether the order row was new."""

    inserted = False

    def _insert(self) -> int | None:
        new_id = super()._insert()
        self.inserted = new_id is not None
        return new_id
