"""One exchange with Order Desk: its credentials, its headers, its envelope.

Sending, rate limiting, redirects and the question "did the request leave before it failed?"
belong to ``bridge.remote.http``, shared with the warehouse backends. What is Order Desk's own
stays here: the store id and API key headers, the ``X-Tokens-Remaining`` and ``X-Retry-After``
headers feeding the store's shared bucket, and the envelope whose ``status`` is checked even on
HTTP 200 (a refusal there is ``Rejected``, or ``AuthError`` when it is about the key).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import requests

from bridge.orderdesk.errors import Rejected
from bridge.remote.errors import AuthError
from bridge.remote.http import Sender, Service, Timeout
from bridge.remote.ratelimit import RateLimiter

_AUTH_MESSAGE = re.compile(r"api.?key|unauthori[sz]ed|authenticat|store.?id|forbidden", re.I)
_UNSAFE_HEADER_CHARS = re.compile(r"[\x00-\x1f\x7f]")

__all__ = ["Timeout", "Transport", "path_id"]


def path_id(value: object) -> str:
    """An id as one path segment (ids come from payloads; never let one add a ``/``)."""
    return quote(str(value).strip(), safe="")


def _json_object(response: requests.Response) -> dict[str, Any] | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _message(response: requests.Response, envelope: dict[str, Any] | None) -> str:
    if envelope is not None:
        return str(envelope.get("message") or "")
    return response.reason or ""


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
        self.retries = max(0, retries)
        self._sender = Sender(
            base_url,
            service=Service(
                name=f"Order Desk store {self.store_id}",
                base_url_setting="BRIDGE_ORDERDESK_API_URL",
                remaining_header="X-Tokens-Remaining",
                retry_after_headers=("X-Retry-After",),
                refused_credentials=self._credentials_refused,
                metric_name="orderdesk",
            ),
            limiter=limiter,
            timeout=timeout,
            session=session,
            headers={"ORDERDESK-STORE-ID": self.store_id, "ORDERDESK-API-KEY": api_key},
            acquire_timeout=acquire_timeout,
        )

    @property
    def base_url(self) -> str:
        return self._sender.base_url

    @property
    def session(self) -> requests.Session:
        return self._sender.session

    def close(self) -> None:
        self._sender.close()

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
        return self._sender.call(
            method,
            path,
            lambda response: self._envelope(response, method, path),
            params=params,
            json=body,
            attempts=self.retries + 1,
            idempotent=idempotent,
        )

    def _envelope(self, response: requests.Response, method: str, path: str) -> dict[str, Any]:
        status = response.status_code
        envelope = _json_object(response)
        message = _message(response, envelope)
        failed = envelope is not None and envelope.get("status") != "success"
        if failed and _AUTH_MESSAGE.search(message):
            raise AuthError(
                self._key_refused(message, status),
                service=self._sender.service.name,
                path=path,
                status_code=status,
            )
        if envelope is None and status < 400:
            raise self._sender.unclear("an answer that is not a JSON object", method, path, status)
        if status >= 400 or failed:
            raise Rejected(
                message or f"HTTP {status}",
                status_code=status,
                path=path,
                envelope=envelope,
                service=self._sender.service.name,
            )
        assert envelope is not None
        return envelope

    def _credentials_refused(self, response: requests.Response) -> str:
        return self._key_refused(_message(response, _json_object(response)), response.status_code)

    def _key_refused(self, message: str, status: int) -> str:
        reason = message or f"HTTP {status}"
        return f"Order Desk refused the API key for store {self.store_id}: {reason}"
