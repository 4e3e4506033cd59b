"""The store registry: one row per merchant's Order Desk store, secrets encrypted at rest.

The Order Desk API key and every secret field of the warehouse backend's config (the fields the
backend's pydantic model types as ``SecretStr``) are encrypted with ``BRIDGE_SECRET_KEY`` before
they touch the database. Nothing here returns a secret except the two explicit accessors the
pipeline needs (``api_key`` and ``backend_config``); views for people go through ``describe``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.backends.errors import ConfigError, UnknownBackend
from bridge.backends.registry import backend_class, validate_config
from bridge.crypto import SecretBox, get_secret_box, mask
from bridge.models import HistoryNotes, Store

EDITABLE = (
    "name",
    "in_process_folder",
    "error_folder",
    "cancel_folder",
    "intake_folder",
    "poll_interval_seconds",
    "active",
    "inventory_sync",
    "inventory_interval_seconds",
    "history_notes",
)

# Order Desk's bucket is shared with everything else the store does: no faster than this.
MIN_INVENTORY_INTERVAL_SECONDS = 60


class StoreError(ValueError):
    """A store operation that cannot be done; the message is meant for the operator."""


@dataclass(frozen=True)
class RotationCounts:
    """What ``rotate_secrets`` did, in numbers only (never a secret)."""

    stores: int
    reencrypted: int
    already_current: int


def _secret_fields(backend: str) -> set[str]:
    return set(backend_class(backend).config_model.secret_fields())


@dataclass
class StoreRegistry:
    session: Session
    box: SecretBox | None = None

    def _box(self) -> SecretBox:
        return self.box or get_secret_box()

    def find(self, orderdesk_store_id: str) -> Store | None:
        return self.session.scalar(
            select(Store).where(Store.orderdesk_store_id == str(orderdesk_store_id))
        )

    def get(self, orderdesk_store_id: str) -> Store:
        store = self.find(orderdesk_store_id)
        if store is None:
            raise StoreError(f"no store with Order Desk store id {orderdesk_store_id}")
        return store

    def list(self, *, include_inactive: bool = True) -> list[Store]:
        query = select(Store).order_by(Store.orderdesk_store_id)
        if not include_inactive:
            query = query.where(Store.active.is_(True))
        return list(self.session.scalars(query))

    def add(
        self,
        *,
        orderdesk_store_id: str,
        name: str,
        api_key: str,
        backend: str,
        backend_config: dict[str, Any],
        **options: Any,
    ) -> Store:
        store_id = str(orderdesk_store_id).strip()
        if not (store_id.isascii() and store_id.isdigit()):
            raise StoreError("the Order Desk store id is a number, e.g. 123456")
        if not api_key.strip():
            raise StoreError("the Order Desk API key is empty")
        if self.find(orderdesk_store_id) is not None:
            raise StoreError(f"store {orderdesk_store_id} is already registered")
        store = Store(
            orderdesk_store_id=str(orderdesk_store_id).strip(),
            name=name,
            api_key_encrypted=self._box().encrypt(api_key.strip()),
            backend=backend,
        )
        self._set_backend_config(store, backend, backend_config)
        self._apply(store, options)
        self.session.add(store)
        self.session.flush()
        return store

    def update(
        self,
        orderdesk_store_id: str,
        *,
        api_key: str | None = None,
        backend: str | None = None,
        backend_config: dict[str, Any] | None = None,
        **options: Any,
    ) -> Store:
        store = self.get(orderdesk_store_id)
        if api_key is not None:
            if not api_key.strip():
                raise StoreError("the Order Desk API key is empty")
            store.api_key_encrypted = self._box().encrypt(api_key.strip())
        if backend is not None or backend_config is not None:
            merged = self.backend_config(store) if backend in (None, store.backend) else {}
            merged.update(backend_config or {})
            self._set_backend_config(store, backend or store.backend, merged)
        self._apply(store, options)
        self.session.flush()
        return store

    def disable(self, orderdesk_store_id: str) -> Store:
        return self.update(orderdesk_store_id, active=False)

    def api_key(self, store: Store) -> str:
        return self._box().decrypt(store.api_key_encrypted)

    def backend_config(self, store: Store) -> dict[str, Any]:
        """The full backend config with secrets decrypted, for building the backend."""
        config = dict(store.backend_config or {})
        if store.backend_secrets_encrypted:
            config.update(json.loads(self._box().decrypt(store.backend_secrets_encrypted)))
        return config

    def describe(self, store: Store) -> dict[str, Any]:
        """What a person may see: every setting, with secrets masked."""
        config: dict[str, Any] = dict(store.backend_config or {})
        if store.backend_secrets_encrypted:
            secrets = json.loads(self._box().decrypt(store.backend_secrets_encrypted))
            config.update({key: mask(str(value)) for key, value in secrets.items()})
        return {
            "store_id": store.orderdesk_store_id,
            "name": store.name,
            "active": store.active,
            "paused": store.paused_at is not None,
            "paused_at": store.paused_at.isoformat() if store.paused_at else None,
            "paused_by": store.paused_by,
            "api_key": mask(self.api_key(store)),
            "backend": store.backend,
            "backend_config": config,
            "in_process_folder": store.in_process_folder,
            "error_folder": store.error_folder,
            "cancel_folder": store.cancel_folder,
            "intake_folder": store.intake_folder,
            "poll_interval_seconds": store.poll_interval_seconds,
            "inventory_sync": bool(store.inventory_sync),
            "inventory_interval": store.inventory_interval_seconds,
            "history_notes": store.history_notes,
        }

    def _set_backend_config(self, store: Store, backend: str, config: dict[str, Any]) -> None:
        try:
            secret_names = _secret_fields(backend)
            validate_config(backend_class(backend), config)
        except (UnknownBackend, ConfigError) as exc:
            raise StoreError(str(exc)) from None
        secrets = {k: v for k, v in config.items() if k in secret_names and v is not None}
        store.backend = backend
        store.backend_config = {k: v for k, v in config.items() if k not in secret_names}
        store.backend_secrets_encrypted = (
            self._box().encrypt(json.dumps(secrets, sort_keys=True)) if secrets else None
        )

    def undecryptable(self) -> list[str]:
        """Ids of the stores whose stored secrets none of the configured keys can decrypt."""
        box = self._box()
        return [store.orderdesk_store_id for store in self.list() if not _all_decrypt(box, store)]

    def rotate_secrets(self) -> RotationCounts:
        """Re-encrypt every stored secret with the first key of ``BRIDGE_SECRET_KEY``.

        Every store row is locked and all of them are rewritten in the caller's transaction, so
        a failure changes nothing. Secrets already under the first key are not rewritten.
        """
        box = self._box()
        stores = list(
            self.session.scalars(select(Store).order_by(Store.orderdesk_store_id).with_for_update())
        )
        broken = [s.orderdesk_store_id for s in stores if not _all_decrypt(box, s)]
        if broken:
            raise StoreError(
                "cannot rotate: the secrets of store(s) "
                + ", ".join(broken)
                + " cannot be decrypted with any key of BRIDGE_SECRET_KEY (put the key they "
                "were stored with back in the list, after the new one)"
            )
        reencrypted = already = 0
        for store in stores:
            for column in ("api_key_encrypted", "backend_secrets_encrypted"):
                token = getattr(store, column)
                if token is None:
                    continue
                rotated = box.rotate(token)
                if rotated is None:
                    already += 1
                else:
                    setattr(store, column, rotated)
                    reencrypted += 1
        self.session.flush()
        return RotationCounts(stores=len(stores), reencrypted=reencrypted, already_current=already)

    @staticmethod
    def _apply(store: Store, options: dict[str, Any]) -> None:
        unknown = set(options) - set(EDITABLE)
        if unknown:
            raise StoreError(f"unknown store setting(s): {', '.join(sorted(unknown))}")
        if (
            options.get("poll_interval_seconds") is not None
            and options["poll_interval_seconds"] < 10
        ):
            raise StoreError("the poll interval must be at least 10 seconds")
        interval = options.get("inventory_interval_seconds")
        if interval is not None and interval < MIN_INVENTORY_INTERVAL_SECONDS:
            raise StoreError(
                f"the inventory interval must be at least {MIN_INVENTORY_INTERVAL_SECONDS} seconds"
            )
        if (
            options.get("inventory_sync")
            and not backend_class(store.backend).capabilities().inventory
        ):
            raise StoreError(
                f"the {store.backend} backend does not report stock levels, so inventory sync "
                "cannot be turned on for this store"
            )
        notes = options.get("history_notes")
        if notes is not None and notes not in set(HistoryNotes):
            choices = ", ".join(policy.value for policy in HistoryNotes)
            raise StoreError(f"history notes must be one of {choices}, not {notes!r}")
        for key, value in options.items():
            if value is not None:
                setattr(store, key, value)


def _secret_tokens(store: Store) -> list[str]:
    return [t for t in (store.api_key_encrypted, store.backend_secrets_encrypted) if t]


def _all_decrypt(box: SecretBox, store: Store) -> bool:
    return all(box.can_decrypt(token) for token in _secret_tokens(store))
