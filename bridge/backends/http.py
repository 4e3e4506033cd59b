"""HTTP plumbing shared by the REST backends: rate-limit headers, read retries, write safety.

Two rules from docs/backends.md#http shape it. Reads are retried with capped, jittered backoff
(5xx, dropped connections, 429 after waiting the announced reset). Writes are never retried here:
a timeout or 5xx after the request left us is an ``AmbiguousOutcome`` the core must reconcile by
looking the order up. Rate limits are per credential and shared by every worker, so the
``X-Rate-Limit-*`` headers feed the injected limiter (or a process-local one) and every request
waits on it first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

import requests
import structlog
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from bridge import __version__
from bridge.backends.base import Limiter
from bridge.backends.errors import (
    AmbiguousOutcome,
    AuthError,
    ConfigError,
    NotFound,
    RateLimited,
    TransientError,
    ValidationError,
)
from bridge.remote.ratelimit import RateLimiterUnavailable, RateLimitTimeout
from bridge.remote.redirects import is_redirect, redirect_target

log = structlog.get_logger(__name__)

USER_AGENT = f"orderdesk-bridge/{__version__}"


class ServerGate:
    """Process-local limiter for APIs without a fixed budget: closed only when the server says.

    It follows the server's headers alone (``penalize`` after a 429 or an exhausted window), so
    an unlimited simulator is never slowed down by a guess.
    """

    def __init__(self, name: str = "warehouse") -> None:
        self.name = name
        self._lock = threading.Lock()
        self._open_at = 0.0

    def acquire(self, timeout: float | None = None) -> None:
        with self._lock:
            wait = self._open_at - time.monotonic()
        if timeout is not None and wait > timeout:
            raise RateLimitTimeout(self.name, wait)
        if wait > 0:
            time.sleep(wait)

    def observe_remaining(self, remaining: int) -> None:
        """Nothing to learn locally: a zero is followed by ``penalize`` with the reset time."""

    def penalize(self, seconds: float) -> None:
        with self._lock:
            self._open_at = max(self._open_at, time.monotonic() + seconds)


def _header_float(headers: Mapping[str, str], *names: str) -> float | None:
    for name in names:
        value = headers.get(name)
        if value is None:
            continue
        try:
            return float(value)
        except ValueError:
            continue
    return None


def _sent_before_failure(exc: requests.RequestException) -> bool:
    """False when the connection was never established, so the server cannot have acted."""
    if isinstance(exc, requests.ConnectTimeout):
        return False
    seen: set[int] = set()
    stack: list[object] = [exc]
    while stack:
        current = stack.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, NewConnectionError | ConnectTimeoutError):
            return False
        # requests and urllib3 nest the root cause in args, .reason, __cause__ or __context__.
        stack.extend([current.__cause__, current.__context__, getattr(current, "reason", None)])
        stack.extend(current.args[:1])
    return True


class ApiClient:
    """A JSON API at ``base_url`` seen through the bridge's retry and rate-limit rules."""

    def __init__(
        self,
        base_url: str,
        *,
        service: str,
        timeout: float,
        auth: tuple[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        session: requests.Session | None = None,
        limiter: Limiter | None = None,
        read_attempts: int = 4,
        max_wait: float = 90.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.service = service
        self.timeout = timeout
        self._auth = auth
        self._headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
        self._owns_session = session is None
        self.session = session or requests.Session()
        self.limiter: Limiter = limiter or ServerGate(service)
        self.read_attempts = read_attempts
        self.max_wait = max_wait

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    def read(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET JSON, retrying what cannot have changed anything; 404 raises ``NotFound``."""
        retrying = Retrying(
            retry=retry_if_exception_type((TransientError, RateLimited)),
            stop=stop_after_attempt(self.read_attempts),
            wait=self._read_wait,
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                response = self._send("GET", path, params=params, write=False)
                if response.status_code == 404:
                    raise NotFound(f"{self.service}: {path} was not found")
                if 400 <= response.status_code < 500:
                    raise ValidationError(
                        f"{self.service} refused the query {path} (HTTP {response.status_code})"
                    )
                return self._json(response)
        raise AssertionError("unreachable: tenacity reraises the last error")

    def write(
        self,
        method: str,
        path: str,
        body: Any,
        *,
        passthrough: Iterable[int] = (),
    ) -> requests.Response:
        """Send a write once. 2xx and ``passthrough`` statuses return the response for the
        backend to interpret; everything else raises the matching ``BackendError``."""
        response = self._send(method, path, json=body, write=True)
        if response.status_code < 300 or response.status_code in set(passthrough):
            return response
        if response.status_code == 404:
            raise NotFound(f"{self.service}: {path} was not found")
        raise ValidationError(
            f"{self.service} refused {method} {path} (HTTP {response.status_code})",
            {"_": response.text[:300]},
        )

    def _read_wait(self, retry_state: Any) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, RateLimited):
            # The limiter already holds the gate closed until the reset; acquire() waits there.
            return 0.0
        return wait_random_exponential(multiplier=0.2, max=5.0)(retry_state)

    def _send(self, method: str, path: str, *, write: bool, **kwargs: Any) -> requests.Response:
        try:
            self.limiter.acquire(self.max_wait)
        except RateLimitTimeout as exc:
            raise RateLimited(exc.wait, f"{self.service}: rate limit budget used up") from None
        except RateLimiterUnavailable:
            raise TransientError(f"{self.service}: shared rate limiter unreachable") from None
        url = f"{self.base_url}{path}"
        try:
            response = self.session.request(
                method,
                url,
                auth=self._auth,
                headers=self._headers,
                timeout=(min(5.0, self.timeout), self.timeout),
                # Never follow a redirect: requests would resend custom key headers to the new
                # host. A 3xx is a wrong base_url, refused below.
                allow_redirects=False,
                **kwargs,
            )
        except requests.RequestException as exc:
            kind = type(exc).__name__
            if write and _sent_before_failure(exc):
                raise AmbiguousOutcome(
                    f"{self.service}: no answer to {method} {path} after sending it ({kind}); "
                    "look the order up before sending it again"
                ) from None
            raise TransientError(f"{self.service}: {method} {path} failed ({kind})") from None
        self._observe(response)
        log.debug(
            "backend_http",
            service=self.service,
            method=method,
            path=path,
            status=response.status_code,
        )
        status = response.status_code
        if is_redirect(response):
            raise ConfigError(
                f"{self.service} at {self.base_url} answered {method} {path} with a redirect "
                f"(HTTP {status}) to {redirect_target(response)}; credentials were not sent there. "
                "Check the backend's base_url"
            )
        if status in (401, 403):
            raise AuthError(
                f"{self.service} refused our credentials (HTTP {status}); check the API key"
            )
        if status == 429:
            wait = self._retry_after(response)
            self.limiter.penalize(wait)
            raise RateLimited(wait, f"{self.service} rate limit reached; retry in {wait:g} s")
        if status >= 500:
            if write:
                raise AmbiguousOutcome(
                    f"{self.service} answered HTTP {status} to {method} {path}; "
                    "look the order up before sending it again"
                )
            raise TransientError(f"{self.service} answered HTTP {status} to {method} {path}")
        return response

    def _observe(self, response: requests.Response) -> None:
        remaining = _header_float(response.headers, "X-Rate-Limit-Remaining")
        if remaining is None:
            return
        self.limiter.observe_remaining(int(remaining))
        if remaining <= 0:
            self.limiter.penalize(self._retry_after(response))

    @staticmethod
    def _retry_after(response: requests.Response) -> float:
        wait = _header_float(response.headers, "Retry-After", "X-Rate-Limit-Reset", "X-Retry-After")
        return 1.0 if wait is None else max(wait, 0.0)

    def _json(self, response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise TransientError(
                f"{self.service} sent a response that is not JSON (HTTP {response.status_code})"
            ) from None


def error_json(response: requests.Response) -> dict[str, Any]:
    """The JSON error body of a refused write, or an empty dict when there is none."""
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
