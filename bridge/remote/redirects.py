"""Redirects are refused on every authenticated call, and described without leaking anything.

``requests`` follows a redirect to another host keeping custom headers such as
``ORDERDESK-API-KEY`` (only ``Authorization`` is dropped, and only across hosts), so a
misconfigured or hijacked base URL would hand the key to whoever answers the redirect. The
bridge's callers send ``allow_redirects=False`` and treat any 3xx as a configuration error: a
correct base URL never redirects, and retrying cannot fix a wrong one.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit, urlunsplit

import requests


def is_redirect(response: requests.Response) -> bool:
    return 300 <= response.status_code < 400


def shown_url(url: str) -> str:
    """``url`` as a message may show it: no user info, query string or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def redirect_target(response: requests.Response) -> str:
    """Where the server tried to send us, without credentials, query string or fragment."""
    location = response.headers.get("Location", "")
    if not location:
        return "(no Location header)"
    return shown_url(urljoin(response.url or "", location)) or "(unreadable Location)"
