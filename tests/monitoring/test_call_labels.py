"""Partner-call labels stay few: one endpoint per path template, whatever ids a path holds,
and one service label per API (not one per Order Desk store)."""

from __future__ import annotations

import pytest

from bridge.remote.http import Service, endpoint_label


@pytest.mark.parametrize(
    ("method", "path", "label"),
    [
        ("get", "/orders/12345", "GET /orders/{id}"),
        ("POST", "/orders/12345/shipments", "POST /orders/{id}/shipments"),
        ("DELETE", "/orders/98/shipments/77", "DELETE /orders/{id}/shipments/{id}"),
        ("POST", "/batch-shipments", "POST /batch-shipments"),
        ("GET", "/orders?folder_id=5&limit=100", "GET /orders"),
        ("POST", "/v1/orders/WH-000042/cancel", "POST /v1/orders/{id}/cancel"),
        ("GET", "/v1/orders/od-700700-55", "GET /v1/orders/{id}"),
        ("POST", "/orders/createorder", "POST /orders/createorder"),
        ("GET", "/orders/%2F..%2Fetc", "GET /orders/{id}"),
        ("GET", "/", "GET /"),
    ],
)
def test_endpoint_label_is_the_path_template(method: str, path: str, label: str) -> None:
    assert endpoint_label(method, path) == label


def test_service_label_names_the_api_not_the_store() -> None:
    orderdesk = Service(
        name="Order Desk store 700700", base_url_setting="x", metric_name="orderdesk"
    )
    assert orderdesk.metric_label == "orderdesk"
    assert Service(name="ShipStation", base_url_setting="x").metric_label == "shipstation"
    simulated = Service(name="simulated warehouse", base_url_setting="x")
    assert simulated.metric_label == "simulated_warehouse"
