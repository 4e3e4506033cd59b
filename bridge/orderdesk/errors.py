"""What can go wrong when talking to Order Desk, sorted by what the caller should do next.

The classes are decided by the outcome, not by the HTTP code: the caller retries a
``TransientError`` as is (the request certainly did not take effect, or it was a read), must
reconcile after an ``AmbiguousOutcome`` (a write was sent and may or may not have been applied),
waits after ``RateLimited``, and parks the work with the message of a ``Rejected`` or
``AuthError``, which retrying cannot fix. Messages name the store and path, never the API key.
"""

from __future__ import annotations

from typing import Any


class OrderDeskError(Exception):
    """Any failure of an Order Desk call."""

    def __init__(
        self, message: str, *, status_code: int | None = None, path: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.path = path


class RateLimited(OrderDeskError):
    """HTTP 429: the store's bucket is empty; nothing was done; send again after ``retry_after``."""

    def __init__(self, message: str, *, retry_after: float, path: str | None = None) -> None:
        super().__init__(message, status_code=429, path=path)
        self.retry_after = retry_after


class TransientError(OrderDeskError):
    """A failure that is safe to repeat: a read, or a write that never reached Order Desk."""


class AmbiguousOutcome(OrderDeskError):
    """A write was sent but no clear answer came back (read timeout, dropped connection, 5xx)."""


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
    ) -> None:
        super().__init__(message, status_code=status_code, path=path)
        self.envelope = envelope


class AuthError(OrderDeskError):
    """Order Desk refused the store id / API key pair: a store problem, not an order's."""


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


class Misconfigured(OrderDeskError):
    """The Order Desk URL answers in a way only a wrong setting explains (e.g. a redirect).

    Not retried: the same call would get the same answer until someone fixes the setting.
    """
