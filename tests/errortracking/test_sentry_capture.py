"""Errors reach Sentry with nothing secret and no customer's address in them.

A real HTTP server on loopback plays Sentry's ingest endpoint and keeps every envelope the SDK
sends; the DSN points at it. A Flask route (the bridge's own app) and a Celery task each fail
while holding an API key, the secret key, an Authorization header and an order's address, and
the captured envelopes are searched, decompressed and whole, for every one of those values.
"""

from __future__ import annotations

import gzip
import json
import threading
import warnings
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sentry_sdk

from bridge import errortracking
from bridge.jobs.celery_config import make_celery
from bridge.settings import Settings
from web import create_app

ORDER = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "order-typical.json").read_text()
)
API_KEY = "od-live-key-7Hq2ZpX9mW4vTn8R"
BACKEND_SECRET = "wh-password-Lk3Vb9Qe2Ys"
SECRET_KEY = "sentry-test-secret-key-Jc8Nf2Rt5Wq0Xv7Mz4Lp"
# Every one of these must be absent from what reaches Sentry.
FORBIDDEN = [
    API_KEY,
    BACKEND_SECRET,
    SECRET_KEY,
    ORDER["email"],
    ORDER["shipping"]["address1"],
    ORDER["shipping"]["last_name"],
    ORDER["shipping"]["phone"],
]


class Ingest:
    """Sentry's envelope endpoint: keeps each request body, decompressed."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.arrived = threading.Condition()
        ingest = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                elif encoding == "br":
                    import brotli  # type: ignore[import-not-found]

                    body = brotli.decompress(body)
                with ingest.arrived:
                    ingest.bodies.append(body)
                    ingest.arrived.notify_all()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *_: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.server.server_address[1]}/1"

    def events(self) -> list[dict[str, object]]:
        """The error events among the envelopes' items."""
        found = []
        for body in self.bodies:
            lines = body.split(b"\n")
            for header, payload in zip(lines[1::2], lines[2::2], strict=False):
                if json.loads(header).get("type") == "event":
                    found.append(json.loads(payload))
        return found


@pytest.fixture
def ingest(monkeypatch: pytest.MonkeyPatch) -> Iterator[Ingest]:
    server = Ingest()
    monkeypatch.setenv("SENTRY_DSN", server.dsn)
    monkeypatch.setenv("BRIDGE_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("BRIDGE_ENV", "dev")
    yield server
    sentry_sdk.get_client().close(timeout=2)
    sentry_sdk.get_global_scope().set_client(None)
    server.server.shutdown()
    server.server.server_close()


def _flushed(ingest: Ingest) -> bytes:
    sentry_sdk.flush(timeout=5)
    assert ingest.bodies, "no envelope reached the local Sentry endpoint"
    return b"\n".join(ingest.bodies)


def _assert_clean(sent: bytes) -> None:
    text = sent.decode()
    leaked = [value for value in FORBIDDEN if value in text]
    assert leaked == [], f"sent to Sentry: {leaked}"


def test_a_failing_flask_route_reaches_sentry_scrubbed(ingest: Ingest) -> None:
    settings = Settings()
    app = create_app(settings)
    assert sentry_sdk.get_client().is_active()

    def boom() -> str:
        api_key = API_KEY  # a decrypted store key in a local variable
        order = dict(ORDER)
        raise RuntimeError(f"warehouse refused {order['email']} with api_key={api_key}")

    app.add_url_rule("/boom", "boom", boom, methods=["POST"])
    app.config["PROPAGATE_EXCEPTIONS"] = False
    answer = app.test_client().post(
        "/boom?token=" + API_KEY,
        data={"order": json.dumps(ORDER)},
        headers={
            "ORDERDESK-API-KEY": API_KEY,
            "Authorization": f"Basic {BACKEND_SECRET}",
            "X-Warehouse-Password": BACKEND_SECRET,
        },
    )
    assert answer.status_code == 500

    sent = _flushed(ingest)
    [event] = ingest.events()
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"  # type: ignore[index]
    assert event["environment"] == "dev"
    assert event["release"] == errortracking.release()
    assert event["request"]["url"].endswith("/boom")  # type: ignore[index]
    # Scrubbing leaves what Sentry needs to file the event.
    assert event["sdk"]["name"].startswith("sentry.python")  # type: ignore[index]
    assert event["contexts"]["runtime"]["name"] == "CPython"  # type: ignore[index]
    # data_collection: no frame's local variables, no request body, no cookies, no user.
    frames = event["exception"]["values"][-1]["stacktrace"]["frames"]  # type: ignore[index]
    assert frames and not [frame for frame in frames if "vars" in frame]
    assert not {"data", "cookies"} & event["request"].keys()  # type: ignore[union-attr]
    assert "user" not in event
    _assert_clean(sent)


def test_a_failing_celery_task_reaches_sentry_scrubbed(ingest: Ingest) -> None:
    settings = Settings()
    assert errortracking.init_error_tracking(settings)
    app = make_celery(settings)
    app.conf.task_always_eager = True

    @app.task(name="tests.sentry.fail")
    def fail(order: dict[str, object], password: str) -> None:
        raise ValueError(f"could not ship to {order['email']}, password={password}")

    with pytest.raises(ValueError):
        fail.delay(ORDER, BACKEND_SECRET).get()

    sent = _flushed(ingest)
    [event] = ingest.events()
    assert event["exception"]["values"][-1]["type"] == "ValueError"  # type: ignore[index]
    assert "could not ship to" in event["exception"]["values"][-1]["value"]  # type: ignore[index]
    _assert_clean(sent)


def test_starting_sentry_warns_of_nothing(ingest: Ingest) -> None:
    """sentry-sdk deprecated ``send_default_pii`` for ``data_collection``; the bridge uses the
    current options, so starting it raises no DeprecationWarning (made an error here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert errortracking.init_error_tracking(Settings())


def test_without_a_dsn_nothing_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SENTRY_DSN", raising=False)
    assert errortracking.init_error_tracking(Settings(_env_file=None)) is False


def test_the_scrubber_keeps_what_debugging_needs() -> None:
    scrubber = errortracking.Scrubber([SECRET_KEY])
    event = scrubber.value(
        {
            "message": f"order 48211937 for {ORDER['email']} failed; key {SECRET_KEY}",
            "extra": {"store_id": 7, "shipping": ORDER["shipping"], "ApiKey": API_KEY},
            "url": "redis://:hunter2secret@redis:6379/0",
        }
    )
    assert event == {
        "message": "order 48211937 for [scrubbed] failed; key [scrubbed]",
        "extra": {"store_id": 7, "shipping": "[scrubbed]", "ApiKey": "[scrubbed]"},
        "url": "redis://:[scrubbed]@redis:6379/0",
    }
