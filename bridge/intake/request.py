"""One webhook as the web layer read it: the body, the ``order`` field, the headers, the peer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class IntakeRequest:
    """One webhook as the web layer read it; ``order_field`` is None when the form lacks it."""

    body: bytes
    order_field: str | None
    headers: Mapping[str, str]
    remote_addr: str = ""

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None
