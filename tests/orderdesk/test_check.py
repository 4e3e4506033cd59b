"""``check_store``: the plain-words verdict behind ``bridge stores check``."""

from __future__ import annotations

import socket

from bridge.orderdesk.check import check_store


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_ready_store_resolves_its_folders(client):
    result = check_store(client, error_folder="Prepared")
    assert result.ok, result.problems
    assert result.problems == []
    assert result.store_name == "Acme Goods"
    assert result.folders == {"in_process": 21656, "error": 21655, "cancel": 21658}


def test_a_bad_key_is_named_in_plain_words(make_client, store):
    result = check_store(make_client(api_key="wrong-key"))
    assert not result.ok
    assert result.problems == [
        f"Order Desk refused the API key for store {store.id}: Invalid API key or store id"
    ]


def test_a_missing_in_process_folder_names_the_folders_that_exist(make_client, add_store):
    other = add_store(name="Bare", folders={1: "New", 2: "Closed", 3: "Canceled"})
    result = check_store(make_client(store_id=other.id, api_key=other.api_key))
    assert not result.ok
    [problem] = result.problems
    assert 'no folder named "In Process"' in problem
    assert '"New", "Closed", "Canceled"' in problem
    assert result.folders == {"cancel": 3}


def test_a_missing_optional_error_folder_is_reported_only_when_configured(client):
    assert check_store(client).ok
    result = check_store(client, error_folder="Bridge Errors", cancel_folder=None)
    assert not result.ok
    assert len(result.problems) == 1
    assert '"Bridge Errors"' in result.problems[0]
    assert "cancel" not in result.folders


def test_an_unreachable_order_desk_names_the_url_and_reason(make_client):
    url = f"http://127.0.0.1:{closed_port()}/api/v2"
    result = check_store(make_client(base_url=url, read_retries=0))
    assert not result.ok
    [problem] = result.problems
    assert url in problem
    assert "Connection refused" in problem
