"""What can go wrong talking to a remote API, sorted by what the caller should do next.

Order Desk and every warehouse backend raise these same classes for the same outcomes, so the
retry policy (``bridge.jobs.retry``) and the pipeline decide by class alone: send again after
``RateLimited`` (nothing was done), repeat a ``TransientError`` as is (the request certainly did
not take effect, or it was a read), look the result up before repeating after an
``AmbiguousOutcome`` (a write left us and may have been applied), and hand an ``AuthError`` or a
``RedirectRefused`` to a person, since no repeat fixes credentials or a wrong URL. Services add
their own subclasses for refusals only they can describe. Messages name the service and path,
never credentials, request headers or query strings.
"""

from __future__ import annotations


class RemoteError(Exception):
    """Any failure of a call to a remote API; ``retryable`` says whether a later try may work."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        service: str | None = None,
        path: str | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.service = service
        self.path = path
        self.status_code = status_code


class RateLimited(RemoteError):
    """The service (or our shared limiter for it) said slow down; nothing was done.

    Send again after ``retry_after`` seconds.
    """

    retryable = True

    def __init__(
        self,
        retry_after: float,
        message: str = "",
        *,
        service: str | None = None,
        path: str | None = None,
        status_code: int | None = None,
    ) -> None:
        self.retry_after = max(0.0, float(retry_after))
        default = f"rate limited by {service or 'the service'}; retry in {self.retry_after:g} s"
        super().__init__(message or default, service=service, path=path, status_code=status_code)


class OverBudget(RateLimited):
    """Our own shared limiter would hold the caller longer than it agreed to wait; nothing was sent.

    Not a failure: the partner's budget is spent for now. A task gives its worker slot back and
    comes back after ``retry_after`` (``bridge.jobs.retry.come_back_after``), so one store with
    an empty bucket never holds the workers other stores need.
    """


class TransientError(RemoteError):
    """Safe to repeat as is: a read, or a write that never left this machine."""

    retryable = True


class AmbiguousOutcome(RemoteError):
    """A write was sent but no clear answer came back: look it up before sending it again."""

    retryable = True


class AuthError(RemoteError):
    """The service refused our credentials; no retry helps until someone fixes them."""


class RedirectRefused(RemoteError):
    """The service answered with a redirect, which only a wrong base URL explains.

    Not followed (credentials would go to the new host) and not retried: the same call gets the
    same answer until someone fixes the setting the message names.
    """
