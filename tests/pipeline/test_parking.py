"""A parked order: the merchant gets a note and finds it in the error folder."""

from __future__ import annotations

from bridge.pipeline.parking import park_in_orderdesk
from tests.pipeline.conftest import STORE_ID
from tests.pipeline.support import od, rejected


def test_parked_order_gets_a_note_and_the_error_folder(receive, orderdesk) -> None:
    order_id = rejected(receive)
    park_in_orderdesk(order_id)
    assert orderdesk.folder_name_of(STORE_ID, od(order_id)) == "Prepared"
    assert any("ship-to" in h["note"] for h in orderdesk.history(STORE_ID, od(order_id)))
