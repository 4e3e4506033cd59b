"""The file-drop backend over a local directory and a real SFTP server: order files written once,
shipment files consumed once, archived, and read into packages; a bad row never stops a file."""

from __future__ import annotations

import csv
import hashlib
import io

import pytest
import structlog
from sqlalchemy import func, select

from bridge.backends.errors import DuplicateOrder
from bridge.backends.file_drop import ledger, outbox
from bridge.backends.models import NormalizedStatus
from bridge.db import session_scope
from bridge.models import FileDropFile, FileDropOrder
from tests.backends.conftest import make_order
from tests.backends.file_drop.conftest import Drop

KEY = "od-700700-1001"


def order_files(drop: Drop) -> list[str]:
    return sorted(p.name for p in drop.outbox.iterdir())


def test_submit_writes_one_csv_with_a_row_per_line(drop: Drop) -> None:
    with drop.backend() as backend:
        result = backend.submit(make_order("1001"), KEY)
    assert result.created and result.ref.remote_id == f"ord_{KEY}.csv"
    assert order_files(drop) == [f"ord_{KEY}.csv"]
    rows = list(csv.DictReader(io.StringIO((drop.outbox / f"ord_{KEY}.csv").read_text())))
    assert [(r["sku"], r["quantity"]) for r in rows] == [("MUG", "2"), ("TOTE", "1")]
    assert {r["order_key"] for r in rows} == {KEY}
    assert {r["ship_city"] for r in rows} == {"Costa Mesa"}


def test_a_rerun_never_writes_an_order_twice(drop: Drop) -> None:
    with drop.backend() as backend:
        backend.submit(make_order("1001"), KEY)
        assert drop.warehouse.pick_up() == [KEY]
        with pytest.raises(DuplicateOrder) as refused:
            backend.submit(make_order("1001"), KEY)
    assert refused.value.existing is not None and refused.value.existing.ref.key == KEY
    with drop.backend() as fresh:
        with pytest.raises(DuplicateOrder):
            fresh.submit(make_order("1001"), KEY)
        found = fresh.find_by_key(KEY)
    assert found is not None and found.status is NormalizedStatus.ACCEPTED
    assert drop.warehouse.pick_up() == []
    assert drop.warehouse.files_seen == {KEY: 1}


def test_partial_and_multi_package_shipments_become_packages(drop: Drop) -> None:
    with drop.backend() as backend:
        backend.submit(make_order("1001"), KEY)
        drop.warehouse.pick_up()
        first = drop.warehouse.ship(KEY, packages=[[("MUG", 1)]])
        page = backend.changes_since(None)
        assert [o.status for o in page.orders] == [NormalizedStatus.PARTIALLY_SHIPPED]
        rest = drop.warehouse.ship(KEY, packages=[[("MUG", 1)], [("TOTE", 1)]], carrier="FedEx")
        page2 = backend.changes_since(page.next_cursor)
    (remote,) = page2.orders
    assert remote.status is NormalizedStatus.SHIPPED
    trackings = [p.tracking_number for s in remote.shipments for p in s.packages]
    assert trackings == first + rest
    assert len({p.package_id for s in remote.shipments for p in s.packages}) == 3
    fedex = [s for s in remote.shipments if s.carrier == "FedEx"]
    assert [[(ln.sku, ln.quantity) for ln in s.lines] for s in fedex] == [
        [("MUG", 1)],
        [("TOTE", 1)],
    ]
    assert all(s.service == "Ground" and s.shipped_at is not None for s in remote.shipments)
    # Every consumed file was archived and recorded by name and hash.
    archived = sorted(p.name for p in drop.archive.iterdir())
    assert len(archived) == 2 and list(drop.inbox.iterdir()) == []
    with session_scope() as session:
        recorded = {f.name: f.sha256 for f in session.scalars(select(FileDropFile))}
    assert recorded == {
        name: hashlib.sha256((drop.archive / name).read_bytes()).hexdigest() for name in archived
    }


def test_the_cursor_resumes_with_nothing_lost_or_repeated(drop: Drop) -> None:
    keys = [f"od-700700-{n}" for n in range(5)]
    with drop.backend() as backend:
        for n, key in enumerate(keys):
            backend.submit(make_order(str(n)), key)
        drop.warehouse.pick_up()
        for key in keys:
            drop.warehouse.ship(key)
        page = backend.changes_since(None, limit=2)
    assert page.has_more and len(page.orders) == 2
    seen = [o.ref.key for o in page.orders]
    cursor = page.next_cursor
    while True:
        with drop.backend() as restarted:
            page = restarted.changes_since(cursor, limit=2)
        seen += [o.ref.key for o in page.orders]
        cursor = page.next_cursor
        if not page.has_more:
            break
    assert sorted(seen) == sorted(keys)
    with drop.backend() as backend:
        assert backend.changes_since(cursor).orders == []


def test_a_file_seen_again_is_not_consumed_twice(drop: Drop) -> None:
    with drop.backend() as backend:
        backend.submit(make_order("1001"), KEY)
        drop.warehouse.pick_up()
        text = f"order_key,sku,quantity,tracking_number\n{KEY},MUG,2,TRK1\n"
        drop.warehouse.drop("shp_again.csv", text)
        cursor = backend.changes_since(None).next_cursor
        drop.warehouse.drop("shp_again.csv", text)
        page = backend.changes_since(cursor)
    assert page.orders == [] and page.next_cursor == cursor
    assert list(drop.inbox.iterdir()) == [] and (drop.archive / "shp_again.csv").exists()
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(FileDropFile)) == 1


def test_malformed_rows_are_reported_with_file_and_line(drop: Drop) -> None:
    with drop.backend() as backend:
        backend.submit(make_order("1001"), KEY)
        drop.warehouse.pick_up()
        drop.warehouse.drop(
            "shp_mixed.csv",
            "order_key,order_number,sku,quantity,tracking_number,ship_date\n"
            f"{KEY},,MUG,1,TRK1,2026-12-01\n"
            f"{KEY},,MUG,two,TRK2,2026-12-01\n"
            f"{KEY},,TOTE,1,,2026-12-01\n"
            "od-1-999,,TOTE,1,TRK3,2026-12-01\n"
            f"{KEY},,TOTE,1,TRK4,yesterday\n"
            ",1001,TOTE,1,TRK5,1764583200\n",
        )
        with structlog.testing.capture_logs() as logs:
            page = backend.changes_since(None)
    (remote,) = page.orders
    assert sorted(p.tracking_number for s in remote.shipments for p in s.packages) == [
        "TRK1",
        "TRK5",
    ]
    assert remote.status is NormalizedStatus.PARTIALLY_SHIPPED
    reported = [(p["file"], p["line"]) for p in ledger.problems(str(backend._inbox))]
    assert reported == [("shp_mixed.csv", line) for line in (3, 4, 5, 6)]
    logged = [(e["file"], e["line"]) for e in logs if e["event"] == "file_drop_malformed_row"]
    assert logged == reported


def test_a_file_without_the_needed_columns_is_reported_once(drop: Drop) -> None:
    with drop.backend() as backend:
        drop.warehouse.drop("shp_bad.csv", "foo,bar\n1,2\n")
        assert backend.changes_since(None).orders == []
    (problem,) = ledger.problems(str(drop.backend()._inbox))
    assert problem["line"] == 1 and "tracking_number" in problem["reason"]
    assert (drop.archive / "shp_bad.csv").exists()


def test_a_void_row_voids_the_package(drop: Drop) -> None:
    with drop.backend() as backend:
        ref = backend.submit(make_order("1001"), KEY).ref
        drop.warehouse.pick_up()
        (tracking,) = drop.warehouse.ship(KEY)
        cursor = backend.changes_since(None).next_cursor
        assert backend.get(ref).status is NormalizedStatus.SHIPPED
        drop.warehouse.drop(
            "shp_void.csv", f"order_key,tracking_number,voided\n{KEY},{tracking},yes\n"
        )
        (remote,) = backend.changes_since(cursor).orders
    (shipment,) = remote.shipments
    assert shipment.voided and shipment.packages[0].tracking_number == tracking
    assert [(ln.sku, ln.quantity) for ln in shipment.lines] == [("MUG", 2), ("TOTE", 1)]
    assert remote.status is NormalizedStatus.ACCEPTED


def test_inventory_file(drop: Drop) -> None:
    with drop.backend() as backend:
        assert backend.inventory() == []
        drop.warehouse.stock({"MUG": 12, "TOTE": 0})
        levels = backend.inventory()
    assert [(s.sku, s.available) for s in levels] == [("MUG", 12), ("TOTE", 0)]


def test_cancel_writes_one_request_and_the_answer_comes_through_the_feed(drop: Drop) -> None:
    with drop.backend() as backend:
        ref = backend.submit(make_order("1001"), KEY).ref
        drop.warehouse.pick_up()
        first = backend.cancel(ref)
        again = backend.cancel(ref)
        assert (first.state, again.state) == ("requested", "requested")
        assert backend.get(ref).status is NormalizedStatus.CANCEL_REQUESTED
        drop.warehouse.pick_up()
        assert drop.warehouse.cancel_requests == {KEY: 1}
        drop.warehouse.answer_cancel(KEY)
        (remote,) = backend.changes_since(None).orders
        assert remote.status is NormalizedStatus.CANCELLED
        assert backend.cancel(ref).state == "cancelled"


def test_cancel_is_too_late_after_a_shipment_or_a_refusal(drop: Drop) -> None:
    with drop.backend() as backend:
        shipped = backend.submit(make_order("1001"), KEY).ref
        refused = backend.submit(make_order("1002"), "od-700700-1002").ref
        drop.warehouse.pick_up()
        drop.warehouse.ship(KEY, packages=[[("MUG", 1)]])
        backend.changes_since(None)
        assert backend.cancel(shipped).state == "too_late"
        assert backend.cancel(refused).state == "requested"
        drop.warehouse.answer_cancel("od-700700-1002", cancelled=False)
        (remote,) = backend.changes_since(None).orders[-1:]
        assert remote.raw_status == "cancel refused"
        assert remote.status is NormalizedStatus.ACCEPTED
        assert backend.cancel(refused).state == "too_late"
    assert drop.warehouse.pick_up() == []


def test_healthcheck_lists_every_folder(drop: Drop) -> None:
    with drop.backend() as backend:
        backend.healthcheck()


def test_find_by_key_of_an_order_never_written(drop: Drop) -> None:
    with drop.backend() as backend:
        assert backend.find_by_key("od-700700-404") is None


class TestWriteAhead:
    """Each place a crash can stop a submission, replayed by leaving the files and rows it
    would leave (local folders: the order of steps is the same over SFTP)."""

    @pytest.fixture
    def local(self, local_drop: Drop) -> Drop:
        return local_drop

    def _reserve(self) -> None:
        order = make_order("1001")
        lines = [line.to_dict() for line in order.lines]
        assert ledger.reserve(KEY, "x", "1001", outbox.file_name(KEY), lines)

    def test_crash_before_the_ledger_row_leaves_nothing_visible(self, local: Drop) -> None:
        (local.outbox / outbox.temp_name(KEY)).write_text("half a fi")
        with local.backend() as backend:
            assert backend.find_by_key(KEY) is None
            assert backend.submit(make_order("1001"), KEY).created
        assert order_files(local) == [f"ord_{KEY}.csv"]
        assert "MUG" in (local.outbox / f"ord_{KEY}.csv").read_text()

    def test_crash_before_the_rename_is_not_written(self, local: Drop) -> None:
        with local.backend() as backend:
            backend.submit(make_order("1001"), KEY)
        (local.outbox / f"ord_{KEY}.csv").rename(local.outbox / outbox.temp_name(KEY))
        with session_scope() as session:
            session.get(FileDropOrder, KEY).written_at = None
        with local.backend() as backend:
            assert backend.find_by_key(KEY) is None
            assert backend.submit(make_order("1001"), KEY).created
        assert order_files(local) == [f"ord_{KEY}.csv"]

    @pytest.mark.parametrize("picked_up", [False, True])
    def test_crash_after_the_rename_is_written(self, local: Drop, picked_up: bool) -> None:
        self._reserve()
        if not picked_up:
            (local.outbox / f"ord_{KEY}.csv").write_text("order_key\n")
        with local.backend() as backend:
            assert backend.find_by_key(KEY) is not None
            with pytest.raises(DuplicateOrder):
                backend.submit(make_order("1001"), KEY)
        assert ledger.order(KEY).written_at is not None
        assert order_files(local) == ([] if picked_up else [f"ord_{KEY}.csv"])
