"""What the REST warehouse backends add to the one sending layer (``bridge.remote.http``).

Reads are retried there (5xx, dropped connections, 429 after the announced reset); writes are
sent once, and a timeout or 5xx after the request left is an ``AmbiguousOutcome`` the core
settles by looking the order up (see docs/backends.md). What is the warehouses' own stays here:
the ``X-Rate-Limit-*`` headers feeding the per-credential limiter (shared by every worker), and
the meaning of a 4xx, ``NotFound`` or ``ValidationError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import requests

from bridge.backends.errors import NotFound, ValidationError
from bridge.remote.http import Sender, Service
from bridge.remote.ratelimit import RateLimiter, ServerGate

# Seconds to wait after a 429 or an exhausted window: the standard header first, then what
# ShipStation-style APIs send, then ShipBob's ``x-retry-after`` (header names ignore case).
RETRY_AFTER_HEADERS = ("Retry-After", "X-Rate-Limit-Reset", "X-Retry-After")
REMAINING_HEADER = "X-Rate-Limit-Remaining"


class ApiClient:
    """A warehouse's JSON API at ``base_url``, sent through the bridge's one sending layer."""

    def __init__(
        self,
        base_url: str,
        *,
        service: str,
        timeout: float,
        auth: tuple[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        session: requests.Session | None = None,
        limiter: RateLimiter | None = None,
        read_attempts: int = 4,
        max_wait: float = 90.0,
        remaining_header: str = REMAINING_HEADER,
        credential: str = "API key",
    ) -> None:
        self.service = service
        self.read_attempts = read_attempts
        self.limiter: RateLimiter = limiter or ServerGate(service)
        self._sender = Sender(
            base_url,
            service=Service(
                name=service,
                base_url_setting="the backend's base_url",
                remaining_header=remaining_header,
                retry_after_headers=RETRY_AFTER_HEADERS,
                pause_when_exhausted=True,
                refused_credentials=lambda response: (
                    f"{service} refused our credentials (HTTP {response.status_code}); "
                    f"check the {credential}"
                ),
            ),
            limiter=self.limiter,
            timeout=(min(5.0, timeout), timeout),
            session=session,
            headers=headers,
            auth=auth,
            acquire_timeout=max_wait,
        )

    @property
    def base_url(self) -> str:
        return self._sender.base_url

    @property
    def session(self) -> requests.Session:
        return self._sender.session

    def close(self) -> None:
        self._sender.close()

    def read(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET JSON, retrying what cannot have changed anything; 404 raises ``NotFound``."""

        def handle(response: requests.Response) -> Any:
            if response.status_code == 404:
                raise NotFound(f"{self.service}: {path} was not found")
            if 400 <= response.status_code < 500:
                raise ValidationError(
                    f"{self.service} refused the query {path} (HTTP {response.status_code})"
                )
            return self._sender.json(response, "GET", path)

        return self._sender.call("GET", path, handle, params=params, attempts=self.read_attempts)

    def write(
        self,
        method: str,
        path: str,
        body: Any,
        *,
        passthrough: Iterable[int] = (),
    ) -> requests.Response:
        """Send a write once. 2xx and ``passthrough`` statuses return the response for the
        backend to interpret; everything else raises the matching error."""
        response = self._sender.send(method, path, json=body)
        if response.status_code < 300 or response.status_code in set(passthrough):
            return response
        if response.status_code == 404:
            raise NotFound(f"{self.service}: {path} was not found")
        raise ValidationError(
            f"{self.service} refused {method} {path} (HTTP {response.status_code})",
            {"_": response.text[:300]},
        )


def error_json(response: requests.Response) -> dict[str, Any]:
    """The JSON error body of a refused write, or an empty dict when there is none."""
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
