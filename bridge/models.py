"""SQLAlchemy models: PostgreSQL is the record of truth, Celery only delivers work.

Each table has one job: ``stores`` (the registry), ``orders`` (one row per Order Desk order and
its pipeline state), ``shipments`` (one row per warehouse package), ``order_events`` (append-only
history), ``webhook_receipts`` (every intake request), ``backend_cursors`` (where each store's
warehouse poll resumes), ``leases`` (named locks so periodic work runs once at a time),
``admin_users`` (who may sign in to the admin pages), ``admin_login_throttle`` (failed
sign-ins per user name and per address, shared by every web process), ``inventory_levels``
(the stock level last accepted by Order Desk per store and SKU) and the ``file_drop_*``
ledgers of the file-drop backend (the order files it wrote, the warehouse files it consumed and
their shipment rows), which are its only memory of what a directory of files has seen.
The same models run on SQLite for ``bridge dev``; JSON becomes JSONB on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bridge.states import OrderState

JSONType = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments INTEGER PRIMARY KEY, so BigInteger ids are plain INTEGER there.
BigId = BigInteger().with_variant(Integer(), "sqlite")


# Finished orders (the states nothing leaves) whose payload is still kept.
RETENTION_DUE = "pruned_at IS NULL AND state IN ('shipped', 'cancelled')"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite returns naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class HistoryNotes(StrEnum):
    """Which history notes a store gets in Order Desk; every note spends a token of its bucket.

    ``problems`` (the default): what the merchant must act on or know (parked, failed, cancel
    outcomes, changes after submission); ``all`` adds the routine "sent to the warehouse" note;
    ``off`` writes none.
    """

    ALL = "all"
    PROBLEMS = "problems"
    OFF = "off"


class Store(TimestampMixin, Base):
    __tablename__ = "stores"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    orderdesk_store_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    api_key_encrypted: Mapped[str] = mapped_column(Text)
    backend: Mapped[str] = mapped_column(String(64))
    # Non-secret backend settings in clear; the secret fields as one encrypted JSON document.
    backend_config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    backend_secrets_encrypted: Mapped[str | None] = mapped_column(Text)
    in_process_folder: Mapped[str] = mapped_column(String(100), default="In Process")
    error_folder: Mapped[str | None] = mapped_column(String(100))
    cancel_folder: Mapped[str] = mapped_column(String(100), default="Canceled")
    # Where the Post Order JSON rule fires (comma-separated names): reconciliation lists these.
    intake_folder: Mapped[str] = mapped_column(String(200), default="New", server_default="New")
    # Folder name -> id as Order Desk reported it (GET /store); refreshed on a miss.
    orderdesk_folders: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    poll_interval_seconds: Mapped[int] = mapped_column(Integer, default=300)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set while an operator holds the store's orders back (bridge.stores.pause): webhooks are
    # still taken in, nothing is sent to the warehouse until it is cleared.
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_by: Mapped[str | None] = mapped_column(String(100))
    # Push the warehouse's sellable stock to Order Desk inventory (off unless a person turns it
    # on: a store may keep its stock elsewhere); NULL interval: BRIDGE_INVENTORY_INTERVAL_SECONDS.
    inventory_sync: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    inventory_interval_seconds: Mapped[int | None] = mapped_column(Integer)
    # A HistoryNotes value: which history notes the bridge writes on the store's orders.
    history_notes: Mapped[str] = mapped_column(
        String(16), default=HistoryNotes.PROBLEMS.value, server_default=HistoryNotes.PROBLEMS.value
    )

    orders: Mapped[list[Order]] = relationship(back_populates="store")


class Order(TimestampMixin, Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("store_id", "orderdesk_order_id", name="uq_orders_store_od_order"),
        Index("ix_orders_state_next_attempt", "state", "next_attempt_at"),
        # Only finished orders still holding their payload: what the retention job looks for.
        Index(
            "ix_orders_retention_due",
            "updated_at",
            postgresql_where=text(RETENTION_DUE),
            sqlite_where=text(RETENTION_DUE),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    orderdesk_order_id: Mapped[str] = mapped_column(String(32))
    order_number: Mapped[str] = mapped_column(String(64), default="")
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    payload_sha256: Mapped[str] = mapped_column(String(64))
    orderdesk_updated_at: Mapped[str] = mapped_column(String(32), default="")
    state: Mapped[str] = mapped_column(String(32), default=OrderState.RECEIVED.value)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the sweeper last re-sent this order's message; keeps it from re-sending every pass.
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    warehouse_ref: Mapped[str | None] = mapped_column(String(128))
    warehouse_status: Mapped[str | None] = mapped_column(String(32))
    changed_after_submission: Mapped[bool] = mapped_column(Boolean, default=False)
    # The Order Desk version (``date_updated``) of the latest edit after submission that the
    # bridge has dealt with (pushed to the warehouse, or handed to a person). An edit is pending
    # while it differs from ``orderdesk_updated_at``; comparing versions makes a push once each.
    edit_handled_version: Mapped[str | None] = mapped_column(String(32))
    # An edit the warehouse could not take: a person must apply it there, then acknowledge it.
    edit_needs_attention: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    in_process_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the retention job blanked the payload and dropped the history (bridge.ops.retention).
    pruned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    store: Mapped[Store] = relationship(back_populates="orders")
    shipments: Mapped[list[Shipment]] = relationship(back_populates="order")
    events: Mapped[list[OrderEvent]] = relationship(
        back_populates="order", order_by="OrderEvent.id"
    )


class Shipment(TimestampMixin, Base):
    """One warehouse package: Order Desk gets one shipment per package, exactly once."""

    __tablename__ = "shipments"
    __table_args__ = (
        UniqueConstraint("order_id", "package_id", name="uq_shipments_order_package"),
        Index("ix_shipments_unposted", "posted_at", "voided"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    package_id: Mapped[str] = mapped_column(String(128))
    remote_shipment_id: Mapped[str] = mapped_column(String(128))
    tracking_number: Mapped[str] = mapped_column(String(128), default="")
    carrier: Mapped[str] = mapped_column(String(64), default="")
    service: Mapped[str] = mapped_column(String(128), default="")
    tracking_url: Mapped[str] = mapped_column(Text, default="")
    weight_oz: Mapped[float | None] = mapped_column(Float)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voided: Mapped[bool] = mapped_column(Boolean, default=False)
    orderdesk_shipment_id: Mapped[str | None] = mapped_column(String(64))
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retracted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)

    order: Mapped[Order] = relationship(back_populates="shipments")


class OrderEvent(Base):
    """Append-only history: every transition and every notable step, with why."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str | None] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    order: Mapped[Order] = relationship(back_populates="events")


class WebhookReceipt(Base):
    """Every intake request, accepted or not: when, which store, outcome, reason, body hash."""

    __tablename__ = "webhook_receipts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"), index=True)
    claimed_store_id: Mapped[str] = mapped_column(String(64), default="")
    orderdesk_order_id: Mapped[str] = mapped_column(String(64), default="")
    outcome: Mapped[str] = mapped_column(String(32))
    http_status: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text, default="")
    body_sha256: Mapped[str] = mapped_column(String(64), default="")
    body_bytes: Mapped[int] = mapped_column(Integer, default=0)
    remote_addr: Mapped[str] = mapped_column(String(64), default="")


class BackendCursor(Base):
    """Where a store's warehouse poll resumes, and when it is due next."""

    __tablename__ = "backend_cursors"
    __table_args__ = (UniqueConstraint("store_id", "backend", name="uq_backend_cursors_store"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    backend: Mapped[str] = mapped_column(String(64))
    cursor: Mapped[str | None] = mapped_column(Text)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ReconcileCursor(Base):
    """How far a store's intake folders have been fully listed, so the next pass starts there.

    ``checked_through`` is a moment on the bridge's clock, already pulled back by the overlap
    window; it only moves forward after a pass that paged everything it asked for.
    """

    __tablename__ = "reconcile_cursors"

    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), primary_key=True)
    checked_through: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The store's time zone as GET /store reports it; date filters may be read in it.
    orderdesk_timezone: Mapped[str] = mapped_column(String(64), default="")
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_listed: Mapped[int] = mapped_column(Integer, default=0)
    last_recovered: Mapped[int] = mapped_column(Integer, default=0)


class Lease(Base):
    """A named lock with an expiry: one beat, one sweeper, one poller per store at a time."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AdminUser(TimestampMixin, Base):
    """A person who may sign in to the admin pages; actions are recorded under ``name``."""

    __tablename__ = "admin_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Part of every session cookie: a password change or a disable bumps it, ending old sessions.
    session_generation: Mapped[int] = mapped_column(Integer, default=1)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AdminLoginThrottle(Base):
    """Recent failed sign-ins for one key (a hashed user name or a client address)."""

    __tablename__ = "admin_login_throttle"

    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FileDropOrder(Base):
    """One order file the file-drop backend wrote (or is writing) under an idempotency key.

    ``written_at`` is empty while the write-ahead record waits for its rename
    (``bridge/backends/file_drop/outbox.py`` explains the order of steps).
    """

    __tablename__ = "file_drop_orders"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    outbox: Mapped[str] = mapped_column(String(500))
    order_number: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(255))
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    written_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A cancel request file was written; the warehouse's answer (``cancelled`` or ``refused``).
    cancel_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_answer: Mapped[str | None] = mapped_column(String(20))

    __table_args__ = (Index("ix_file_drop_orders_number", "outbox", "order_number"),)


class FileDropFile(Base):
    """One warehouse file consumed from an inbox, by name and content hash.

    The id orders consumption, so it is the file-drop change feed's cursor; ``order_keys`` are
    the orders the file speaks of. ``problems`` lists the malformed rows (line number and
    reason); ``stock`` holds an inventory file's levels.
    """

    __tablename__ = "file_drop_files"
    __table_args__ = (
        UniqueConstraint("inbox", "name", "sha256", name="uq_file_drop_files_content"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    inbox: Mapped[str] = mapped_column(String(500))
    name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))
    rows: Mapped[int] = mapped_column(Integer, default=0)
    order_keys: Mapped[list[str]] = mapped_column(JSONType, default=list)
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    stock: Mapped[dict[str, int] | None] = mapped_column(JSONType)
    consumed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FileDropShipmentLine(Base):
    """One well-formed row of a consumed shipment file: units of one order line in one package,
    or (``voided``) the warehouse's word that the package's label was voided."""

    __tablename__ = "file_drop_shipment_lines"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("file_drop_files.id"), index=True)
    line_number: Mapped[int] = mapped_column(Integer)
    order_key: Mapped[str] = mapped_column(String(100), index=True)
    line_key: Mapped[str] = mapped_column(String(100), default="")
    sku: Mapped[str] = mapped_column(String(200), default="")
    quantity: Mapped[int] = mapped_column(Integer)
    tracking_number: Mapped[str] = mapped_column(String(200))
    tracking_url: Mapped[str] = mapped_column(String(500), default="")
    carrier: Mapped[str] = mapped_column(String(100), default="")
    service: Mapped[str] = mapped_column(String(100), default="")
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voided: Mapped[bool] = mapped_column(Boolean, default=False)


class InventoryLevel(Base):
    """The stock level Order Desk last accepted for one SKU of one store.

    Only a level that differs from this one is sent again, so a sync with nothing changed costs
    no Order Desk call; a level Order Desk refused is not stored, so it is tried next time.
    """

    __tablename__ = "inventory_levels"

    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), primary_key=True)
    sku: Mapped[str] = mapped_column(String(200), primary_key=True)
    level: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
