"""Fixtures for the intake tests: a registered store, signed posts, live servers in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from bridge.db import session_scope
from bridge.models import Order, OrderEvent, WebhookReceipt
from bridge.orderdesk.webhook import sign_order
from bridge.settings import get_settings
from bridge.stores.registry import StoreRegistry
from tests.conftest import REDIS_SERVER
from web import create_app

PROJECT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
STORE_ID = "412345"
API_KEY = "od-test-key-7c1e55a0b9d24f16a8e3"
CANCEL_FOLDER_ID = "21658"
FOLDERS = {
    "New": "21654",
    "Prepared": "21655",
    "In Process": "21656",
    "Closed": "21657",
    "Canceled": CANCEL_FOLDER_ID,
}
URL = "/webhooks/orderdesk"


def fixture_text(name: str) -> str:
    return (FIXTURES / f"order-{name}.json").read_text(encoding="utf-8")


def fixture_order(name: str) -> dict[str, Any]:
    return json.loads(fixture_text(name))


def signed_headers(text: str, *, key: str = API_KEY, store_id: str = STORE_ID) -> dict[str, str]:
    return {"X-Order-Desk-Store-Id": store_id, "X-Order-Desk-Hash": sign_order(text, key)}


def count(model: type, *where: Any) -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def receipts() -> list[WebhookReceipt]:
    with session_scope() as session:
        return list(session.scalars(select(WebhookReceipt).order_by(WebhookReceipt.id)))


def order_row(orderdesk_order_id: str) -> Order:
    with session_scope() as session:
        return session.scalars(
            select(Order).where(Order.orderdesk_order_id == orderdesk_order_id)
        ).one()


def events(order_id: int) -> list[OrderEvent]:
    with session_scope() as session:
        return list(
            session.scalars(
                select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
            )
        )


@pytest.fixture
def store(database: str) -> str:
    """Store 412345 with a known API key and its folder map; returns the Order Desk store id."""
    with session_scope() as session:
        added = StoreRegistry(session).add(
            orderdesk_store_id=STORE_ID,
            name="Acme Goods",
            api_key=API_KEY,
            backend="simulated",
            backend_config={"base_url": "http://127.0.0.1:9"},
        )
        added.orderdesk_folders = dict(FOLDERS)
    return STORE_ID


@pytest.fixture
def app(database: str) -> Flask:
    return create_app(get_settings())


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def post(client: FlaskClient) -> Callable[..., Any]:
    """POST an order the way Order Desk does: form field ``order``, signed unless told otherwise."""

    def send(text: str, *, headers: dict[str, str] | None = None, **options: Any) -> Any:
        return client.post(
            URL,
            data={"order": text},
            headers=signed_headers(text) if headers is None else headers,
            **options,
        )

    return send


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[str]
    log_file: Path

    def stop(self) -> str:
        """Stop after publishing everything; returns what the server logged."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)
        return self.log_file.read_text()


@pytest.fixture
def live_server(database: str, tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start ``create_app()`` behind BackgroundServer in a subprocess with extra BRIDGE_* env."""
    started: list[LiveServer] = []

    def start(**env: str) -> LiveServer:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
        environment.update(env, PYTHONPATH=str(PROJECT), BRIDGE_LOG_FORMAT="json")
        log_file = tmp_path / f"live-server-{len(started)}.log"
        with log_file.open("w") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "tests.intake.live_server"],
                cwd=tmp_path,
                env=environment,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url.startswith("http://"):
            process.kill()
            process.wait()
            raise RuntimeError(f"live server did not start: {log_file.read_text()}")
        server = LiveServer(url, process, log_file)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def private_redis() -> Iterator[str]:
    """A Redis of our own: test runs in parallel share the suite's Redis and its queues.

    Falls back to database 13 of the suite's Redis when no ``redis-server`` binary exists.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        yield f"{REDIS_SERVER}/13"
        return
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        yield url
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def broker_url(private_redis: str) -> Iterator[str]:
    """An empty Redis to use as the Celery broker of a live server."""
    client = redis.Redis.from_url(private_redis)
    client.flushdb()
    yield private_redis
    client.flushdb()
    client.close()
