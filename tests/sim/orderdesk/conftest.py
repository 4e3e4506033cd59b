"""Fixtures for the Order Desk simulator tests: the simulator and a scriptable webhook receiver.

Everything runs over real HTTP on loopback; the receiver is a tiny Flask app that answers the
statuses a test scripts, so retry behaviour is observed from the outside, as a bridge would see it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask, request

from bridge.sim.orderdesk import OrderDeskSimulator
from bridge.sim.server import BackgroundServer

STORE_ID = "123456"
API_KEY = "sim-test-key-0123456789abcdef"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.fixture
def sim() -> Iterator[OrderDeskSimulator]:
    with OrderDeskSimulator() as simulator:
        simulator.add_store(STORE_ID, API_KEY, name="Acme Goods")
        yield simulator


@pytest.fixture
def api(sim: OrderDeskSimulator) -> Iterator[Api]:
    with requests.Session() as session:
        yield Api(sim.url, session)


@dataclass
class Api:
    """Authenticated calls to the simulated API, as any Order Desk client makes them."""

    base: str
    session: requests.Session
    headers: dict[str, str] = field(
        default_factory=lambda: {"ORDERDESK-STORE-ID": STORE_ID, "ORDERDESK-API-KEY": API_KEY}
    )

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 5)
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.session.request(method, f"{self.base}{path}", headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("DELETE", path, **kwargs)


@pytest.fixture
def typical_order() -> dict[str, Any]:
    return json.loads((FIXTURES / "order-typical.json").read_text())


@dataclass
class Received:
    order_field: str
    headers: dict[str, str]
    content_type: str


class Receiver:
    """A webhook endpoint answering scripted statuses (then ``default_status``)."""

    def __init__(self) -> None:
        self.script: list[int] = []
        self.default_status = 200
        self.delay = 0.0
        self.received: list[Received] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.release = threading.Event()
        self._cond = threading.Condition()
        self.app = Flask(__name__)
        self.app.add_url_rule("/intake", view_func=self._intake, methods=["POST"])

    def _intake(self) -> tuple[str, int]:
        with self._cond:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            status = self.script.pop(0) if self.script else self.default_status
        if self.delay:
            self.release.wait(self.delay)
        with self._cond:
            self.in_flight -= 1
            self.received.append(
                Received(
                    request.form.get("order", ""),
                    dict(request.headers),
                    request.content_type or "",
                )
            )
            self._cond.notify_all()
        return ("{}" if status not in (204,) else ""), status

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.received) >= count, timeout)

    def stays_at(self, count: int, seconds: float) -> bool:
        """True when no further request arrives within ``seconds``."""
        deadline = time.monotonic() + seconds
        with self._cond:
            self._cond.wait_for(lambda: len(self.received) > count, deadline - time.monotonic())
            return len(self.received) == count


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    hook = Receiver()
    with BackgroundServer(hook.app) as server:
        yield hook, f"{server.url}/intake"
        hook.release.set()
