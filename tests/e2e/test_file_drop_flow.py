"""A file-drop store end to end, through real gunicorn, Celery worker and beat processes and a
real OpenSSH SFTP server: the test plays the warehouse over SFTP, picking up order files and
dropping confirmation files (single, multi-package, partial, one uploaded twice, one bad row).
Every order file is written once, and every package lands in Order Desk exactly once."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bridge.db import session_scope
from bridge.models import FileDropFile, Order, Shipment
from bridge.sim.orderdesk import OrderDeskSimulator
from bridge.states import OrderState
from tests.e2e.conftest import STORE_ID, running_bridge, scaled
from tests.e2e.harness import Bridge, wait_until
from tests.e2e.test_flow import in_state, sample_orders, state_counts
from tests.support.filedrop import FileDropWarehouse
from tests.support.sftp import SftpServer, sftp_server

__all__ = ["sftp_server"]


@pytest.fixture
def warehouse(sftp_server: SftpServer) -> Iterator[FileDropWarehouse]:
    folders = [str(sftp_server.folder(f"e2e-{name}")) for name in ("outbox", "inbox", "archive")]
    ssh, sftp = sftp_server.client()
    try:
        yield FileDropWarehouse(*folders, sftp=sftp)
    finally:
        sftp.close()
        ssh.close()


@pytest.fixture
def file_drop_bridge(
    database: str,
    bridge_env: pytest.MonkeyPatch,
    broker_url: str,
    orderdesk: OrderDeskSimulator,
    sftp_server: SftpServer,
    warehouse: FileDropWarehouse,
    tmp_path: Path,
) -> Iterator[Bridge]:
    """The e2e ``bridge`` fixture's settings, with the store on the file_drop backend."""
    config = {
        "outbox": sftp_server.url("e2e-outbox"),
        "inbox": sftp_server.url("e2e-inbox"),
        "archive": sftp_server.url("e2e-archive"),
        "sftp_private_key": sftp_server.user_key.private,
        "sftp_host_key": sftp_server.host_key.public,
    }
    with running_bridge(
        database=database,
        bridge_env=bridge_env,
        broker_url=broker_url,
        orderdesk=orderdesk,
        tmp_path=tmp_path,
        backend="file_drop",
        backend_config=config,
    ) as harness:
        yield harness


def ship_everything(warehouse: FileDropWarehouse, keys: list[str]) -> list[str]:
    """One parcel for most, a parcel per line for every 5th, one unit of the first line for
    every 7th (returned: shipped in part), rows by order number for every 4th."""
    partial = []
    for n, key in enumerate(keys):
        rows = warehouse.orders[key]
        if n % 7 == 3:
            warehouse.ship(key, packages=[[(rows[0]["sku"], 1)]], carrier="USPS")
            partial.append(key)
        elif n % 5 == 1:
            parcels = [[(r["sku"], int(r["quantity"]))] for r in rows]
            warehouse.ship(key, packages=parcels, carrier="FedEx")
        else:
            warehouse.ship(key, by_number=n % 4 == 0)
    return partial


@pytest.mark.slow
def test_file_drop_orders_go_out_once_and_every_package_comes_back_once(
    file_drop_bridge: Bridge, orderdesk: OrderDeskSimulator, warehouse: FileDropWarehouse
) -> None:
    count = scaled(12)
    file_drop_bridge.start_web()
    file_drop_bridge.start_worker()
    file_drop_bridge.start_beat()
    orderdesk.configure_rule(
        STORE_ID, f"{file_drop_bridge.web_url}/webhooks/orderdesk", retry_delays=[0.5] * 9
    )
    started = time.monotonic()
    created = [orderdesk.create_order(STORE_ID, order) for order in sample_orders(count)]
    keys = [f"od-{STORE_ID}-{order['id']}" for order in created]
    deadline = 60 + 2 * count

    def picked_up_all() -> bool:
        warehouse.pick_up()
        return set(warehouse.files_seen) == set(keys)

    try:
        wait_until(picked_up_all, deadline, "every order file in the outbox")
        wait_until(lambda: in_state(OrderState.IN_PROCESS) == count, deadline, "all in process")
        partial = ship_everything(warehouse, keys)
        # A row nobody can use.
        warehouse.drop("shp_bad.csv", "order_key,sku,quantity,tracking_number\nod-1-1,X,1,T\n")
        wait_until(
            lambda: (
                in_state(OrderState.PARTIALLY_SHIPPED) == len(partial)
                and in_state(OrderState.SHIPPED) == count - len(partial)
            ),
            deadline,
            "first packages in Order Desk",
        )
        first = [name for name in warehouse.archived() if name.startswith("shp_od-")]
        for key in partial:
            warehouse.ship(key)
        # A warehouse that uploads a confirmation again, byte for byte: never read twice.
        warehouse.drop_again(first[0])
        wait_until(
            lambda: in_state(OrderState.SHIPPED) == count, deadline, f"{count} orders shipped"
        )
        wait_until(lambda: warehouse.inbox_names() == [], deadline, "the inbox emptied")
    except AssertionError:
        print(state_counts(), file_drop_bridge.dump_logs())
        raise

    print(
        f"\n{count} file-drop orders over SFTP: all shipped {time.monotonic() - started:.1f} s "
        f"after creation, {len(orderdesk.request_log)} Order Desk calls"
    )
    # Every order file was written exactly once, and nothing else appeared in the outbox.
    warehouse.pick_up()
    assert warehouse.files_seen == Counter(dict.fromkeys(keys, 1))

    # Every package the warehouse confirmed is in Order Desk exactly once.
    with session_scope() as session:
        rows = session.scalars(select(Shipment)).all()
        by_order = {o.id: o.orderdesk_order_id for o in session.scalars(select(Order))}
        files = session.scalars(select(FileDropFile)).all()
    multi_package_orders = 0
    for order in created:
        od_id = str(order["id"])
        key = f"od-{STORE_ID}-{od_id}"
        in_od = orderdesk.shipments(STORE_ID, od_id)
        ours = [r for r in rows if by_order[r.order_id] == od_id]
        assert sorted(s["tracking_number"] for s in in_od) == sorted(
            r.tracking_number for r in ours
        )
        assert len({s["tracking_number"] for s in in_od}) == len(in_od)
        assert {s["tracking_number"] for s in in_od} == warehouse.trackings[key]
        assert all(s["carrier_code"] and s["shipment_method"] for s in in_od)
        assert orderdesk.folder_name_of(STORE_ID, od_id) == "In Process"
        multi_package_orders += len(in_od) > 1
    assert multi_package_orders > 0 and partial

    # Each file consumed once (the re-upload was recognised), the bad row reported.
    names = Counter(f.name for f in files)
    assert names[first[0]] == 1
    bad = [f for f in files if f.name == "shp_bad.csv"]
    assert [p["line"] for p in bad[0].problems] == [2]
