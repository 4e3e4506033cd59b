"""Backend discovery through real entry points, config validation, and ``bridge backends list``."""

from __future__ import annotations

import sys
import textwrap

import pytest
from click.testing import CliRunner

from bridge.backends.errors import ConfigError, NotSupported, UnknownBackend
from bridge.backends.registry import available_backends, backend_class, create_backend
from bridge.backends.shipstation import ShipStationBackend, ShipStationConfig
from bridge.backends.simulated import SimulatedBackend
from bridge.cli.backends import group

PLUGIN_MODULE = '''
from datetime import timedelta

from pydantic import SecretStr

from bridge.backends.base import (
    BackendConfig, CancelSupport, Capabilities, ChangeFeed, Idempotency, WarehouseBackend,
)
from bridge.backends.models import (
    CancelResult, ChangePage, NormalizedStatus, RemoteOrder, RemoteRef, SubmitResult,
)


class MemoryConfig(BackendConfig):
    token: SecretStr
    prefix: str = "mem"


class MemoryBackend(WarehouseBackend):
    """A warehouse that lives in a dict: enough to prove a third-party backend plugs in."""

    name = "memory"
    config_model = MemoryConfig

    def __init__(self, config, *, session=None, limiter=None):
        super().__init__(config, session=session, limiter=limiter)
        self.orders = {}

    @classmethod
    def capabilities(cls):
        return Capabilities(
            idempotency=Idempotency.UPSERT, cancel=CancelSupport.NONE,
            change_feed=ChangeFeed.UPDATED_SINCE, cursor_overlap=timedelta(0),
            max_page_size=10, bulk_submit_max=0, multi_package=False,
            partial_shipments=False, acknowledge=False, inventory=False, rate_limit=None,
        )

    def submit(self, order, key):
        ref = RemoteRef(remote_id=f"{self.config.prefix}-{len(self.orders) + 1}", key=key)
        created = key not in self.orders
        self.orders.setdefault(key, ref)
        return SubmitResult(ref=self.orders[key], created=created)

    def find_by_key(self, key, order_number=None):
        ref = self.orders.get(key)
        return None if ref is None else RemoteOrder(ref=ref, status=NormalizedStatus.ACCEPTED)

    def get(self, ref):
        return self.find_by_key(ref.key)

    def changes_since(self, cursor, limit=100):
        return ChangePage(orders=[], next_cursor=cursor or "0", has_more=False)

    def cancel(self, ref):
        return CancelResult(state="unsupported")

    def healthcheck(self):
        return None
'''


@pytest.fixture
def plugin_on_path(tmp_path):
    """A tiny installed distribution: module + dist-info with an entry point in our group."""
    (tmp_path / "memory_backend_plugin.py").write_text(PLUGIN_MODULE)
    dist = tmp_path / "memory_backend_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: memory-backend-plugin\nVersion: 0.1\n"
    )
    (dist / "entry_points.txt").write_text(
        textwrap.dedent(
            """
            [orderdesk_bridge.backends]
            memory = memory_backend_plugin:MemoryBackend
            """
        )
    )
    available_backends(reload=True)  # cached before the package exists
    sys.path.insert(0, str(tmp_path))
    yield
    sys.path.remove(str(tmp_path))
    sys.modules.pop("memory_backend_plugin", None)
    available_backends(reload=True)


def test_first_party_backends_are_installed():
    backends = available_backends(reload=True)
    assert backends["shipstation"] is ShipStationBackend
    assert backends["simulated"] is SimulatedBackend


def test_a_backend_from_another_package_is_found_and_used(plugin_on_path):
    assert "memory" not in available_backends(), "the scan is cached until a reload"
    backends = available_backends(reload=True)
    assert "memory" in backends
    backend = create_backend("memory", {"token": "t0ps3cret", "prefix": "wh"})
    from bridge.backends.models import FulfillmentOrder, ShipTo

    order = FulfillmentOrder(order_number="1", ship_to=ShipTo(name="A"), lines=[])
    first = backend.submit(order, "od-1-1")
    again = backend.submit(order, "od-1-1")
    assert first.ref.remote_id == "wh-1" and first.created
    assert again.ref == first.ref and not again.created
    assert backend.find_by_key("od-1-1").ref.remote_id == "wh-1"
    assert backend_class("memory").config_model.secret_fields() == ["token"]
    with pytest.raises(NotSupported):
        backend.inventory()


def test_unknown_backend_names_the_installed_ones():
    with pytest.raises(UnknownBackend) as caught:
        backend_class("shiphero")
    assert "shiphero" in str(caught.value)
    assert "shipstation" in str(caught.value) and "simulated" in str(caught.value)


def test_invalid_config_names_fields_but_never_values():
    with pytest.raises(ConfigError) as caught:
        create_backend("shipstation", {"api_key": "KEY-s3cr3t", "rate_limit_per_minute": 0})
    message = str(caught.value)
    assert "api_secret" in message and "rate_limit_per_minute" in message
    assert "s3cr3t" not in message
    with pytest.raises(ConfigError) as caught:
        create_backend("shipstation", {"api_key": "a", "api_secret": "b", "bogus": "s3cr3t"})
    assert "bogus" in str(caught.value) and "s3cr3t" not in str(caught.value)


def test_secrets_stay_out_of_reprs():
    config = ShipStationConfig(api_key="KEY-s3cr3t", api_secret="SECRET-s3cr3t")
    backend = create_backend("shipstation", config.model_dump())
    assert "s3cr3t" not in repr(config)
    assert "s3cr3t" not in repr(backend.config)
    assert ShipStationConfig.secret_fields() == ["api_key", "api_secret"]
    backend.close()


def test_cli_lists_both_backends_with_capabilities():
    result = CliRunner().invoke(group, ["list"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "shipstation" in out and "simulated" in out
    assert "idempotency: upsert" in out and "idempotency: rejects_duplicate" in out
    assert "change_feed: shipped_since" in out and "change_feed: events" in out
    assert "rate_limit: 40 per 60 s" in out
    assert "api_key (secret, required)" in out
    assert "sim-key" not in out


def test_cli_json_output_is_machine_readable():
    import json

    result = CliRunner().invoke(group, ["list", "--json"])
    data = json.loads(result.output)
    assert data["shipstation"]["capabilities"]["bulk_submit_max"] == 100
    assert data["simulated"]["capabilities"]["inventory"] is True
    secret = next(f for f in data["simulated"]["config"] if f["name"] == "api_key")
    assert secret["secret"] and "default" not in secret


def test_base_url_is_checked_and_normalised():
    backend = create_backend("simulated", {"base_url": "http://127.0.0.1:9/"})
    assert backend.config.base_url == "http://127.0.0.1:9"
    backend.close()
    with pytest.raises(ConfigError, match="base_url"):
        create_backend("simulated", {"base_url": "ftp://example.com"})


def test_snapshots_round_trip_through_json():
    import json
    from datetime import UTC, datetime

    from bridge.backends.models import (
        ChangePage,
        NormalizedStatus,
        Package,
        RemoteOrder,
        RemoteRef,
        RemoteShipment,
        ShippedLine,
    )

    page = ChangePage(
        orders=[
            RemoteOrder(
                ref=RemoteRef(remote_id="42", key="od-1-42"),
                status=NormalizedStatus.PARTIALLY_SHIPPED,
                raw_status="awaiting_shipment",
                updated_at=datetime(2026, 11, 20, 17, 4, tzinfo=UTC),
                shipments=[
                    RemoteShipment(
                        remote_id="ss-7",
                        voided=True,
                        packages=[Package(package_id="ss-7", tracking_number="1Z", weight_oz=3.5)],
                        lines=[ShippedLine(line_key="L1", sku="MUG", quantity=1)],
                    )
                ],
            )
        ],
        next_cursor='{"hw": null}',
        has_more=True,
    )
    text = json.dumps(page.to_dict())
    assert ChangePage.from_dict(json.loads(text)) == page
