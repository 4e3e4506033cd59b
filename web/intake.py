"""``POST /webhooks/orderdesk``: the HTTP side of the intake, kept thin around ``bridge.intake``.

It bounds the body (413 beyond ``max_body_bytes`` whether or not a Content-Length was sent),
parses the form itself, hands over to the core, answers, and only then sends the work the core
committed (``followups.hand_off``: a new order goes onto the workers' Redis list), after the
answer has gone out, so a dead broker (kombu spends seconds giving up on a refused connection)
never holds up Order Desk's request; anything not sent is found again by the sweeper, because
the database row is the truth.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Sequence

import structlog
from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

from bridge.intake.handler import handle
from bridge.intake.request import IntakeRequest
from bridge.intake.result import TOO_LARGE, IntakeResult
from bridge.jobs import followups
from bridge.jobs.followups import Message
from bridge.metrics import WEBHOOK_SECONDS, WEBHOOKS
from bridge.orderdesk.webhook import ORDER_FIELD, STORE_HEADER
from bridge.settings import Settings

log = structlog.get_logger(__name__)

bp = Blueprint("intake", __name__)

READ_CHUNK = 64 * 1024
# After a failed publish, skip publishing for this long: each attempt against a dead broker
# costs kombu seconds, and the sweeper re-sends whatever was skipped.
BROKER_DOWN_SECONDS = 10.0


class Publisher:
    """Publishes the intake's committed follow-up work once the answer has gone out.

    The work runs in the WSGI ``close`` of the response, on the request's own thread: Order Desk
    already has its 200 by then, so even a dead broker's slow refusal costs it nothing, and no
    webhook pays for a thread hand-off. After a refusal the broker is left alone for a while.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down_until = 0.0

    def publish_after(self, response: Response, messages: Sequence[Message]) -> None:
        if messages:
            response.call_on_close(lambda: self.send(list(messages)))

    def send(self, messages: list[Message]) -> None:
        for message in messages:
            with self._lock:
                broker_down = time.monotonic() < self._down_until
            if broker_down:
                log.warning(
                    "enqueue_skipped", reason="broker down", task=message.task, args=message.args
                )
            elif not all(followups.hand_off([message])):
                with self._lock:
                    self._down_until = time.monotonic() + BROKER_DOWN_SECONDS


publisher = Publisher()


def _settings() -> Settings:
    return current_app.config["BRIDGE_SETTINGS"]


def _read_body(limit: int) -> bytes:
    """The whole body, refusing it as soon as it passes ``limit`` (chunked bodies included)."""
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()
    stream = request.stream
    buffer = bytearray()
    while chunk := stream.read(READ_CHUNK):
        buffer += chunk
        if len(buffer) > limit:
            raise RequestEntityTooLarge()
    return bytes(buffer)


def _order_field(body: bytes, limit: int) -> str | None:
    # Our own parser: Flask's request.form would cap form fields at its 500 kB default.
    parser = FormDataParser(max_form_memory_size=limit, max_content_length=limit)
    stream = io.BytesIO(body)
    _, form, _ = parser.parse(stream, request.mimetype, len(body), request.mimetype_params)
    return form.get(ORDER_FIELD)


def _observe(outcome: str, status: int, started: float, result: IntakeResult | None) -> None:
    elapsed = time.perf_counter() - started
    claimed = (request.headers.get(STORE_HEADER) or "")[:64]
    WEBHOOKS.labels(outcome=outcome).inc()
    WEBHOOK_SECONDS.observe(elapsed)
    log.info(
        "webhook",
        store_id=result.store_id if result else claimed,
        orderdesk_order_id=result.orderdesk_order_id if result else "",
        outcome=outcome,
        status=status,
        reason=result.reason if result else "",
        ms=round(elapsed * 1000, 1),
    )


@bp.post("/webhooks/orderdesk")
def orderdesk_webhook() -> tuple[Response, int]:
    """Order Desk's Post Order JSON rule lands here; see docs/architecture.md#intake-contract."""
    started = g.intake_started = time.perf_counter()
    limit = _settings().max_body_bytes
    body = _read_body(limit)
    result = handle(
        IntakeRequest(
            body=body,
            order_field=_order_field(body, limit),
            headers=request.headers,
            remote_addr=request.remote_addr or "",
        )
    )
    _observe(result.outcome, result.status, started, result)
    response = jsonify(result.body)
    if result.retry_after:
        response.headers["Retry-After"] = str(result.retry_after)
    publisher.publish_after(response, result.follow_ups)
    return response, result.status


@bp.app_errorhandler(RequestEntityTooLarge)
def too_large(_exc: RequestEntityTooLarge) -> tuple[Response, int]:
    limit = _settings().max_body_bytes
    if request.blueprint == bp.name:
        _observe(TOO_LARGE, 413, g.get("intake_started", time.perf_counter()), None)
    return jsonify(error=f"payload too large (limit {limit} bytes)"), 413
