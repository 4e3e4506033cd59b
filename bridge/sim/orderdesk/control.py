"""Control endpoints (``/_sim/``) of the Order Desk simulator and a small client for them.

``bridge dev``, the CLI and benchmarks run the simulator in another process; these JSON endpoints
let them create stores and orders, configure the Post Order JSON rule, inject faults and read
back what happened. They are not rate limited, not logged as API calls and need no credentials:
the simulator only ever listens on a trusted interface.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import requests
from flask import Blueprint, Response, jsonify, request

from bridge.sim.orderdesk.store import ApiError
from bridge.sim.orderdesk.webhook import WebhookAttempt

CONTROL_PREFIX = "/_sim"


class Controls(Protocol):
    """The simulator's Python API the control endpoints expose; ``OrderDeskSimulator`` is one."""

    def add_store(
        self, store_id: str, api_key: str, name: str = ..., folders: dict[int, str] | None = ...
    ) -> None: ...

    def folders(self, store_id: str) -> dict[int, str]: ...

    def create_order(
        self,
        store_id: str,
        order: dict[str, Any],
        *,
        folder_name: str | None = ...,
        fire_rule: bool = ...,
        date_added: str | None = ...,
    ) -> dict[str, Any]: ...

    def control_state(self, store_id: str) -> list[dict[str, Any]]: ...

    def configure_rule(
        self,
        store_id: str,
        url: str,
        *,
        max_attempts: int = ...,
        retry_delays: Sequence[float] | None = ...,
        timeout: float = ...,
    ) -> None: ...

    def post_folder(self, store_id: str, folder_name: str) -> int: ...

    def post_order(self, store_id: str, order_id: str) -> None: ...

    set_faults: Callable[..., None]

    def request_counts(self) -> dict[str, Any]: ...

    @property
    def webhook_log(self) -> list[WebhookAttempt]: ...

    @property
    def webhooks_pending(self) -> int: ...

    def reset_log(self) -> None: ...


def _json_object() -> dict[str, Any]:
    body = request.get_json(silent=True, force=True) if request.get_data() else {}
    if not isinstance(body, dict):
        raise ApiError("send a JSON object")
    return body


def _required(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value in (None, ""):
        raise ApiError(f"{name} is required")
    return str(value)


def build_control(sim: Controls) -> Blueprint:
    control = Blueprint("orderdesk_control", __name__, url_prefix=CONTROL_PREFIX)

    @control.errorhandler(ApiError)
    def api_error(exc: ApiError) -> tuple[Response, int]:
        return jsonify(error=exc.message), exc.http_status

    @control.errorhandler(KeyError)
    def unknown(exc: KeyError) -> tuple[Response, int]:
        return jsonify(error=str(exc.args[0]) if exc.args else "not found"), 404

    @control.errorhandler(ValueError)
    @control.errorhandler(TypeError)
    def invalid(exc: Exception) -> tuple[Response, int]:
        return jsonify(error=str(exc)), 400

    @control.post("/stores")
    def add_store() -> Response:
        body = _json_object()
        store_id = _required(body, "store_id")
        folders = body.get("folders")
        sim.add_store(
            store_id,
            _required(body, "api_key"),
            name=str(body.get("name") or "Demo Store"),
            folders={int(k): str(v) for k, v in folders.items()} if folders else None,
        )
        return jsonify(store_id=store_id, folders=sim.folders(store_id))

    @control.post("/stores/<store_id>/orders")
    def create_order(store_id: str) -> Response:
        body = _json_object()
        wrapped = isinstance(body.get("order"), dict)
        order = sim.create_order(
            store_id,
            body["order"] if wrapped else body,
            folder_name=body.get("folder_name") if wrapped else None,
            fire_rule=bool(body.get("fire_rule", True)) if wrapped else True,
            date_added=body.get("date_added") if wrapped else None,
        )
        return jsonify(order=order)

    @control.get("/stores/<store_id>/orders")
    def orders(store_id: str) -> Response:
        return jsonify(orders=sim.control_state(store_id))

    @control.post("/stores/<store_id>/rule")
    def configure_rule(store_id: str) -> Response:
        body = _json_object()
        sim.configure_rule(
            store_id,
            _required(body, "url"),
            max_attempts=int(body.get("max_attempts", 10)),
            retry_delays=body.get("retry_delays"),
            timeout=float(body.get("timeout", 30.0)),
        )
        return jsonify(ok=True)

    @control.post("/stores/<store_id>/post-folder")
    def post_folder(store_id: str) -> Response:
        folder_name = _required(_json_object(), "folder_name")
        return jsonify(posted=sim.post_folder(store_id, folder_name))

    @control.post("/stores/<store_id>/orders/<order_id>/post")
    def post_order(store_id: str, order_id: str) -> Response:
        sim.post_order(store_id, order_id)
        return jsonify(ok=True)

    @control.post("/faults")
    def set_faults() -> Response:
        sim.set_faults(**_json_object())
        return jsonify(ok=True)

    @control.get("/requests")
    def request_counts() -> Response:
        return jsonify(sim.request_counts())

    @control.get("/webhooks")
    def webhooks() -> Response:
        attempts = [
            {
                "store_id": a.store_id,
                "order_id": a.order_id,
                "attempt": a.attempt,
                "status": a.status,
                "error": a.error,
                "at": a.at,
            }
            for a in sim.webhook_log
        ]
        return jsonify(pending=sim.webhooks_pending, attempts=attempts)

    @control.post("/reset")
    def reset() -> Response:
        sim.reset_log()
        return jsonify(ok=True)

    return control


class OrderDeskSimulatorClient:
    """Drives a simulator running in another process through ``/_sim/``.

    ``base_url`` may be the server root or the API base (``.../api/v2``) the CLI prints.
    """

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        root = base_url.rstrip("/")
        self.base_url = root.removesuffix("/api/v2")
        self.timeout = timeout
        self._session = requests.Session()

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v2"

    def add_store(
        self,
        store_id: str,
        api_key: str,
        name: str = "Demo Store",
        folders: dict[int, str] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"store_id": store_id, "api_key": api_key, "name": name}
        if folders:
            body["folders"] = {str(k): v for k, v in folders.items()}
        return self._post("/stores", body)

    def create_order(
        self,
        store_id: str,
        order: dict[str, Any],
        *,
        folder_name: str | None = None,
        fire_rule: bool = True,
    ) -> dict[str, Any]:
        body = {"order": order, "folder_name": folder_name, "fire_rule": fire_rule}
        return self._post(f"/stores/{store_id}/orders", body)["order"]

    def orders(self, store_id: str) -> list[dict[str, Any]]:
        return self._get(f"/stores/{store_id}/orders")["orders"]

    def configure_rule(
        self,
        store_id: str,
        url: str,
        *,
        max_attempts: int = 10,
        retry_delays: list[float] | None = None,
        timeout: float = 30.0,
    ) -> None:
        body = {
            "url": url,
            "max_attempts": max_attempts,
            "retry_delays": retry_delays,
            "timeout": timeout,
        }
        self._post(f"/stores/{store_id}/rule", body)

    def post_folder(self, store_id: str, folder_name: str) -> int:
        return self._post(f"/stores/{store_id}/post-folder", {"folder_name": folder_name})["posted"]

    def post_order(self, store_id: str, order_id: str) -> None:
        self._post(f"/stores/{store_id}/orders/{order_id}/post", {})

    def set_faults(self, **faults: Any) -> None:
        self._post("/faults", faults)

    def clear_faults(self) -> None:
        self._post("/faults", {})

    def requests(self) -> dict[str, Any]:
        return self._get("/requests")

    def webhooks(self) -> dict[str, Any]:
        return self._get("/webhooks")

    def reset_log(self) -> None:
        self._post("/reset", {})

    def wait_for_webhooks(self, timeout: float = 10, interval: float = 0.05) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.webhooks()["pending"] == 0:
                return True
            time.sleep(interval)
        return self.webhooks()["pending"] == 0

    def _get(self, path: str) -> dict[str, Any]:
        response = self._session.get(f"{self.base_url}{CONTROL_PREFIX}{path}", timeout=self.timeout)
        return self._result(response)

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self._session.post(
            f"{self.base_url}{CONTROL_PREFIX}{path}", json=body, timeout=self.timeout
        )
        return self._result(response)

    @staticmethod
    def _result(response: requests.Response) -> dict[str, Any]:
        if response.status_code >= 400:
            try:
                reason = response.json().get("error", response.text)
            except ValueError:
                reason = response.text
            raise RuntimeError(
                f"simulator refused {response.request.method} {response.url}: {reason}"
            )
        return response.json()
