"""Refusals only Order Desk can describe; every other failure is a ``bridge.remote.errors`` class.

A call to Order Desk raises the shared classes for what any remote API can do (``RateLimited``,
``TransientError``, ``AmbiguousOutcome``, ``AuthError``, ``RedirectRefused``) and these for what
Order Desk itself says: a ``Rejected`` request (its envelope's ``status`` is not ``success``,
even on HTTP 200) or a folder the store does not have. Retrying cannot fix either, so the
caller parks the work with the message. Messages name the store and path, never the API key.
"""

from __future__ import annotations

from typing import Any

from bridge.remote.errors import RemoteError

SERVICE = "Order Desk"


class OrderDeskError(RemoteError):
    """A refusal in Order Desk's own words."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        path: str | None = None,
        service: str = SERVICE,
    ) -> None:
        super().__init__(message, service=service, path=path, status_code=status_code)


class Rejected(OrderDeskError):
    """Order Desk answered ``status: error`` (even on HTTP 200) or a 4xx: the request is refused.

    ``envelope`` keeps the answer, whose per-item ``results`` may still say what happened to each.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        path: str | None = None,
        envelope: dict[str, Any] | None = None,
        service: str = SERVICE,
    ) -> None:
        super().__init__(message, status_code=status_code, path=path, service=service)
        self.envelope = envelope


class FolderNotFound(OrderDeskError):
    """A folder name the store does not have; ``available`` lists the names it does have."""

    def __init__(self, name: str, available: list[str], *, store_id: str) -> None:
        listed = ", ".join(available) if available else "none"
        super().__init__(
            f'store {store_id} has no folder named "{name}" (its folders: {listed})',
            path="/store",
        )
        self.name = name
        self.available = available
