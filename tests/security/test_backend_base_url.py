"""Hole 11: a warehouse ``base_url`` carries credentials, so it must be https off this machine."""

from __future__ import annotations

import pytest

from bridge.backends.errors import ConfigError
from bridge.backends.registry import backend_class, validate_config

SECRETS = {"api_key": "k" * 20, "api_secret": "s" * 20}


@pytest.mark.parametrize("backend", ["shipstation", "simulated"])
@pytest.mark.parametrize(
    "url",
    [
        "https://ssapi.shipstation.com",
        "https://warehouse.example.com:8443/api/",
        "http://127.0.0.1:8766",
        "http://127.10.20.30",
        "http://localhost:9",
        "http://LOCALHOST",
        "http://[::1]:8080",
    ],
)
def test_hole11_https_or_loopback_base_url_is_accepted(backend: str, url: str) -> None:
    config = {"base_url": url} | (SECRETS if backend == "shipstation" else {})
    assert validate_config(backend_class(backend), config).base_url == url.rstrip("/")


@pytest.mark.parametrize("backend", ["shipstation", "simulated"])
@pytest.mark.parametrize(
    "url",
    [
        "http://ssapi.shipstation.com",
        "http://10.0.0.7:8080",
        "http://192.168.1.20",
        "http://127.0.0.1.attacker.example",
        "http://localhost.attacker.example",
        "http://[::ffff:10.0.0.1]",
    ],
)
def test_hole11_plain_http_to_another_host_is_refused(backend: str, url: str) -> None:
    config = {"base_url": url} | (SECRETS if backend == "shipstation" else {})
    with pytest.raises(ConfigError) as raised:
        validate_config(backend_class(backend), config)
    message = str(raised.value)
    assert "base_url" in message
    assert "https://" in message and "loopback" in message
    assert url not in message


@pytest.mark.parametrize("url", ["ftp://files.example.com", "https://", "warehouse.example.com"])
def test_hole11_base_url_without_scheme_or_host_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="base_url"):
        validate_config(backend_class("simulated"), {"base_url": url})
