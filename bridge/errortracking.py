"""Optional error tracking with Sentry, on when ``SENTRY_DSN`` is set (web, worker and beat).

Events leave the machine, so nothing secret and no customer's address may ride along: every
event and breadcrumb passes ``scrub`` before it is sent. Keys that name a secret or a part of an
address lose their value (a whole ``shipping``/``customer`` block goes); in every remaining text
e-mail addresses, ``key=value`` secrets, URL passwords and the values of this process's own
secret settings are replaced. Frames are sent without their local variables and requests
without their bodies: both hold order payloads and decrypted store credentials, and no list of
keys can foresee every name a variable gets.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from bridge.settings import Settings

SCRUBBED = "[scrubbed]"

# Key fragments (lower case, "-" read as "_") whose values are secrets.
SECRET_KEYS = (
    "api_key",
    "apikey",
    "secret",
    "password",
    "passwd",
    "token",
    "authorization",
    "cookie",
    "session",
    "credential",
    "private_key",
    "signature",
    "dsn",
)
# Keys that are, or hold, a customer's address or contact. Not a bare "name": in an order it is
# a product's, elsewhere in an event the SDK's, the runtime's or a task's.
ADDRESS_KEYS = frozenset(
    {
        "shipping",
        "customer",
        "return_address",
        "ship_to",
        "bill_to",
        "address",
        "first_name",
        "last_name",
        "company",
        "address1",
        "address2",
        "address3",
        "address4",
        "street",
        "city",
        "postal_code",
        "zip",
        "email",
        "phone",
        "ip_address",
        "remote_addr",
        "x_forwarded_for",
        "x_real_ip",
    }
)
# Environment variables whose values are never sent, wherever they turn up in a text.
SECRET_ENV_WORDS = ("SECRET", "PASSWORD", "TOKEN", "API_KEY", "DSN")
# Shorter values would blank out ordinary words.
MIN_KNOWN_SECRET = 8

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
KEY_VALUE = re.compile(
    r"(?i)((?:api[_-]?key|secret|password|passwd|token|authorization)[\"']?\s*[:=]\s*[\"']?)"
    r"[^\s\"'&,;}]+"
)
URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@/\s]+@")


def _secret_key(key: str) -> bool:
    lowered = key.lower().replace("-", "_")
    return any(word in lowered for word in SECRET_KEYS)


def _address_key(key: str) -> bool:
    return key.lower().replace("-", "_") in ADDRESS_KEYS


def _is_sensitive_pair(value: list[Any] | tuple[Any, ...]) -> bool:
    if len(value) != 2 or not all(isinstance(item, str) for item in value):
        return False
    return _secret_key(value[0]) or _address_key(value[0])


class Scrubber:
    """Removes secrets and addresses from an event; ``known`` are literal secret values."""

    def __init__(self, known: Iterable[str] = ()) -> None:
        self.known = sorted({k for k in known if len(k) >= MIN_KNOWN_SECRET}, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self.known:
            value = value.replace(secret, SCRUBBED)
        value = URL_PASSWORD.sub(rf"\1{SCRUBBED}@", value)
        value = KEY_VALUE.sub(rf"\1{SCRUBBED}", value)
        return EMAIL.sub(SCRUBBED, value)

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {
                key: SCRUBBED
                if isinstance(key, str) and (_secret_key(key) or _address_key(key))
                else self.value(item)
                for key, item in value.items()
            }
        if isinstance(value, list | tuple):
            # Headers arrive as [name, value] pairs in some integrations.
            if _is_sensitive_pair(value):
                return [value[0], SCRUBBED]
            return [self.value(item) for item in value]
        return value

    def event(self, event: dict[str, Any], _hint: Any = None) -> dict[str, Any]:
        request = event.get("request")
        if isinstance(request, dict):
            request.pop("data", None)
            request.pop("cookies", None)
        return self.value(event)


def known_secrets(settings: Settings) -> list[str]:
    """This process's own secret values: the secret key and secret-looking environment values."""
    found = [value for name, value in os.environ.items() if _secret_env(name)]
    if settings.secret_key is not None:
        found.append(settings.secret_key.get_secret_value())
    found.extend(_url_password(url) for url in (settings.database_url, settings.broker_url))
    return [value for value in found if value]


def _secret_env(name: str) -> bool:
    return any(word in name.upper() for word in SECRET_ENV_WORDS)


def _url_password(url: str) -> str:
    match = re.search(r"://[^:/@\s]*:([^@/\s]+)@", url)
    return match.group(1) if match else ""


def release() -> str:
    try:
        return f"orderdesk-bridge@{version('orderdesk-bridge')}"
    except PackageNotFoundError:
        return "orderdesk-bridge@unknown"


# What the SDK's integrations may collect by themselves (sentry-sdk's ``data_collection``, which
# replaced ``send_default_pii``): no user, cookies, bodies, frame variables, database query data
# or queue payloads; request headers without the proxy and address ones (the SDK's own list of
# sensitive header names applies too), and ``scrub`` still passes over whatever is sent.
DATA_COLLECTION: dict[str, Any] = {
    "user_info": False,
    "cookies": {"mode": "off"},
    "http_headers": {
        "request": {"mode": "denylist", "terms": ["forwarded", "-ip", "remote-", "via", "-user"]}
    },
    "http_bodies": [],
    "url_query_params": {"mode": "denylist"},
    "graphql": {"document": False, "variables": False},
    "gen_ai": {"inputs": False, "outputs": False},
    "database_query_data": False,
    "queues": False,
    "stack_frame_variables": False,
}


def init_error_tracking(settings: Settings) -> bool:
    """Start Sentry when ``SENTRY_DSN`` is set; say whether it did."""
    if settings.sentry_dsn is None or not settings.sentry_dsn.get_secret_value():
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.flask import FlaskIntegration

    scrubber = Scrubber(known_secrets(settings))
    sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value(),
        environment=settings.env,
        release=release(),
        data_collection=DATA_COLLECTION,
        integrations=[FlaskIntegration(), CeleryIntegration()],
        before_send=scrubber.event,
        before_send_transaction=scrubber.event,
        before_breadcrumb=scrubber.event,
    )
    return True
