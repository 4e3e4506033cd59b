"""The error taxonomy every backend speaks (docs/backends.md#errors).

The core decides what to do by error class alone: retry later (``RateLimited``,
``TransientError``), reconcile with a lookup before anything else (``AmbiguousOutcome``),
adopt the existing order (``DuplicateOrder``), or park the order for a person
(``ValidationError``, ``AuthError``, ``InvalidState``). Messages are written for an operator and
never carry credentials, request headers or raw configuration values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bridge.backends.models import RemoteOrder


class BackendError(Exception):
    """Anything a warehouse backend reports; ``retryable`` tells the core whether to try later."""

    retryable = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RateLimited(BackendError):
    """The warehouse asked us to slow down; nothing was done, try again after ``retry_after``."""

    retryable = True

    def __init__(self, retry_after: float, message: str = "") -> None:
        self.retry_after = max(0.0, float(retry_after))
        default = f"rate limited by the warehouse; retry in {self.retry_after:g} s"
        super().__init__(message or default)


class TransientError(BackendError):
    """A failure that changed nothing on the warehouse side (5xx on a read, refused connection)."""

    retryable = True


class AmbiguousOutcome(BackendError):
    """A write was sent but we never learned its result: look it up before doing it again."""

    retryable = True


class DuplicateOrder(BackendError):
    """The warehouse already holds an order with this key; ``existing`` is it, when returned."""

    def __init__(self, message: str, existing: RemoteOrder | None = None) -> None:
        super().__init__(message)
        self.existing = existing


class ValidationError(BackendError):
    """The warehouse refused the data for good (address, SKU); ``fields`` maps field to reason."""

    def __init__(self, message: str, fields: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.fields: dict[str, Any] = dict(fields or {})


class AuthError(BackendError):
    """The warehouse refused our credentials; no retry will help until someone fixes them."""


class InvalidState(BackendError):
    """The order is in a state that forbids the operation (e.g. updating a shipped order)."""


class NotFound(BackendError):
    """The warehouse has no such order or resource."""


class NotSupported(BackendError):
    """This backend cannot do the operation at all (see its capabilities)."""


class UnknownBackend(BackendError, LookupError):
    """No installed backend has that name; the message lists the installed ones."""


class ConfigError(BackendError, ValueError):
    """A backend configuration failed validation; the message names fields, never values."""
