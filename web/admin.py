"""The admin pages: what the bridge holds, and the two actions a person takes (retry, cancel).

Plain server-rendered HTML behind HTTP Basic (any user name, ``BRIDGE_ADMIN_PASSWORD``). There is
no session: a form carries a token that is an HMAC, under the secret key, of the admin identity
and the time it was issued, and a POST must also come from a page of this host (``Origin`` or
``Referer``). The pages read through ``bridge.operations`` and stores through ``describe``, so
they can show nothing a secret could leak from; Jinja escapes everything.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from bridge import operations
from bridge.crypto import secret_material
from bridge.db import session_scope
from bridge.orderdesk.payload import Order as OrderDeskOrder
from bridge.settings import Settings
from bridge.states import OrderState, can_move
from bridge.stores import StoreRegistry

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")

ACTOR = "admin"
PAGE_SIZE = 50
TOKEN_TTL_SECONDS = 8 * 3600
REALM = 'Basic realm="orderdesk-bridge admin", charset="UTF-8"'
NOTICES = {
    "retried": "The order is back in the pipeline and was sent for submission.",
    "cancel_requested": "The warehouse is being asked to cancel the order.",
    "cancelled": "The order was parked, so it was cancelled at once.",
    "not_sent": "The broker did not answer; the sweeper will send the work within minutes.",
}


class Refused(HTTPException):
    """A plain-text refusal with its own status (401 asks the browser for the password)."""

    def __init__(self, status: int, sentence: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(description=sentence)
        self.code = status
        self._headers = headers or {}

    def get_response(self, environ: Any = None, scope: Any = None) -> Response:
        response = Response(self.description + "\n", self.code, mimetype="text/plain")
        response.headers.update(self._headers)
        return response


def _settings() -> Settings:
    return current_app.config["BRIDGE_SETTINGS"]


def _admin_password() -> str:
    secret = _settings().admin_password
    return secret.get_secret_value() if secret is not None else ""


@bp.before_request
def authenticate() -> None:
    expected = _admin_password()
    if not expected:
        raise Refused(503, "The admin pages are off: set BRIDGE_ADMIN_PASSWORD to turn them on.")
    auth = request.authorization
    given = auth.password if auth is not None and auth.type == "basic" and auth.password else ""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Refused(
            401,
            "Sign in with any user name and the admin password (BRIDGE_ADMIN_PASSWORD).",
            {"WWW-Authenticate": REALM},
        )
    if request.method == "POST":
        check_csrf()


@bp.after_request
def harden(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    )
    return response


# -- CSRF --------------------------------------------------------------------------------------


def _token_mac(issued: int) -> str:
    # The password's digest is part of the identity: changing the password voids old forms.
    identity = hashlib.sha256(_admin_password().encode()).hexdigest()
    key = secret_material(_settings()).encode()
    return hmac.new(key, f"admin:{identity}:{issued}".encode(), hashlib.sha256).hexdigest()


def csrf_token() -> str:
    issued = int(time.time())
    return f"{issued}.{_token_mac(issued)}"


def _same_host() -> bool:
    source = request.headers.get("Origin") or request.headers.get("Referer") or ""
    return bool(source) and source != "null" and urlsplit(source).netloc == request.host


def check_csrf() -> None:
    issued_text, _, mac = request.form.get("csrf_token", "").partition(".")
    fresh = issued_text.isdigit() and 0 <= time.time() - int(issued_text) <= TOKEN_TTL_SECONDS
    if not fresh or not hmac.compare_digest(mac.encode(), _token_mac(int(issued_text)).encode()):
        raise Refused(403, "This form has expired or did not come from the admin pages; reload it.")
    if not _same_host():
        raise Refused(403, "This request did not come from a page of this site.")


# -- helpers -----------------------------------------------------------------------------------


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


@bp.context_processor
def template_helpers() -> dict[str, Any]:
    return {"when": _when, "csrf_token": csrf_token, "states": [s.value for s in OrderState]}


def _page() -> int:
    page = request.args.get("page", "1")
    return max(1, int(page)) if page.isdigit() else 1


def _actions(state: str) -> dict[str, bool]:
    current = OrderState(state)
    return {
        "retry": current in operations.RETRYABLE,
        "cancel": current is OrderState.REJECTED or can_move(current, OrderState.CANCEL_REQUESTED),
    }


def _orderdesk_view(payload: dict[str, Any]) -> OrderDeskOrder | None:
    try:
        return OrderDeskOrder.model_validate(payload)
    except ValidationError:
        return None


# -- pages -------------------------------------------------------------------------------------


@bp.get("/")
def dashboard() -> str:
    with session_scope() as session:
        counts = operations.state_counts(session)
        context = {
            "counts": counts,
            "failed": operations.find_orders(session, OrderState.FAILED.value, limit=25),
            "rejected": operations.find_orders(session, OrderState.REJECTED.value, limit=25),
            "changed": operations.find_orders(session, changed_after_submission=True, limit=25),
            "receipts": operations.recent_receipts(session, limit=25),
        }
        return render_template("admin/dashboard.html", **context)


@bp.get("/orders")
def orders() -> tuple[str, int] | str:
    filters = {
        "state": request.args.get("state", "").strip(),
        "store": request.args.get("store", "").strip(),
        "q": request.args.get("q", "").strip(),
    }
    page = _page()
    with session_scope() as session:
        try:
            found = operations.find_orders(
                session,
                filters["state"] or None,
                filters["store"] or None,
                filters["q"] or None,
                limit=PAGE_SIZE + 1,
                offset=(page - 1) * PAGE_SIZE,
            )
            error = None
        except operations.OperationError as exc:
            found, error = [], str(exc)
        stores = [store.orderdesk_store_id for store in StoreRegistry(session).list()]
        html = render_template(
            "admin/orders.html",
            orders=found[:PAGE_SIZE],
            filters=filters,
            stores=stores,
            page=page,
            has_next=len(found) > PAGE_SIZE,
            error=error,
        )
    return (html, 400) if error else html


@bp.get("/orders/<int:order_id>")
def order(order_id: int) -> str:
    return _render_order(order_id)


def _render_order(order_id: int, *, error: str | None = None) -> str:
    with session_scope() as session:
        try:
            detail = operations.order_detail(session, order_id)
        except operations.OperationError:
            abort(404)
        return render_template(
            "admin/order.html",
            detail=detail,
            ref=operations.label(detail.store, detail.order),
            od=_orderdesk_view(detail.order.payload or {}),
            actions=_actions(detail.order.state),
            notice=NOTICES.get(request.args.get("notice", "")),
            error=error,
        )


def _act(order_id: int, action: Any) -> Response | tuple[str, int]:
    try:
        result = action(order_id, ACTOR)
    except operations.OperationError as exc:
        return _render_order(order_id, error=str(exc)), 409
    if result.enqueued is False:
        notice = "not_sent"
    elif result.state == OrderState.RECEIVED.value:
        notice = "retried"
    else:
        notice = result.state
    return redirect(url_for("admin.order", order_id=order_id, notice=notice), code=303)


@bp.post("/orders/<int:order_id>/retry")
def retry(order_id: int) -> Response | tuple[str, int]:
    return _act(order_id, operations.retry_order)


@bp.post("/orders/<int:order_id>/cancel")
def cancel(order_id: int) -> Response | tuple[str, int]:
    return _act(order_id, operations.request_cancel)


def _store_views(session: Any) -> list[dict[str, Any]]:
    registry = StoreRegistry(session)
    return [registry.describe(store) for store in registry.list()]


@bp.get("/stores")
def stores() -> str:
    with session_scope() as session:
        views = _store_views(session)
        counts = operations.state_counts(session)
    return render_template("admin/stores.html", stores=views, counts=counts)


@bp.get("/receipts")
def receipts() -> str:
    outcome = request.args.get("outcome", "").strip()
    page = _page()
    with session_scope() as session:
        found = operations.recent_receipts(
            session, outcome or None, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE
        )
        return render_template(
            "admin/receipts.html",
            receipts=found[:PAGE_SIZE],
            outcome=outcome,
            outcomes=operations.receipt_outcomes(session),
            page=page,
            has_next=len(found) > PAGE_SIZE,
        )
