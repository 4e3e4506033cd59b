"""The refusals only a warehouse backend can describe (docs/backends.md#errors).

Failures any remote API can have are the shared ``bridge.remote.errors`` classes, raised by the
one sending layer: ``RateLimited``, ``TransientError`` (retry later), ``AmbiguousOutcome``
(reconcile with a lookup before anything else), ``AuthError`` and ``RedirectRefused`` (park for
a person). The core decides what to do by class alone; these add what is the warehouse's own:
adopt the existing order (``DuplicateOrder``) or park the order (``ValidationError``,
``InvalidState``). Messages are written for an operator and never carry credentials, request
headers or raw configuration values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bridge.remote.errors import RemoteError

if TYPE_CHECKING:
    from bridge.backends.models import RemoteOrder


class BackendError(RemoteError):
    """A warehouse's own refusal, or a problem with a backend's setup; never retryable."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


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
