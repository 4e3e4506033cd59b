"""The one way the bridge sends a request to a remote API and says what its outcome means.

Order Desk and every REST warehouse backend go through ``Sender``, so these rules hold for both:

- A token from the service's limiter (``bridge.remote.ratelimit``) before anything is sent; the
  server's remaining-budget header fed back into it; a 429 closes it for everyone for the time
  the server asked.
- Redirects are never followed (``bridge.remote.redirects``): a 3xx is ``RedirectRefused``.
- Whether a failed request may have taken effect is decided here, once, by where it failed: a
  connection that was never established (refused, connect timeout) carried nothing, so the
  request is a ``TransientError`` safe to repeat; a request that left (read timeout, dropped
  connection, 5xx, unreadable answer) is a ``TransientError`` for a read but an
  ``AmbiguousOutcome`` for a write, which the caller must settle by looking before sending again.
- 401/403 is ``AuthError``; 429 is ``RateLimited`` with the server's wait.
- Every request sent is counted (``bridge_external_calls_total``: service, endpoint template,
  status) and timed, and every wait for a token measured, here and only here.
- ``call`` repeats, with capped jittered backoff, only what cannot duplicate anything:
  ``RateLimited`` and ``TransientError`` always, ``AmbiguousOutcome`` only for idempotent
  requests. A plain write is never retried blindly.

What is a service's own (auth headers, its rate-limit header names, its envelope, its refusal
wording) stays with the service: ``bridge/orderdesk/transport.py``, ``bridge/backends/http.py``.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
import structlog
from requests.adapters import HTTPAdapter
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from bridge import __version__
from bridge.metrics import EXTERNAL_CALL_SECONDS, EXTERNAL_CALLS, RATE_LIMIT_WAIT_SECONDS
from bridge.remote.errors import (
    AmbiguousOutcome,
    AuthError,
    OverBudget,
    RateLimited,
    RedirectRefused,
    RemoteError,
    TransientError,
)
from bridge.remote.ratelimit import (
    RateLimiter,
    RateLimiterUnavailable,
    RateLimitTimeout,
    retry_after_seconds,
)
from bridge.remote.redirects import is_redirect, redirect_target, shown_url
from bridge.remote.window import WindowObserver

log = structlog.get_logger(__name__)

USER_AGENT = (
    f"orderdesk-bridge/{__version__} (3PL fulfillment bridge; "
    f"python-requests/{requests.__version__})"
)
DEFAULT_RETRY_AFTER = 1.0
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Timeout = float | tuple[float, float]
T = TypeVar("T")


@dataclass(frozen=True)
class Service:
    """What the sending layer needs to know about one remote API."""

    # Named in every message and carried on every error ("Order Desk", "shipstation").
    name: str
    # Where the base URL is configured, named when the service answers with a redirect.
    base_url_setting: str
    # The header announcing how many requests the budget has left, if the service sends one.
    remaining_header: str | None = None
    # Headers holding the seconds to wait after a 429, the first readable one wins.
    retry_after_headers: tuple[str, ...] = ("Retry-After",)
    # Whether a remaining budget of 0 closes the limiter until the announced reset.
    pause_when_exhausted: bool = False
    # A fixed window's size and the seconds until it resets (ShipStation's X-Rate-Limit-Limit
    # and X-Rate-Limit-Reset): with both, a limiter that mirrors the window hears all of it.
    limit_header: str | None = None
    reset_header: str | None = None
    # The message of a 401/403, in the service's own words (its error body may say why).
    refused_credentials: Callable[[requests.Response], str] | None = None
    # The ``service`` label of its metrics when ``name`` carries an id (one series per API).
    metric_name: str | None = None

    @property
    def metric_label(self) -> str:
        """A short, stable label: ``metric_name``, or ``name`` in lower case ("shipstation")."""
        return self.metric_name or _NOT_LABEL.sub("_", self.name.lower()).strip("_")


_NOT_LABEL = re.compile(r"[^a-z0-9]+")
# Path segments kept in an endpoint label: words ("orders", "batch-shipments") and API versions.
# Everything else (digits, keys like od-700700-55, escapes) is an id. Order Desk's and the
# warehouses' ids all hold digits; an API whose ids are plain words would need a template here.
_PATH_WORD = re.compile(r"[A-Za-z][A-Za-z_-]{0,39}|v\d{1,2}")


def endpoint_label(method: str, path: str) -> str:
    """``GET /orders/{id}/shipments`` for ``GET /orders/123/shipments?x=1``: the endpoint
    without its ids, so one series per endpoint whatever order or package it is about."""
    segments = path.split("?", 1)[0].strip("/").split("/")
    template = "/".join(s if _PATH_WORD.fullmatch(s) else "{id}" for s in segments if s)
    return f"{method.upper()} /{template}"


def never_sent(exc: requests.RequestException) -> bool:
    """Whether the request failed before any byte of it left (no connection was established)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    seen: set[int] = set()
    stack: list[object] = [exc]
    while stack:
        current = stack.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, NewConnectionError | ConnectTimeoutError):
            return True
        # requests and urllib3 nest the root cause in args, .reason, __cause__ or __context__.
        stack.extend([current.__cause__, current.__context__, getattr(current, "reason", None)])
        stack.extend(current.args[:1])
    return False


def describe_failure(exc: BaseException) -> str:
    """The short cause of a failed request ("Connection refused"), not urllib3's whole chain."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return current.strerror
        if isinstance(current, MaxRetryError) and current.reason is not None:
            current = current.reason
            continue
        nested = next((arg for arg in current.args if isinstance(arg, BaseException)), None)
        current = nested or current.__cause__ or current.__context__
    if isinstance(exc, requests.Timeout):
        return "timed out"
    return type(exc).__name__


def header_seconds(headers: Mapping[str, str], names: tuple[str, ...]) -> float | None:
    """The first of ``names`` holding a readable, finite, non-negative number of seconds."""
    for name in names:
        seconds = retry_after_seconds(headers.get(name), -1.0)
        if seconds >= 0:
            return seconds
    return None


def header_count(headers: Mapping[str, str], name: str | None) -> int | None:
    """A whole-number header (a remaining budget), or None when absent or unreadable."""
    value = headers.get(name) if name else None
    try:
        number = float(value) if value is not None else math.nan
    except ValueError:
        return None
    return int(number) if math.isfinite(number) else None


class Sender:
    """One remote API at ``base_url``: limiter, request, classified outcome, safe retries."""

    def __init__(
        self,
        base_url: str,
        *,
        service: Service,
        limiter: RateLimiter,
        timeout: Timeout,
        session: requests.Session | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        acquire_timeout: float | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.service = service
        self.limiter = limiter
        self.timeout = timeout
        self.acquire_timeout = acquire_timeout
        self._auth = auth
        self._headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
        self._owns_session = session is None
        self.session = session or requests.Session()
        if self._owns_session:
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
            self.session.mount("https://", adapter)
            self.session.mount("http://", adapter)

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    def call(
        self,
        method: str,
        path: str,
        handle: Callable[[requests.Response], T],
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        attempts: int = 1,
        idempotent: bool | None = None,
    ) -> T:
        """``send``, then ``handle`` the response, up to ``attempts`` times while it is safe.

        ``idempotent`` (reads by default) says a repeat cannot change the result, so an
        ``AmbiguousOutcome`` is retried too. ``handle`` runs inside the loop: the service's own
        checks of the answer may raise a retryable error as well.
        """
        if idempotent is None:
            idempotent = method.upper() in READ_METHODS
        retrying = Retrying(
            stop=stop_after_attempt(max(attempts, 1)),
            wait=_wait,
            retry=retry_if_exception(lambda exc: _repeatable(exc, idempotent=idempotent)),
            before_sleep=self._log_retry(method, path),
            reraise=True,
        )
        return retrying(lambda: handle(self.send(method, path, params=params, json=json)))

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> requests.Response:
        """One request, once. Returns any answer below 500 that is not 401/403/429 or a 3xx."""
        method = method.upper()
        write = method not in READ_METHODS
        service = self.service.metric_label
        endpoint = endpoint_label(method, path)
        self._acquire(path)
        started = time.perf_counter()
        try:
            response = self.session.request(
                method,
                f"{self.base_url}{path}",
                params=params,
                json=json,
                auth=self._auth,
                headers=self._headers,
                timeout=self.timeout,
                # Never follow a redirect: requests would resend custom key headers to the new
                # host. A 3xx is a wrong base URL, refused below.
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            self._count(service, endpoint, "none", started)
            raise self._failed(exc, method, path, write) from None
        status = response.status_code
        self._count(service, endpoint, str(status), started)
        self._observe(response)
        log.debug(
            "remote.response",
            service=self.service.name,
            method=method,
            path=path,
            status=status,
            ms=round(response.elapsed.total_seconds() * 1000),
        )
        if is_redirect(response):
            raise RedirectRefused(
                f"{self.service.name} at {shown_url(self.base_url)} answered {method} {path} "
                f"with a redirect (HTTP {status}) to {redirect_target(response)}; credentials "
                f"were not sent there. Check {self.service.base_url_setting}",
                **self._where(path, status),
            )
        if status in (401, 403):
            refused = self.service.refused_credentials
            raise AuthError(
                refused(response)
                if refused
                else f"{self.service.name} refused our credentials (HTTP {status})",
                **self._where(path, status),
            )
        if status == 429:
            wait = self._retry_after(response)
            self._penalize(wait)
            log.warning("remote.rate_limited", service=self.service.name, path=path, wait=wait)
            raise RateLimited(
                wait,
                f"{self.service.name} rate-limited {method} {path}; retry after {wait:g}s",
                **self._where(path, status),
            )
        if status >= 500:
            raise self.unclear(f"HTTP {status}", method, path, status)
        return response

    def json(self, response: requests.Response, method: str, path: str) -> Any:
        """The answer's JSON; an unreadable answer is unclear like a 5xx."""
        try:
            return response.json()
        except ValueError:
            raise self.unclear(
                "an answer that is not JSON", method, path, response.status_code
            ) from None

    def unclear(self, what: str, method: str, path: str, status: int | None) -> RemoteError:
        """The error for an answer that says nothing usable: repeatable for a read only."""
        method = method.upper()
        message = f"{self.service.name} gave {what} to {method} {path}"
        if method in READ_METHODS:
            return TransientError(message, **self._where(path, status))
        return AmbiguousOutcome(
            f"{message}; look it up before sending it again", **self._where(path, status)
        )

    def _where(self, path: str, status: int | None = None) -> dict[str, Any]:
        return {"service": self.service.name, "path": path, "status_code": status}

    @staticmethod
    def _count(service: str, endpoint: str, status: str, started: float) -> None:
        EXTERNAL_CALLS.labels(service, endpoint, status).inc()
        EXTERNAL_CALL_SECONDS.labels(service, endpoint).observe(time.perf_counter() - started)

    def _acquire(self, path: str) -> None:
        started = time.perf_counter()
        try:
            self.limiter.acquire(self.acquire_timeout)
        except RateLimitTimeout as exc:
            raise OverBudget(
                exc.wait,
                f"{self.service.name}: our rate limit stays closed for {exc.wait:.1f}s",
                **self._where(path),
            ) from None
        except RateLimiterUnavailable as exc:
            raise TransientError(f"{self.service.name}: {exc}", **self._where(path)) from None
        finally:
            RATE_LIMIT_WAIT_SECONDS.labels(self.service.metric_label).observe(
                time.perf_counter() - started
            )

    def _failed(
        self, exc: requests.RequestException, method: str, path: str, write: bool
    ) -> RemoteError:
        reason = describe_failure(exc)
        if never_sent(exc) or not write:
            return TransientError(
                f"could not reach {self.service.name} at {shown_url(self.base_url)} "
                f"({method} {path}): {reason}",
                **self._where(path),
            )
        return AmbiguousOutcome(
            f"{method} {path} was sent to {self.service.name} but no answer came back "
            f"({reason}); look it up before sending it again",
            **self._where(path),
        )

    def _observe(self, response: requests.Response) -> None:
        remaining = header_count(response.headers, self.service.remaining_header)
        if remaining is None:
            return
        limit = header_count(response.headers, self.service.limit_header)
        reset = header_seconds(response.headers, (self.service.reset_header or "",))
        if isinstance(self.limiter, WindowObserver) and limit is not None and reset is not None:
            try:
                self.limiter.observe_window(limit, remaining, reset)
            except RateLimiterUnavailable as exc:
                log.warning("remote.limiter_unavailable", service=self.service.name, error=str(exc))
            return
        try:
            self.limiter.observe_remaining(remaining)
        except RateLimiterUnavailable as exc:
            log.warning("remote.limiter_unavailable", service=self.service.name, error=str(exc))
        if remaining <= 0 and self.service.pause_when_exhausted:
            self._penalize(self._retry_after(response))

    def _retry_after(self, response: requests.Response) -> float:
        wait = header_seconds(response.headers, self.service.retry_after_headers)
        return DEFAULT_RETRY_AFTER if wait is None else wait

    def _penalize(self, seconds: float) -> None:
        try:
            self.limiter.penalize(seconds)
        except RateLimiterUnavailable as exc:
            log.warning("remote.limiter_unavailable", service=self.service.name, error=str(exc))

    def _log_retry(self, method: str, path: str) -> Callable[[RetryCallState], None]:
        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "remote.retry",
                service=self.service.name,
                method=method,
                path=path,
                attempt=state.attempt_number,
                error=type(exc).__name__,
                reason=str(exc),
                wait=round(state.upcoming_sleep, 3),
            )

        return before_sleep


def _repeatable(exc: BaseException, *, idempotent: bool) -> bool:
    """Whether sending the same request again, now, cannot duplicate anything and may work.

    A ``RateLimited`` from our own limiter (no 429: it would stay closed longer than the caller
    agreed to wait) is not repeated here; the task retries it later.
    """
    if isinstance(exc, RateLimited):
        return exc.status_code == 429
    if isinstance(exc, AmbiguousOutcome):
        return idempotent
    return isinstance(exc, TransientError)


_backoff = wait_exponential_jitter(multiplier=0.25, max=8.0, jitter=0.25)


def _wait(state: RetryCallState) -> float:
    """What the server asked after a 429, capped exponential backoff with jitter otherwise."""
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, RateLimited):
        return exc.retry_after
    return _backoff(state)
