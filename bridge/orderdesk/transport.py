"""One HTTP exchange with Order Desk: rate limit, send, classify the outcome, retry what is safe.

Every call goes through ``Transport.call``, so the rules of docs/orderdesk.md hold everywhere:
a token from the store's shared bucket before sending, ``X-Tokens-Remaining`` fed back into
it, 429 pausing every worker for ``X-Retry-After``, the envelope's ``status`` checked even on
HTTP 200, and retries only where a repeat cannot duplicate anything. Whether a failed request may
have taken effect is decided here, once, by where it failed: before the request left (connect
error, connect timeout) it certainly did not; after it was sent (read timeout, dropped
connection, 5xx) a write may have been applied, which the client must reconcile.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import requests
import structlog
from requests.adapters import HTTPAdapter
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from bridge import __version__
from bridge.orderdesk.errors import (
    AmbiguousOutcome,
    AuthError,
    Misconfigured,
    OrderDeskError,
    RateLimited,
    Rejected,
    TransientError,
)
from bridge.remote.ratelimit import RateLimiter, RateLimiterUnavailable, RateLimitTimeout
from bridge.remote.ratelimit import retry_after_seconds as parse_retry_after
from bridge.remote.redirects import is_redirect, redirect_target

log = structlog.get_logger(__name__)

USER_AGENT = (
    f"orderdesk-bridge/{__version__} (3PL fulfillment bridge; "
    f"python-requests/{requests.__version__})"
)
DEFAULT_RETRY_AFTER = 1.0
_AUTH_MESSAGE = re.compile(r"api.?key|unauthori[sz]ed|authenticat|store.?id|forbidden", re.I)
_UNSAFE_HEADER_CHARS = re.compile(r"[\x00-\x1f\x7f]")

Timeout = float | tuple[float, float]


def path_id(value: object) -> str:
    """An id as one path segment (ids come from payloads; never let one add a ``/``)."""
    return quote(str(value).strip(), safe="")


def _never_sent(exc: requests.ConnectionError) -> bool:
    """Whether the connection failed before any byte of the request went out."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason: object = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, NewConnectionError | ConnectTimeoutError)


def describe_connection_error(exc: BaseException) -> str:
    """The short cause of a connection failure ("Connection refused"), not urllib3's whole chain."""
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


class Transport:
    """The store's authenticated, rate-limited HTTP session."""

    def __init__(
        self,
        *,
        store_id: str,
        api_key: str,
        base_url: str,
        timeout: Timeout,
        limiter: RateLimiter,
        session: requests.Session | None,
        retries: int,
        acquire_timeout: float | None,
    ) -> None:
        api_key = api_key.strip()
        # requests quotes an invalid header value in its exception text; refuse it here instead.
        if not api_key or _UNSAFE_HEADER_CHARS.search(api_key):
            raise ValueError(f"the API key for store {store_id} is empty or has control characters")
        self.store_id = str(store_id).strip()
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.limiter = limiter
        self.retries = max(0, retries)
        self.acquire_timeout = acquire_timeout
        self._owns_session = session is None
        self.session = session or requests.Session()
        if self._owns_session:
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
            self.session.mount("https://", adapter)
            self.session.mount("http://", adapter)
        self.session.headers.update(
            {
                "ORDERDESK-STORE-ID": self.store_id,
                "ORDERDESK-API-KEY": api_key,
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
            }
        )

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        idempotent: bool,
    ) -> dict[str, Any]:
        """Send one request and return its success envelope, retrying only what is safe.

        ``idempotent`` says a repeat of this request cannot change the result (reads, folder moves,
        absolute stock levels): then an ambiguous outcome is retried too. Otherwise only 429s and
        failures before sending are retried.
        """
        retry_on: tuple[type[OrderDeskError], ...] = (TransientError, RateLimited)
        if idempotent:
            retry_on += (AmbiguousOutcome,)
        retrying = Retrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=_wait_for(wait_exponential_jitter(multiplier=0.25, max=8.0, jitter=0.25)),
            retry=retry_if_exception_type(retry_on),
            before_sleep=self._log_retry(method, path),
            reraise=True,
        )
        return retrying(self._send_once, method, path, params, body)

    def _log_retry(self, method: str, path: str) -> Callable[[RetryCallState], None]:
        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "orderdesk.retry",
                store_id=self.store_id,
                method=method,
                path=path,
                attempt=state.attempt_number,
                error=type(exc).__name__,
                reason=str(exc),
                wait=round(state.upcoming_sleep, 3),
            )

        return before_sleep

    def _acquire(self, path: str) -> None:
        try:
            self.limiter.acquire(timeout=self.acquire_timeout)
        except RateLimitTimeout as exc:
            raise RateLimited(
                f"store {self.store_id}: local rate limit still closed for {exc.wait:.1f}s",
                retry_after=exc.wait,
                path=path,
            ) from None
        except RateLimiterUnavailable as exc:
            raise TransientError(f"store {self.store_id}: {exc}", path=path) from None

    def _send_once(
        self, method: str, path: str, params: dict[str, Any] | None, body: Any
    ) -> dict[str, Any]:
        self._acquire(path)
        write = method != "GET"
        url = self.base_url + path
        started = time.monotonic()
        try:
            # Never follow a redirect: requests would resend ORDERDESK-API-KEY to the new host.
            response = self.session.request(
                method, url, params=params, json=body, timeout=self.timeout, allow_redirects=False
            )
        except requests.ConnectionError as exc:
            reason = describe_connection_error(exc)
            if _never_sent(exc) or not write:
                raise TransientError(
                    f"could not reach Order Desk at {self.base_url} ({method} {path}): {reason}",
                    path=path,
                ) from None
            raise AmbiguousOutcome(
                f"{method} {path} for store {self.store_id} was sent but the connection failed: "
                f"{reason}",
                path=path,
            ) from None
        except requests.Timeout:
            if not write:
                raise TransientError(
                    f"Order Desk did not answer {method} {path} in time", path=path
                ) from None
            raise AmbiguousOutcome(
                f"{method} {path} for store {self.store_id} was sent but no answer came in time",
                path=path,
            ) from None
        elapsed_ms = round((time.monotonic() - started) * 1000)
        return self._outcome(response, method, path, write, elapsed_ms)

    def _outcome(
        self, response: requests.Response, method: str, path: str, write: bool, elapsed_ms: int
    ) -> dict[str, Any]:
        status = response.status_code
        remaining = _int_or_none(response.headers.get("X-Tokens-Remaining"))
        log.debug(
            "orderdesk.response",
            store_id=self.store_id,
            method=method,
            path=path,
            status=status,
            ms=elapsed_ms,
            tokens_remaining=remaining,
        )
        if remaining is not None:
            self._observe(remaining)
        if is_redirect(response):
            raise Misconfigured(
                f"Order Desk at {self.base_url} answered {method} {path} with a redirect "
                f"(HTTP {status}) to {redirect_target(response)}; the API key was not sent there. "
                "Check BRIDGE_ORDERDESK_API_URL",
                status_code=status,
                path=path,
            )
        if status == 429:
            wait = parse_retry_after(response.headers.get("X-Retry-After"), DEFAULT_RETRY_AFTER)
            self._penalize(wait)
            log.warning("orderdesk.rate_limited", store_id=self.store_id, path=path, wait=wait)
            raise RateLimited(
                f"Order Desk rate-limited store {self.store_id} ({method} {path}); "
                f"retry after {wait:g}s",
                retry_after=wait,
                path=path,
            )
        envelope = _json_object(response)
        message = str(envelope.get("message") or "") if envelope else response.reason or ""
        failed = envelope is not None and envelope.get("status") != "success"
        if status in (401, 403) or (failed and _AUTH_MESSAGE.search(message)):
            raise AuthError(
                f"Order Desk refused the API key for store {self.store_id}: "
                f"{message or f'HTTP {status}'}",
                status_code=status,
                path=path,
            )
        if status >= 500 or (envelope is None and status < 400):
            what = f"HTTP {status}" if status >= 500 else "an answer that is not a JSON object"
            cls = AmbiguousOutcome if write else TransientError
            raise cls(
                f"Order Desk gave {what} to {method} {path} for store {self.store_id}",
                status_code=status,
                path=path,
            )
        if status >= 400 or failed:
            raise Rejected(
                message or f"HTTP {status}", status_code=status, path=path, envelope=envelope
            )
        assert envelope is not None
        return envelope

    def _observe(self, remaining: int) -> None:
        try:
            self.limiter.observe_remaining(remaining)
        except RateLimiterUnavailable as exc:
            log.warning("orderdesk.limiter_unavailable", store_id=self.store_id, error=str(exc))

    def _penalize(self, seconds: float) -> None:
        try:
            self.limiter.penalize(seconds)
        except RateLimiterUnavailable as exc:
            log.warning("orderdesk.limiter_unavailable", store_id=self.store_id, error=str(exc))


def _wait_for(
    backoff: Callable[[RetryCallState], float],
) -> Callable[[RetryCallState], float]:
    """Wait what the server asked after a 429, exponential backoff with jitter otherwise."""

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimited):
            return exc.retry_after
        return backoff(state)

    return wait


def _json_object(response: requests.Response) -> dict[str, Any] | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(float(value)) if value is not None else None
    except ValueError:
        return None
