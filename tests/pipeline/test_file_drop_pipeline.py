"""The pipeline's steps on a file-drop store (local folders): submit writes each order file
once, a cancel goes out as a request file and comes back through the poll, a cancel after a
shipment is too late and the shipment is still posted, and inventory sync reads the stock file."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.db import session_scope
from bridge.history import transition
from bridge.models import Order
from bridge.pipeline.cancel import cancel_order
from bridge.pipeline.inventory import sync_inventory
from bridge.pipeline.poll import poll_warehouse
from bridge.pipeline.shipments import post_shipments
from bridge.pipeline.submit import submit_order
from bridge.sim.orderdesk import OrderDeskSimulator
from bridge.states import OrderState
from bridge.stores.registry import StoreRegistry
from tests.pipeline.conftest import API_KEY, STORE_ID, order_row
from tests.pipeline.support import key, od, submitted
from tests.support.filedrop import FileDropWarehouse


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, str]:
    paths = {name: tmp_path / name for name in ("outbox", "inbox", "archive")}
    for path in paths.values():
        path.mkdir()
    return {name: str(path) for name, path in paths.items()}


@pytest.fixture
def store(orderdesk: OrderDeskSimulator, broker: str, folders: dict[str, str]) -> int:
    with session_scope() as session:
        row = StoreRegistry(session).add(
            orderdesk_store_id=STORE_ID,
            name="File Drop Store",
            api_key=API_KEY,
            backend="file_drop",
            backend_config=folders,
        )
        return row.id


@pytest.fixture
def warehouse(folders: dict[str, str]) -> FileDropWarehouse:
    return FileDropWarehouse(folders["outbox"], folders["inbox"], folders["archive"])


def ask_to_cancel(order_id: int) -> None:
    with session_scope() as session:
        transition(session, session.get(Order, order_id), OrderState.CANCEL_REQUESTED, "test")


def test_submit_writes_each_order_file_once(receive, warehouse: FileDropWarehouse) -> None:
    ids = submitted(receive, 3)
    for order_id in ids:
        submit_order(order_id)  # a duplicate message: the claim is gone, nothing is written
    assert warehouse.pick_up() and warehouse.files_seen == {key(i): 1 for i in ids}
    assert {order_row(i).state for i in ids} == {OrderState.SUBMITTED}
    assert {order_row(i).warehouse_ref for i in ids} == {f"ord_{key(i)}.csv" for i in ids}


def test_cancel_by_file_in_time_and_too_late(
    receive, orderdesk: OrderDeskSimulator, warehouse: FileDropWarehouse
) -> None:
    early, late = submitted(receive, 2)
    warehouse.pick_up()
    warehouse.ship(key(late))
    for order_id in (early, late):
        ask_to_cancel(order_id)
    assert cancel_order(early) == "requested"
    assert order_row(early).state == OrderState.CANCEL_REQUESTED
    warehouse.pick_up()
    assert warehouse.cancel_requests == {key(early): 1}
    assert cancel_order(late) == "too_late"

    warehouse.answer_cancel(key(early))
    store_id = order_row(early).store_id
    poll_warehouse(store_id)
    post_shipments(store_id)
    assert order_row(early).state == OrderState.CANCELLED
    assert order_row(late).state == OrderState.SHIPPED
    posted = orderdesk.shipments(STORE_ID, od(late))
    assert [s["tracking_number"] for s in posted] == sorted(warehouse.trackings[key(late)])


def test_inventory_sync_reads_the_stock_file(
    store: int, orderdesk: OrderDeskSimulator, warehouse: FileDropWarehouse
) -> None:
    for sku in ("MUG", "TOTE"):
        orderdesk.add_inventory_item(STORE_ID, {"name": sku, "code": sku, "stock": 0})
    with session_scope() as session:
        StoreRegistry(session).update(STORE_ID, inventory_sync=True)
    assert sync_inventory(store).sent == 0  # no stock file yet: nothing to say
    warehouse.stock({"MUG": 12, "TOTE": 3})
    assert sync_inventory(store).sent == 2
    levels = {item["code"]: int(item["stock"]) for item in orderdesk.inventory(STORE_ID)}
    assert levels == {"MUG": 12, "TOTE": 3}
    assert sync_inventory(store).sent == 0  # unchanged: nothing sent again
