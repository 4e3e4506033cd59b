"""The admin pages: what the bridge holds, and the actions a person takes (retry, cancel, pause).

Plain server-rendered HTML for signed-in admin users (``bridge users add``; the sign-in, the
session and CSRF are in ``web.admin_auth``). Actions are recorded under the user's name. The
pages read through ``bridge.ops.operations`` and stores through ``describe``, so they can show
nothing a secret could leak from; Jinja escapes everything.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, g, redirect, render_template, request, url_for
from pydantic import ValidationError

from bridge.db import session_scope
from bridge.ops import operations, overview
from bridge.orderdesk.payload import Order as OrderDeskOrder
from bridge.settings import get_settings
from bridge.states import OrderState, can_move
from bridge.stores.pause import pause_store, resume_store
from bridge.stores.registry import StoreError, StoreRegistry
from web import admin_auth
from web.admin_auth import Refused

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")

PAGE_SIZE = 50
MAX_PAGE_DIGITS = 6
NOTICES = {
    "retried": "The order is back in the pipeline and was sent for submission.",
    "cancel_requested": "The warehouse is being asked to cancel the order.",
    "cancelled": "The order was parked, so it was cancelled at once.",
    "not_sent": "The broker did not answer; the sweeper will send the work within minutes.",
    "edit_acknowledged": "The change after submission is marked as dealt with.",
}

STORE_NOTICES = {
    "paused": "The store is paused: its webhooks are still taken in, nothing goes to the "
    "warehouse until it is resumed.",
    "resumed": "The store is resumed and its waiting orders were sent for submission.",
    "unchanged": "Nothing changed: the store already was in that state.",
}

bp.before_request(admin_auth.guard)
bp.add_url_rule("/login", "login", admin_auth.login, methods=["GET", "POST"])
bp.add_url_rule("/logout", "logout", admin_auth.logout, methods=["POST"])


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


# -- helpers -----------------------------------------------------------------------------------


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


@bp.context_processor
def template_helpers() -> dict[str, Any]:
    return {
        "when": _when,
        "csrf_token": admin_auth.csrf_token,
        "states": [s.value for s in OrderState],
        "admin_user": getattr(g, "admin_user", None),
    }


def _page() -> int:
    """The ``page`` argument; ASCII digits only (``isdigit`` alone lets ``²`` reach ``int``)."""
    page = request.args.get("page", "1")
    if not (page.isascii() and page.isdigit() and len(page) <= MAX_PAGE_DIGITS):
        raise Refused(400, f"page must be a whole number below {10**MAX_PAGE_DIGITS}.")
    return max(1, int(page))


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
            "waiting": overview.oldest_waiting(session),
            "throughput": overview.throughput(session),
            "paused": overview.paused_stores(session),
            "flower_url": get_settings().flower_url,
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
        result = action(order_id, admin_auth.current_user_name())
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


@bp.post("/orders/<int:order_id>/acknowledge-edit")
def acknowledge_edit(order_id: int) -> Response | tuple[str, int]:
    try:
        operations.acknowledge_edit(order_id, admin_auth.current_user_name())
    except operations.OperationError as exc:
        return _render_order(order_id, error=str(exc)), 409
    return redirect(url_for("admin.order", order_id=order_id, notice="edit_acknowledged"), code=303)


def _store_views(session: Any) -> list[dict[str, Any]]:
    registry = StoreRegistry(session)
    return [registry.describe(store) for store in registry.list()]


@bp.get("/stores")
def stores() -> str:
    return _render_stores()


def _render_stores(*, error: str | None = None) -> str:
    with session_scope() as session:
        views = _store_views(session)
        counts = operations.state_counts(session)
    return render_template(
        "admin/stores.html",
        stores=views,
        counts=counts,
        default_inventory_interval=round(get_settings().inventory_interval_seconds),
        notice=STORE_NOTICES.get(request.args.get("notice", "")),
        error=error,
    )


def _pause_action(store_id: str, action: Any) -> Response | tuple[str, int]:
    """Pause or resume under the signed-in user's name, then show the stores page again."""
    try:
        with session_scope() as session:
            result = action(session, store_id, admin_auth.current_user_name())
    except StoreError as exc:
        return _render_stores(error=str(exc)), 409
    notice = ("paused" if result.paused else "resumed") if result.changed else "unchanged"
    return redirect(url_for("admin.stores", notice=notice), code=303)


@bp.post("/stores/<store_id>/pause")
def pause(store_id: str) -> Response | tuple[str, int]:
    return _pause_action(store_id, pause_store)


@bp.post("/stores/<store_id>/resume")
def resume(store_id: str) -> Response | tuple[str, int]:
    return _pause_action(store_id, resume_store)


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
