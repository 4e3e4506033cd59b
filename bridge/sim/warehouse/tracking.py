"""Tracking numbers and tracking URLs that look like the carriers' own.

People judge the bridge by what lands in Order Desk: a UPS number that is not "1Z" plus sixteen
characters, or a URL that opens nothing, makes a demo look broken. So each carrier gets its real
number shape with a valid check digit, and numbers are unique for the life of the simulator
because the core deduplicates packages by tracking number.
"""

from __future__ import annotations

import random
import string
import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Carrier:
    code: str
    name: str
    default_service: str
    url_template: str

    def tracking_url(self, number: str) -> str:
        return self.url_template.format(number)


CARRIERS: dict[str, Carrier] = {
    "ups": Carrier("ups", "UPS", "ups_ground", "https://www.ups.com/track?tracknum={}"),
    "usps": Carrier(
        "usps",
        "USPS",
        "usps_priority_mail",
        "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
    ),
    "fedex": Carrier(
        "fedex", "FedEx", "fedex_ground", "https://www.fedex.com/fedextrack/?trknbr={}"
    ),
}


def carrier(code: str) -> Carrier:
    try:
        return CARRIERS[code]
    except KeyError:
        raise ValueError(f"unknown carrier {code!r}; known: {', '.join(CARRIERS)}") from None


def _ups_check_digit(body: str) -> str:
    # Letters count as (ord - 63) mod 10; odd positions once, even positions twice.
    values = [int(c) if c.isdigit() else (ord(c) - 63) % 10 for c in body]
    total = sum(v if i % 2 == 0 else 2 * v for i, v in enumerate(values))
    return str((10 - total % 10) % 10)


def _usps_check_digit(body: str) -> str:
    # Weights 3, 1, 3, ... from the rightmost digit (Intelligent Mail package barcode).
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def _fedex_check_digit(body: str) -> str:
    # Weights 1, 3, 7 repeating from the rightmost digit, modulo 11 then 10.
    weights = (1, 3, 7)
    total = sum(int(d) * weights[i % 3] for i, d in enumerate(reversed(body)))
    return str(total % 11 % 10)


class TrackingNumbers:
    """Issues unique, well-formed tracking numbers; thread-safe."""

    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(seed)
        self._issued: set[str] = set()
        self._lock = threading.Lock()

    def issue(self, carrier_code: str) -> str:
        make = self._makers()[carrier(carrier_code).code]
        with self._lock:
            while True:
                number = make()
                if number not in self._issued:
                    self._issued.add(number)
                    return number

    def _makers(self) -> dict[str, Callable[[], str]]:
        return {"ups": self._ups, "usps": self._usps, "fedex": self._fedex}

    def _digits(self, count: int) -> str:
        return "".join(self._rng.choices(string.digits, k=count))

    def _ups(self) -> str:
        shipper = "".join(self._rng.choices(string.ascii_uppercase + string.digits, k=6))
        body = shipper + "03" + self._digits(7)  # service "03" is UPS Ground
        return "1Z" + body + _ups_check_digit(body)

    def _usps(self) -> str:
        body = "9400" + self._digits(17)
        return body + _usps_check_digit(body)

    def _fedex(self) -> str:
        body = str(self._rng.randint(1, 9)) + self._digits(10)
        return body + _fedex_check_digit(body)
