"""SFTP trusts exactly the configured host key, and the private key never leaves the config:
not in errors, reprs or logs."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import structlog

from bridge.backends.errors import ConfigError
from bridge.backends.registry import create_backend
from bridge.remote.errors import AuthError, RemoteError, TransientError
from tests.backends.conftest import make_order
from tests.backends.file_drop.conftest import sftp_config
from tests.support.sftp import SftpServer, new_key


def _secret_parts(server: SftpServer) -> list[str]:
    """Pieces of the private key text long enough to be unmistakable."""
    body = "".join(server.user_key.private.splitlines()[1:-1])
    return [body[i : i + 24] for i in range(0, len(body) - 24, 24)]


def _attempt(
    config: dict[str, Any],
    server: SftpServer,
    caplog: pytest.LogCaptureFixture,
    expected: type[RemoteError],
) -> str:
    """Use the backend until it fails; return everything it said (error, repr, logs)."""
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as logs:
        backend = create_backend("file_drop", config)
        with pytest.raises(expected) as failed:
            backend.submit(make_order("1001"), "od-1-1")
        backend.close()
    said = " ".join(
        [str(failed.value), repr(failed.value), repr(backend.config), repr(logs), caplog.text]
    )
    for part in _secret_parts(server):
        assert part not in said
    return str(failed.value)


def test_a_server_with_another_host_key_is_refused(
    sftp_server: SftpServer, database: str, caplog: pytest.LogCaptureFixture
) -> None:
    config = {**sftp_config(sftp_server), "sftp_host_key": new_key("impostor").public}
    message = _attempt(config, sftp_server, caplog, AuthError)
    assert "host key" in message and "refused" in message
    assert list(sftp_server.root.glob("*outbox/*")) == []


def test_a_host_key_given_as_a_known_hosts_line_works(
    sftp_server: SftpServer, database: str, tmp_path
) -> None:
    key_type, key = sftp_server.host_key.public.split()[:2]
    line = f"[127.0.0.1]:{sftp_server.port} {key_type} {key}"
    for folder in ("kh-outbox", "kh-inbox", "kh-archive"):
        sftp_server.folder(folder)
    config = {**sftp_config(sftp_server, "kh-"), "sftp_host_key": line}
    with create_backend("file_drop", config) as backend:
        backend.healthcheck()


def test_a_refused_user_key_says_so_without_the_key(
    sftp_server: SftpServer, database: str, caplog: pytest.LogCaptureFixture
) -> None:
    config = {**sftp_config(sftp_server), "sftp_private_key": new_key("stranger").private}
    stranger_parts = "".join(config["sftp_private_key"].splitlines()[1:-1])[:40]
    message = _attempt(config, sftp_server, caplog, AuthError)
    assert "refused the key" in message
    assert stranger_parts not in message


def test_an_unreachable_server_is_a_transient_error(
    sftp_server: SftpServer, database: str, caplog: pytest.LogCaptureFixture
) -> None:
    config = sftp_config(sftp_server)
    config["outbox"] = config["outbox"].replace(f":{sftp_server.port}/", ":1/")
    message = _attempt(config, sftp_server, caplog, TransientError)
    assert "could not reach" in message


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"sftp_private_key": None}, "sftp_private_key"),
        ({"sftp_host_key": None}, "sftp_host_key"),
        ({"outbox": "ftp://host/x"}, "outbox"),
        ({"inbox": "sftp://user:pw@host/x"}, "inbox"),
        ({"columns": {"colour": "Colour"}}, "columns"),
    ],
)
def test_config_errors_name_fields_never_values(
    sftp_server: SftpServer, change: dict[str, Any], named: str
) -> None:
    config = {**sftp_config(sftp_server), **change}
    with pytest.raises(ConfigError) as refused:
        create_backend("file_drop", config)
    assert named in str(refused.value) or "sftp" in str(refused.value)
    for part in _secret_parts(sftp_server):
        assert part not in str(refused.value)
    assert "pw@" not in str(refused.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sftp_private_key", "not-a-key-0123456789abcdef"),
        ("sftp_host_key", "ssh-ed25519 0123456789abcdef!!"),
    ],
)
def test_key_text_that_is_not_a_key_is_refused_plainly(
    sftp_server: SftpServer, field: str, value: str
) -> None:
    config = {**sftp_config(sftp_server), field: value}
    with pytest.raises(ConfigError) as refused:
        create_backend("file_drop", config)
    assert field in str(refused.value)
    assert "0123456789abcdef" not in str(refused.value)


def test_the_private_key_is_stored_as_a_secret() -> None:
    from bridge.backends.file_drop.config import FileDropConfig

    assert FileDropConfig.secret_fields() == ["sftp_private_key"]
