"""The warehouse simulator (ShipStation v1, ShipBob, our native API): what callers outside use.

The modules below it depend one way: ``simulator`` wires the store, the API kind, the faults and
the ``control`` routes (which declare the protocol they need instead of importing it). Modules of
this package import each other directly, never this front door.
"""

from bridge.sim.warehouse.autoship import MODES
from bridge.sim.warehouse.faults import RequestRecord
from bridge.sim.warehouse.simulator import KINDS, WarehouseSimulator

__all__ = ["KINDS", "MODES", "RequestRecord", "WarehouseSimulator"]
