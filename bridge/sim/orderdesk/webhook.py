"""Order Desk's "Post Order JSON" rule action, as the simulator performs it.

Order Desk form-posts the order as JSON text in the field ``order``, names the store in
``X-Order-Desk-Store-Id`` and signs the text with ``X-Order-Desk-Hash``
(docs/orderdesk.md#the-webhook-post-order-json).
Only 200 and 201 count as delivered: 202, 204, any other status, a timeout or a refused connection
is a failure and is retried after a delay. Deliveries run on a small bounded pool so that a burst
of orders reaches the receiver concurrently, the way the real service hammers an intake endpoint.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests
import structlog

from bridge.orderdesk.webhook import sign_order

log = structlog.get_logger(__name__)

USER_AGENT = "OrderDesk/2.0 (+https://www.orderdesk.com) PostOrderJSON"
# Order Desk: "retried up to 5 times over about two hours"; the simulator spreads its
# default attempts the same way and repeats the last gap when more attempts are configured.
DEFAULT_RETRY_DELAYS: tuple[float, ...] = (60.0, 600.0, 1200.0, 2400.0, 3000.0)
DELIVERED = (200, 201)


@dataclass(frozen=True)
class RuleConfig:
    """One store's Post Order JSON action: where to post and how hard to retry."""

    url: str
    max_attempts: int = 10
    retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS
    timeout: float = 30.0

    @classmethod
    def build(
        cls,
        url: str,
        *,
        max_attempts: int = 10,
        retry_delays: Sequence[float] | None = None,
        timeout: float = 30.0,
    ) -> RuleConfig:
        if not url.startswith(("http://", "https://")):
            raise ValueError("the rule URL must start with http:// or https://")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        delays = tuple(float(d) for d in retry_delays) if retry_delays else DEFAULT_RETRY_DELAYS
        return cls(url=url, max_attempts=max_attempts, retry_delays=delays, timeout=timeout)

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before ``attempt`` (2 is the first retry)."""
        return self.retry_delays[min(attempt - 2, len(self.retry_delays) - 1)]


@dataclass(frozen=True)
class WebhookAttempt:
    """One POST of one order; ``status`` is None when no HTTP answer came back."""

    store_id: str
    order_id: str
    attempt: int
    status: int | None
    error: str | None
    at: float = field(default_factory=time.time)

    @property
    def delivered(self) -> bool:
        return self.status in DELIVERED


@dataclass(frozen=True)
class Delivery:
    """What one rule run sends: the order text is fixed when the event fires."""

    store_id: str
    order_id: str
    json_text: str
    api_key: str = field(repr=False)
    rule: RuleConfig


class WebhookDispatcher:
    """Runs deliveries on a bounded pool and knows how many are still pending."""

    def __init__(self, on_attempt: Callable[[WebhookAttempt], None], workers: int = 8) -> None:
        self._on_attempt = on_attempt
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="od-webhook")
        self._pending = 0
        self._idle = threading.Condition()
        self._stopping = threading.Event()

    def submit(self, delivery: Delivery) -> None:
        with self._idle:
            self._pending += 1
        try:
            future = self._pool.submit(self._deliver, delivery)
        except RuntimeError:
            self._finished()
            raise
        # A done-callback also runs for deliveries cancelled by close(), so the count stays true.
        future.add_done_callback(lambda _: self._finished())

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    @property
    def pending(self) -> int:
        with self._idle:
            return self._pending

    def close(self) -> None:
        """Stop retrying; an attempt already on the wire may still finish in the background."""
        self._stopping.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _deliver(self, delivery: Delivery) -> None:
        for attempt in range(1, delivery.rule.max_attempts + 1):
            if attempt > 1 and self._stopping.wait(delivery.rule.delay_before(attempt)):
                return
            if self._stopping.is_set():
                return
            status, error = self._post(delivery)
            self._on_attempt(
                WebhookAttempt(delivery.store_id, delivery.order_id, attempt, status, error)
            )
            if status in DELIVERED:
                return
        log.warning(
            "webhook_gave_up",
            store_id=delivery.store_id,
            order_id=delivery.order_id,
            attempts=delivery.rule.max_attempts,
        )

    @staticmethod
    def _post(delivery: Delivery) -> tuple[int | None, str | None]:
        headers = {
            "User-Agent": USER_AGENT,
            "X-Order-Desk-Store-Id": delivery.store_id,
            "X-Order-Desk-Hash": sign_order(delivery.json_text, delivery.api_key),
        }
        try:
            response = requests.post(
                delivery.rule.url,
                data={"order": delivery.json_text},
                headers=headers,
                timeout=delivery.rule.timeout,
            )
        except requests.RequestException as exc:
            return None, type(exc).__name__
        if response.status_code in DELIVERED:
            return response.status_code, None
        # Order Desk treats anything "higher than 201" as a failure, 202 and 204 included.
        return response.status_code, f"HTTP {response.status_code} is not 200 or 201"

    def _finished(self) -> None:
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()
