"""ShipStation v1's clock: US Pacific wall time with seven fractional digits and no offset.

ShipStation v1 writes every timestamp as Pacific local time ("2026-11-20T09:04:12.0000000") and
reads date filters the same way, so a client that assumes UTC is off by seven or eight hours and
misses shipments near a window's edge. The simulator keeps UTC internally and converts only here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

PACIFIC = ZoneInfo("America/Los_Angeles")

_STAMP = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<time>\d{2}:\d{2}(?::\d{2})?)(?:\.(?P<fraction>\d+))?)?"
    r"(?P<zone>Z|[+-]\d{2}:?\d{2})?$"
)


def format_pacific(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    local = moment.astimezone(PACIFIC)
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond * 10:07d}"


def parse_pacific(text: str) -> datetime:
    """A ShipStation date or timestamp; without an offset it is Pacific wall time. Returns UTC."""
    match = _STAMP.match(text.strip())
    if match is None:
        raise ValueError(f"not a date: {text!r}")
    clock = match["time"] or "00:00:00"
    if clock.count(":") == 1:
        clock += ":00"
    fraction = (match["fraction"] or "0")[:6].ljust(6, "0")
    zone = match["zone"]
    suffix = "" if zone is None else ("+00:00" if zone == "Z" else zone)
    moment = datetime.fromisoformat(f"{match['date']}T{clock}.{fraction}{suffix}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=PACIFIC)
    return moment.astimezone(UTC)
