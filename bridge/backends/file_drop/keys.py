"""SSH key text from the store config, read with paramiko: the user's private key and the one
host key the SFTP server must show. Messages never quote the text they could not read."""

from __future__ import annotations

import base64
import binascii
import io

import paramiko

_KEY_CLASSES: tuple[type[paramiko.PKey], ...] = (
    paramiko.Ed25519Key,
    paramiko.ECDSAKey,
    paramiko.RSAKey,
)


def private_key(text: str) -> paramiko.PKey:
    """The private key in ``text`` (unencrypted OpenSSH or PEM: ed25519, ecdsa or rsa)."""
    for cls in _KEY_CLASSES:
        try:
            return cls.from_private_key(io.StringIO(text))
        except (paramiko.SSHException, ValueError, TypeError, IndexError):
            continue
    raise ValueError("not an unencrypted OpenSSH or PEM private key (ed25519, ecdsa or rsa)")


def parse_host_key(line: str) -> paramiko.PKey:
    """The public key of a ``*.pub`` line (``ssh-ed25519 AAAA... comment``) or of a
    known_hosts line (``host ssh-ed25519 AAAA...``)."""
    parts = line.split()
    if len(parts) >= 2 and not parts[0].startswith(("ssh-", "ecdsa-")):
        parts = parts[1:]
    try:
        return paramiko.PKey.from_type_string(parts[0], base64.b64decode(parts[1]))
    except (IndexError, binascii.Error, paramiko.SSHException, ValueError, TypeError):
        raise ValueError("not an SSH public key line") from None
