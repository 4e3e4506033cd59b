"""What each web process remembers of a store between webhooks, so accepting one costs no lookup.

Reading the store row and decrypting its API key would otherwise be a transaction of its own on
every webhook. A snapshot kept here is trusted for one thing only: to
*accept* a new order (``bridge.intake.accept``), and the statement that accepts re-checks that
the store is still active and unchanged since the snapshot (its ``updated_at``, which every change
through the registry moves). Everything else (a signature that does not match the remembered
key, a disabled or edited store, a duplicate, a cancellation, a parked order) takes the full
path, which reads the store afresh and refreshes the snapshot. The time limit only bounds how
long an edit made behind the registry's back (raw SQL that leaves ``updated_at`` alone) can go
unseen.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bridge.models import Store


@dataclass(frozen=True)
class StoreSnapshot:
    """The store fields the accepting path reads, as they were at ``updated_at``."""

    id: int
    orderdesk_store_id: str
    api_key: str = field(repr=False)
    active: bool
    cancel_folder: str
    orderdesk_folders: Mapping[str, str]
    updated_at: datetime
    taken_at: float

    @classmethod
    def of(cls, store: Store, api_key: str) -> StoreSnapshot:
        return cls(
            id=store.id,
            orderdesk_store_id=store.orderdesk_store_id,
            api_key=api_key,
            active=store.active,
            cancel_folder=store.cancel_folder,
            orderdesk_folders=dict(store.orderdesk_folders or {}),
            updated_at=store.updated_at,
            taken_at=time.monotonic(),
        )


class StoreCache:
    """Snapshots by (database URL, Order Desk store id); unknown stores are never remembered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshots: dict[tuple[str, str], StoreSnapshot] = {}

    def get(
        self, database_url: str, orderdesk_store_id: str, max_age: float
    ) -> StoreSnapshot | None:
        with self._lock:
            snapshot = self._snapshots.get((database_url, orderdesk_store_id))
        if snapshot is None or time.monotonic() - snapshot.taken_at >= max_age:
            return None
        return snapshot

    def remember(self, database_url: str, store: Store, api_key: str) -> None:
        snapshot = StoreSnapshot.of(store, api_key)
        with self._lock:
            self._snapshots[(database_url, store.orderdesk_store_id)] = snapshot

    def clear(self) -> None:
        with self._lock:
            self._snapshots.clear()


store_cache = StoreCache()
