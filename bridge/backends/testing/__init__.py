"""The backend conformance kit: one set of checks every warehouse backend must pass.

Ours and third parties' alike run it against their warehouse simulator (docs/backends.md,
"Testing it with the conformance kit")::

    from bridge.backends.testing import BackendConformance, Parcel, WarehouseDriver

    class TestAcmeConformance(BackendConformance):
        @pytest.fixture
        def driver(self):                       # a fresh warehouse per test
            with AcmeSimulator() as sim:
                yield AcmeDriver(sim)

        def make_backend(self, driver, **config):
            settings = {"base_url": driver.url, "token": "t0ken", "timeout": 2, **config}
            return create_backend("acme", settings)

The driver protocol (``WarehouseDriver``; raise ``NotImplementedError`` for what your warehouse
cannot do and the checks needing it are skipped with the method's name):

* ``order_keys(order_number)``: the idempotency keys of every warehouse order with that number;
* ``ship(key, parcels)``: ship ``Parcel(tracking_number, ((line_key, quantity), ...))`` packages
  of the order under ``key``, now, with exactly those tracking numbers;
* ``void(key, tracking_number)``: void the shipment holding that package;
* ``lose_next_reply()``: the next create is stored but its reply never arrives;
* ``throttle(seconds)``: answer every request with the warehouse's rate-limit refusal;
* ``set_stock(sku, available)``: the stock level reported for a SKU;
* ``clear_faults()``: end the faults above.

The checks: capabilities well formed and registered under the entry point; idempotent submit
(one warehouse order per key, single and bulk); lookup by key after a lost reply; partial and
multi-package shipments mapped to packages with stable ids; a void; cancel (done, or too late
once shipped); the change feed resumed from a saved cursor by a new instance with no package
lost and none renamed; rate limits waited out or raised as ``RateLimited``, never lost;
inventory and acknowledge only when declared; secrets absent from reprs and errors.
"""

from bridge.backends.testing.driver import Parcel, WarehouseDriver
from bridge.backends.testing.suite import BackendConformance

__all__ = ["BackendConformance", "Parcel", "WarehouseDriver"]
