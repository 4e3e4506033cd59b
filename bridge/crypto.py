"""Encryption at rest for API keys and backend secrets.

Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) with ``MultiFernet`` so the key can be
rotated: ``BRIDGE_SECRET_KEY`` may list several comma-separated keys, the first encrypts, all
decrypt. A value that is not already a Fernet key is stretched with HKDF, so operators may use any
long random string. In dev mode with no key set, one is generated once into the data folder.
"""

from __future__ import annotations

import base64
import os
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bridge.keystrength import split_keys, weakness
from bridge.settings import Settings, get_settings


class SecretError(RuntimeError):
    """A stored secret cannot be decrypted with the configured key(s)."""


def _as_fernet_key(material: str) -> bytes:
    raw = material.strip().encode()
    try:
        if len(base64.urlsafe_b64decode(raw)) == 32:
            return raw
    except ValueError:
        pass
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"orderdesk-bridge secrets"
    ).derive(raw)
    return base64.urlsafe_b64encode(derived)


def _dev_key_file(settings: Settings) -> str:
    path = Path(settings.data_dir) / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(Fernet.generate_key().decode())
    return path.read_text()


def secret_material(settings: Settings) -> str:
    if settings.secret_key is not None and settings.secret_key.get_secret_value():
        return settings.secret_key.get_secret_value()
    settings.require_production_secrets()
    return _dev_key_file(settings)


class SecretBox:
    """Encrypts and decrypts short strings with the configured key ring."""

    def __init__(self, material: str) -> None:
        keys = split_keys(material)
        if not keys:
            raise SecretError("the secret key is empty")
        fernets = [Fernet(_as_fernet_key(key)) for key in keys]
        self._primary = fernets[0]
        self._fernet = MultiFernet(fernets)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretError(
                "a stored secret cannot be decrypted: BRIDGE_SECRET_KEY differs from the key "
                "it was stored with"
            ) from None

    def can_decrypt(self, token: str) -> bool:
        try:
            self._fernet.decrypt(token.encode())
        except InvalidToken:
            return False
        return True

    def rotate(self, token: str) -> str | None:
        """``token`` re-encrypted with the first key, or None when it already is.

        Tokens already under the first key are left alone, so a second rotation writes nothing.
        """
        try:
            self._primary.decrypt(token.encode())
            return None
        except InvalidToken:
            pass
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken:
            raise SecretError(
                "a stored secret cannot be decrypted with any key of BRIDGE_SECRET_KEY"
            ) from None

    def __repr__(self) -> str:
        return "SecretBox(<redacted>)"


@lru_cache(maxsize=1)
def get_secret_box() -> SecretBox:
    return SecretBox(secret_material(get_settings()))


def new_secret_key() -> str:
    """A random Fernet key; drawn again in the (astronomically rare) case the rule refuses it."""
    while True:
        key = Fernet.generate_key().decode()
        if weakness(key) is None:
            return key


def mask(secret: str) -> str:
    """What a person may see of a secret: that it is set, and its last four characters if long."""
    if not secret:
        return "(not set)"
    return f"****{secret[-4:]}" if len(secret) >= 16 else "****"
