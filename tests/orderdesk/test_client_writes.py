"""Writes against the simulator: chunked moves, shipments exactly once, notes, inventory."""

from __future__ import annotations

import time

import pytest

from bridge.orderdesk.client import InventoryUpdate, ShipmentIn, ShipmentItem
from bridge.orderdesk.errors import FolderNotFound, Rejected
from bridge.orderdesk.transport import Transport
from bridge.remote.errors import AmbiguousOutcome
from bridge.remote.ratelimit import LocalLeakyBucket


def logged_calls(sim, method: str, path: str, at_least: int = 1) -> int:
    """The simulator logs a hung request only once its answer is out: wait for that, bounded."""
    deadline = time.monotonic() + HANG + 2
    while sim.calls(method, path) < at_least and time.monotonic() < deadline:
        time.sleep(0.02)
    return sim.calls(method, path)


# The simulator holds an "ambiguous" write's answer this long; the client gives up sooner.
HANG = 1.2
SHORT = (2.0, 0.4)


def ups(order_id: str, tracking: str = "1Z999AA10123456784", **extra) -> ShipmentIn:
    return ShipmentIn(
        order_id=order_id,
        tracking_number=tracking,
        carrier_code="UPS",
        shipment_method="Ground",
        weight=2.4,
        cost=7.85,
        **extra,
    )


# -- move-orders ---------------------------------------------------------------------------


def test_moving_250_orders_takes_three_calls_of_at_most_100(client, sim, store, new_order):
    ids = [new_order() for _ in range(250)]
    results = client.move_orders(ids, folder_id=21656)
    assert [r.order_id for r in results] == ids
    assert all(r.ok for r in results)
    assert {r.original_folder_id for r in results} == {"21654"}
    assert sim.calls("POST", "/move-orders") == 3
    assert {sim.folder_name_of(store.id, order_id) for order_id in ids} == {"In Process"}


def test_moving_by_folder_name_resolves_the_id_once(client, sim, store, new_order):
    first, second = new_order(), new_order()
    client.move_orders([first], folder_name="In Process")
    client.move_orders([second], folder_name="In Process")
    assert sim.folder_name_of(store.id, second) == "In Process"
    assert sim.calls("GET", "/store") == 1


def test_move_needs_exactly_one_destination(client, sim):
    with pytest.raises(ValueError):
        client.move_orders(["1"])
    with pytest.raises(ValueError):
        client.move_orders(["1"], folder_id=21656, folder_name="In Process")
    with pytest.raises(FolderNotFound):
        client.move_orders(["1"], folder_name="Nope")
    assert sim.calls("POST", "/move-orders") == 0


def test_an_unknown_order_fails_alone_inside_a_successful_move(client, new_order):
    good = new_order()
    results = client.move_orders([good, "987654321"], folder_id=21656)
    assert [(r.order_id, r.ok) for r in results] == [(good, True), ("987654321", False)]
    assert results[1].message == "Order Not Found"


def test_a_move_whose_answer_is_lost_is_simply_repeated(make_client, sim, store, new_order):
    client = make_client(timeout=SHORT)
    order_id = new_order()
    sim.set_faults(timeout_after_write=1, hang_seconds=HANG, paths=["/move-orders"])
    [result] = client.move_orders([order_id], folder_id=21656)
    assert result.ok
    assert sim.folder_name_of(store.id, order_id) == "In Process"
    assert logged_calls(sim, "POST", "/move-orders", at_least=2) == 2


# -- single shipments ----------------------------------------------------------------------


def test_add_shipment_records_one_package(client, sim, store, new_order):
    order_id = new_order()
    result = client.add_shipment(order_id, ups(order_id, order_items=[ShipmentItem(code="MUG-1")]))
    assert result.ok and not result.already_existed and not result.reconciled
    assert result.message == "Shipment Added"
    [stored] = sim.shipments(store.id, order_id)
    assert stored["tracking_number"] == "1Z999AA10123456784"
    assert stored["order_items"] == [{"code": "MUG-1", "quantity": 1}]


def test_a_repeat_is_refused_on_http_200_and_settled_as_already_there(
    client, sim, store, new_order
):
    order_id = new_order()
    client.add_shipment(order_id, ups(order_id))
    again = client.add_shipment(order_id, ups(order_id))
    assert again.ok and again.already_existed
    assert again.shipment_id == sim.shipments(store.id, order_id)[0]["id"]
    assert len(sim.shipments(store.id, order_id)) == 1


def test_shipment_not_added_on_http_200_is_a_rejection_at_the_transport(
    client, store, new_order, sim
):
    order_id = new_order()
    client.add_shipment(order_id, ups(order_id))
    transport = Transport(
        store_id=store.id,
        api_key=store.api_key,
        base_url=sim.url,
        timeout=(2, 5),
        limiter=LocalLeakyBucket(),
        session=None,
        retries=0,
        acquire_timeout=5,
    )
    with pytest.raises(Rejected) as caught:
        transport.call(
            "POST",
            f"/orders/{order_id}/shipments",
            body={"tracking_number": "1Z999AA10123456784", "carrier_code": "UPS"},
            idempotent=False,
        )
    transport.close()
    assert caught.value.status_code == 200
    assert caught.value.message == "Shipment Not Added"


def test_a_shipment_for_an_unknown_order_is_refused(client):
    result = client.add_shipment("987654321", ups("987654321"))
    assert not result.ok
    assert result.message == "Order Not Found"


def test_an_ambiguous_shipment_write_is_reconciled_not_repeated(make_client, sim, store, new_order):
    client = make_client(timeout=SHORT)
    order_id = new_order()
    sim.set_faults(timeout_after_write=1, hang_seconds=HANG, paths=["/orders/"])
    result = client.add_shipment(order_id, ups(order_id))
    assert result.ok and result.reconciled
    assert result.shipment_id == sim.shipments(store.id, order_id)[0]["id"]
    assert len(sim.shipments(store.id, order_id)) == 1
    assert logged_calls(sim, "POST", f"/orders/{order_id}/shipments") == 1


def test_a_5xx_shipment_write_that_did_not_land_is_posted_once_more(
    make_client, sim, store, new_order
):
    client = make_client()
    order_id = new_order()
    # Random(1) rolls 0.13, 0.85, 0.76: the POST fails (nothing stored), the check and the
    # second POST go through.
    sim.set_faults(error_rate=0.5, error_status=502, paths=[f"/orders/{order_id}/"], seed=1)
    result = client.add_shipment(order_id, ups(order_id))
    assert result.ok and not result.reconciled
    assert len(sim.shipments(store.id, order_id)) == 1
    assert sim.calls("POST", f"/orders/{order_id}/shipments") == 2


def test_a_shipment_whose_fate_cannot_be_checked_is_reported_ambiguous(
    make_client, sim, store, new_order
):
    client = make_client(read_retries=1)
    order_id = new_order()
    sim.set_faults(error_rate=1.0, error_status=503, paths=[f"/orders/{order_id}/"])
    with pytest.raises(AmbiguousOutcome) as caught:
        client.add_shipment(order_id, ups(order_id))
    assert "could not be verified" in str(caught.value)
    assert sim.calls("POST", f"/orders/{order_id}/shipments") == 1
    assert sim.calls("GET", f"/orders/{order_id}/shipments") == 2


def test_add_shipment_refuses_a_mismatched_order(client):
    with pytest.raises(ValueError):
        client.add_shipment("1", ups("2"))


# -- batch shipments -----------------------------------------------------------------------


def test_batch_results_align_with_input_and_fail_per_item(client, sim, store, new_order):
    a, b = new_order(), new_order()
    client.add_shipment(b, ups(b, "DUP-1"))
    batch = [ups(a, "A-1"), ups("987654321", "X-1"), ups(b, "DUP-1"), ups(a, "A-2")]
    results = client.batch_shipments(batch)
    assert [r.order_id for r in results] == [a, "987654321", b, a]
    assert [r.ok for r in results] == [True, False, True, True]
    assert results[0].shipment_id and results[3].shipment_id
    assert results[1].message == "Order Not Found"
    assert results[2].already_existed
    assert len(sim.shipments(store.id, a)) == 2
    assert len(sim.shipments(store.id, b)) == 1
    assert sim.calls("POST", "/batch-shipments") == 1


def test_batches_are_chunked(client, sim, store, new_order):
    orders = [new_order() for _ in range(5)]
    results = client.batch_shipments([ups(o, f"T-{o}") for o in orders], chunk_size=2)
    assert all(r.ok for r in results)
    assert sim.calls("POST", "/batch-shipments") == 3


def test_an_ambiguous_batch_never_creates_a_second_shipment(make_client, sim, store, new_order):
    client = make_client(timeout=SHORT)
    orders = [new_order() for _ in range(3)]
    sim.set_faults(timeout_after_write=1, hang_seconds=HANG, paths=["/batch-shipments"])
    results = client.batch_shipments([ups(o, f"T-{o}") for o in orders])
    assert all(r.ok and r.reconciled for r in results)
    assert [len(sim.shipments(store.id, o)) for o in orders] == [1, 1, 1]
    assert logged_calls(sim, "POST", "/batch-shipments") == 1


def test_a_batch_lost_before_it_landed_is_reposted_once(make_client, sim, store, new_order):
    client = make_client()
    orders = [new_order() for _ in range(3)]
    sim.set_faults(error_rate=0.5, error_status=500, paths=["/batch-shipments"], seed=1)
    results = client.batch_shipments([ups(o, f"T-{o}") for o in orders])
    assert all(r.ok and not r.reconciled for r in results)
    assert [len(sim.shipments(store.id, o)) for o in orders] == [1, 1, 1]
    assert sim.calls("POST", "/batch-shipments") == 2


def test_posting_the_same_batch_twice_keeps_one_shipment_each(client, sim, store, new_order):
    orders = [new_order() for _ in range(2)]
    batch = [ups(o, f"T-{o}") for o in orders]
    client.batch_shipments(batch)
    again = client.batch_shipments(batch)
    assert all(r.ok and r.already_existed for r in again)
    assert [len(sim.shipments(store.id, o)) for o in orders] == [1, 1]


def test_shipment_matching_is_trimmed_and_case_insensitive():
    from bridge.orderdesk.payload import Shipment

    mine = ShipmentIn(order_id="1", tracking_number=" 1z99 ", carrier_code="ups")
    assert mine.matches(Shipment(tracking_number="1Z99", carrier_code="UPS "))
    assert not mine.matches(Shipment(tracking_number="1Z99", carrier_code="USPS"))
    assert ShipmentIn(order_id="1", tracking_number="1Z99").matches(
        Shipment(tracking_number="1z99", carrier_code="UPS")
    )


# -- history notes -------------------------------------------------------------------------


def test_history_note_is_added_and_truncated_to_1800_chars(client, sim, store, new_order):
    order_id = new_order()
    client.add_history_note(order_id, "Sent to warehouse, ref WH-1")
    client.add_history_note(order_id, "x" * 5000)
    notes = [entry["note"] for entry in sim.history(store.id, order_id)]
    assert "Sent to warehouse, ref WH-1" in notes
    assert max(len(note) for note in notes) == 1800
    assert notes[-1].endswith("…")


def test_an_ambiguous_history_note_is_not_retried(make_client, sim, store, new_order):
    client = make_client(timeout=SHORT)
    order_id = new_order()
    sim.set_faults(timeout_after_write=1, hang_seconds=HANG, paths=["/orders/"])
    with pytest.raises(AmbiguousOutcome):
        client.add_history_note(order_id, "only once")
    assert logged_calls(sim, "POST", f"/orders/{order_id}/order-history") == 1
    assert [e["note"] for e in sim.history(store.id, order_id)].count("only once") == 1


def test_a_note_on_an_unknown_order_is_rejected(client):
    with pytest.raises(Rejected):
        client.add_history_note("987654321", "hello")


# -- inventory -----------------------------------------------------------------------------


def test_batch_inventory_update_reports_each_item(client, sim, store):
    mug = sim.add_inventory_item(store.id, {"name": "Trail Mug", "code": "MUG-1", "stock": 1})
    sim.add_inventory_item(store.id, {"name": "Tote", "code": "TOTE-1", "stock": 1})
    results = client.batch_update_inventory(
        [
            InventoryUpdate(id=mug["id"], code="MUG-1", stock=40),
            {"code": "TOTE-1", "stock": 7},
            {"code": "GHOST", "stock": 3},
        ],
        chunk_size=2,
    )
    assert [(r.code, r.ok) for r in results] == [
        ("MUG-1", True),
        ("TOTE-1", True),
        ("GHOST", False),
    ]
    assert results[2].message == "Inventory Item Not Found"
    stock = {item["code"]: int(item["stock"]) for item in sim.inventory(store.id)}
    assert stock == {"MUG-1": 40, "TOTE-1": 7}
    assert sim.calls("PUT", "/batch-inventory-items") == 2
