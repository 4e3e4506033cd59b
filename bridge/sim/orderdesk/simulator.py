"""A faithful Order Desk to run the bridge against: REST API v2, rate limit, faults, webhooks.

It is part of the product, not only a test double: a 3PL points a trial bridge at it before going
live, ``bridge dev`` runs it, and the test-suite talks to it over real HTTP on loopback. The
behaviour follows the Order Desk API as ``docs/orderdesk.md#the-simulator`` describes it; where
Order Desk documents nothing the choice is written down in ``store`` and ``api`` (this package).

The simulator is thread-safe: werkzeug serves each request on its own thread, webhook deliveries
run on a pool, and tests poke the state from the main thread, all through one lock. Sleeping
(latency, ambiguous timeouts, retry gaps) always happens outside that lock.

It builds its app from the ``api`` and ``control`` blueprints, which know it only through the
small protocols they declare, so the dependency runs one way. Control from another process goes
through the JSON endpoints under ``/_sim/`` and ``OrderDeskSimulatorClient``.
"""

from __future__ import annotations

import copy
import hmac
import json
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import Flask

from bridge.sim.orderdesk.api import WRITE_METHODS, MethodOverride, Verdict, build_api
from bridge.sim.orderdesk.control import build_control
from bridge.sim.orderdesk.limits import Faults, LeakyBucket
from bridge.sim.orderdesk.store import DEFAULT_FOLDERS, ApiError, Ids, StoreState
from bridge.sim.orderdesk.webhook import Delivery, RuleConfig, WebhookAttempt, WebhookDispatcher
from bridge.sim.server import BackgroundServer


@dataclass(frozen=True)
class RequestRecord:
    """One answered API request; ``path`` is relative to ``/api/v2``."""

    method: str
    path: str
    store_id: str | None
    status: int
    at: float = field(default_factory=time.time)
    tokens_remaining: int | None = None


class OrderDeskSimulator:
    """An in-memory Order Desk account with any number of stores, served over HTTP."""

    def __init__(
        self,
        bucket_size: int = 20,
        refill_per_second: float = 3.0,
        rate_limit: bool = True,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        webhook_workers: int = 8,
    ) -> None:
        self.lock = threading.RLock()
        self._bucket_size = bucket_size
        self._refill_per_second = refill_per_second
        self._rate_limit = rate_limit
        self._host = host
        self._port = port
        self._ids = Ids()
        self._stores: dict[str, StoreState] = {}
        self._buckets: dict[str, LeakyBucket] = {}
        self._rules: dict[str, RuleConfig] = {}
        self._faults = Faults()
        self._requests: list[RequestRecord] = []
        self._webhooks: list[WebhookAttempt] = []
        self._stopping = threading.Event()
        self._dispatcher = WebhookDispatcher(self._record_attempt, workers=webhook_workers)
        self._server: BackgroundServer | None = None
        self.app = self._build_app()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> OrderDeskSimulator:
        self._server = BackgroundServer(MethodOverride(self.app), self._host, self._port).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._dispatcher.close()
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> OrderDeskSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """The server root (control endpoints live under ``/_sim/``)."""
        if self._server is None:
            raise RuntimeError("the simulator is not started")
        return self._server.url

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the simulator is not started")
        return self._server.port

    @property
    def url(self) -> str:
        """The API base the bridge is configured with, e.g. ``http://127.0.0.1:PORT/api/v2``."""
        return f"{self.base_url}/api/v2"

    # -- stores, orders, inventory -----------------------------------------------------------

    def add_store(
        self,
        store_id: str,
        api_key: str,
        name: str = "Demo Store",
        folders: dict[int, str] | None = None,
    ) -> None:
        store_id = str(store_id)
        if not api_key:
            raise ValueError("a store needs an API key")
        with self.lock:
            self._stores[store_id] = StoreState(
                store_id=store_id,
                api_key=api_key,
                name=name,
                folders=dict(folders or DEFAULT_FOLDERS),
                ids=self._ids,
            )
            self._buckets[store_id] = LeakyBucket(self._bucket_size, self._refill_per_second)

    def store_ids(self) -> list[str]:
        with self.lock:
            return list(self._stores)

    def folders(self, store_id: str) -> dict[int, str]:
        with self.lock:
            return dict(self._store(store_id).folders)

    def create_order(
        self,
        store_id: str,
        order: dict[str, Any],
        *,
        folder_name: str | None = None,
        fire_rule: bool = True,
        date_added: str | None = None,
    ) -> dict[str, Any]:
        """An order arrives from a cart ("Order is Imported"); the rule posts it if configured.

        ``date_added`` ("YYYY-MM-DD HH:MM:SS", UTC) back-dates the order for date-filter tests.
        """
        with self.lock:
            store = self._store(store_id)
            folder_id = store.folder_id_named(folder_name) if folder_name else None
            stored = store.add_order(order, folder_id=folder_id, date_added=date_added)
            if fire_rule and store.store_id in self._rules:
                self._fire(store, [stored["id"]])
            return copy.deepcopy(stored)

    def order(self, store_id: str, order_id: str) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self._store(store_id).get_order(order_id))

    def orders(self, store_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(list(self._store(store_id).orders.values()))

    def folder_name_of(self, store_id: str, order_id: str) -> str:
        with self.lock:
            store = self._store(store_id)
            return store.folder_name(store.get_order(order_id)["folder_id"])

    def shipments(self, store_id: str, order_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(self._store(store_id).get_order(order_id)["order_shipments"])

    def history(self, store_id: str, order_id: str) -> list[dict[str, Any]]:
        with self.lock:
            store = self._store(store_id)
            return copy.deepcopy(store.history[store.get_order(order_id)["id"]])

    def inventory(self, store_id: str) -> list[dict[str, Any]]:
        with self.lock:
            items = self._store(store_id).inventory.values()
            return copy.deepcopy(sorted(items, key=lambda item: item["id"]))

    def add_inventory_item(self, store_id: str, item: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self._store(store_id).add_inventory(item))

    # -- the Post Order JSON rule ------------------------------------------------------------

    def configure_rule(
        self,
        store_id: str,
        url: str,
        *,
        max_attempts: int = 10,
        retry_delays: Sequence[float] | None = None,
        timeout: float = 30.0,
    ) -> None:
        """Post Order JSON to ``url`` when an order is created (or the event is run by hand)."""
        rule = RuleConfig.build(
            url, max_attempts=max_attempts, retry_delays=retry_delays, timeout=timeout
        )
        with self.lock:
            self._rules[self._store(store_id).store_id] = rule

    def post_folder(self, store_id: str, folder_name: str) -> int:
        """Run the rule on every order in a folder, as the "run the event" button does."""
        with self.lock:
            store = self._store(store_id)
            folder_id = store.folder_id_named(folder_name)
            ids = [o["id"] for o in store.orders.values() if int(o["folder_id"]) == folder_id]
            self._fire(store, ids)
            return len(ids)

    def post_order(self, store_id: str, order_id: str) -> None:
        """Send one order again now, with the rule's retries (the manual re-send)."""
        with self.lock:
            store = self._store(store_id)
            self._fire(store, [store.get_order(order_id)["id"]])

    def wait_for_webhooks(self, timeout: float = 10) -> bool:
        """True once no delivery is pending, retrying or on the wire."""
        return self._dispatcher.wait_idle(timeout)

    @property
    def webhooks_pending(self) -> int:
        return self._dispatcher.pending

    @property
    def webhook_log(self) -> list[WebhookAttempt]:
        with self.lock:
            return list(self._webhooks)

    # -- observation and faults --------------------------------------------------------------

    @property
    def request_log(self) -> list[RequestRecord]:
        with self.lock:
            return list(self._requests)

    def calls(self, method: str | None = None, path: str | None = None) -> int:
        """Count answered requests; a ``path`` ending in ``/`` matches as a prefix."""
        with self.lock:
            return sum(1 for record in self._requests if _matches(record, method, path))

    @property
    def count_429(self) -> int:
        with self.lock:
            return sum(1 for record in self._requests if record.status == 429)

    def set_faults(
        self,
        *,
        latency: float = 0.0,
        error_rate: float = 0.0,
        error_status: int = 500,
        storm_429_seconds: float = 0.0,
        timeout_after_write: int = 0,
        hang_seconds: float = 2.0,
        paths: Sequence[str] | None = None,
        seed: int | None = None,
    ) -> None:
        """Replace the faults in force (every argument left out is turned off)."""
        faults = Faults.build(
            latency=latency,
            error_rate=error_rate,
            error_status=error_status,
            storm_429_seconds=storm_429_seconds,
            timeout_after_write=timeout_after_write,
            hang_seconds=hang_seconds,
            paths=paths,
            seed=seed,
        )
        with self.lock:
            self._faults = faults

    def clear_faults(self) -> None:
        with self.lock:
            self._faults = Faults()

    def reset_log(self) -> None:
        with self.lock:
            self._requests.clear()
            self._webhooks.clear()

    # -- used by the HTTP layer --------------------------------------------------------------

    def authenticate(self, store_id: str | None, api_key: str) -> StoreState | None:
        with self.lock:
            store = self._stores.get(store_id or "")
        if store is None or not hmac.compare_digest(store.api_key.encode(), api_key.encode()):
            return None
        return store

    def admit(self, store_id: str, method: str, path: str) -> Verdict:
        """Apply the 429 storm, the bucket, latency and error faults, in that order."""
        with self.lock:
            faults = self._faults
            faulty = faults.applies_to(path)
            storm = faults.storm_retry_after() if faulty else 0
        bucket = self._buckets[store_id]
        if storm:
            return Verdict(0, (429, "Too Many Requests", {"X-Retry-After": str(storm)}))
        if self._rate_limit:
            admission = bucket.take()
            if not admission.allowed:
                headers = {"X-Retry-After": str(admission.retry_after)}
                return Verdict(0, (429, "Too Many Requests", headers))
            tokens = admission.tokens_remaining
        else:
            tokens = self._bucket_size
        if not faulty:
            return Verdict(tokens)
        if faults.latency:
            self.pause(faults.latency)
        with self.lock:
            failed = faults.roll_error()
            hang = method in WRITE_METHODS and not failed and faults.claim_hang()
        if failed:
            return Verdict(tokens, (faults.error_status, "Simulated server error", {}))
        return Verdict(tokens, hang_seconds=faults.hang_seconds if hang else 0.0)

    def pause(self, seconds: float) -> None:
        """Sleep that ends early when the simulator stops."""
        self._stopping.wait(seconds)

    def record_request(
        self, method: str, path: str, store_id: str | None, status: int, tokens: int | None
    ) -> None:
        with self.lock:
            self._requests.append(
                RequestRecord(method, path, store_id, status, time.time(), tokens)
            )

    def control_state(self, store_id: str) -> list[dict[str, Any]]:
        """Every order of a store with its folder name, shipments and history, for ``/_sim/``."""
        with self.lock:
            store = self._store(store_id)
            return [
                {
                    **copy.deepcopy(order),
                    "folder_name": store.folder_name(order["folder_id"]),
                    "order_history": copy.deepcopy(store.history[order["id"]]),
                }
                for order in store.orders.values()
            ]

    def request_counts(self) -> dict[str, Any]:
        with self.lock:
            counts = Counter(f"{record.method} {record.path}" for record in self._requests)
            return {
                "total": len(self._requests),
                "count_429": sum(1 for record in self._requests if record.status == 429),
                "calls": dict(counts),
            }

    # -- internals ---------------------------------------------------------------------------

    def _build_app(self) -> Flask:
        app = Flask(__name__)
        app.json.sort_keys = False  # type: ignore[attr-defined]
        app.register_blueprint(build_api(self))
        app.register_blueprint(build_control(self))
        return app

    def _store(self, store_id: str) -> StoreState:
        store = self._stores.get(str(store_id))
        if store is None:
            raise KeyError(f"unknown store {store_id}")
        return store

    def _fire(self, store: StoreState, order_ids: list[str]) -> None:
        rule = self._rules.get(store.store_id)
        if rule is None:
            raise ApiError(f"store {store.store_id} has no Post Order JSON rule")
        for order_id in order_ids:
            self._dispatcher.submit(
                Delivery(
                    store_id=store.store_id,
                    order_id=order_id,
                    json_text=json.dumps(store.orders[order_id]),
                    api_key=store.api_key,
                    rule=rule,
                )
            )

    def _record_attempt(self, attempt: WebhookAttempt) -> None:
        with self.lock:
            self._webhooks.append(attempt)


def _matches(record: RequestRecord, method: str | None, path: str | None) -> bool:
    if method is not None and record.method != method.upper():
        return False
    if path is None:
        return True
    return record.path == path or (path.endswith("/") and record.path.startswith(path))
