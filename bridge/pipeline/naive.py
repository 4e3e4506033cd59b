"""The benchmark's naive mode (``BRIDGE_NAIVE=1``): what the bridge would cost without batching.

Only ``bench/`` turns it on, to show side by side what batching buys: one partner call per order
per step (no bulk submit, one folder move and one shipment post per call, a history note for
everything). It is a switch at the few places that batch, never a second code path; production
leaves it off.
"""

from __future__ import annotations

from bridge.settings import get_settings


def per_call(batch: int) -> int:
    """How many orders one partner call carries: ``batch``, or one in naive mode."""
    return 1 if get_settings().naive else max(batch, 1)
