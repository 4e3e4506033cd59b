"""Everything ``bridge dev`` sets up before the first order: folder, settings, schema, demo store.

The simulators keep their state in memory and forget it when they stop, so a previous run's
database would only hold orders, ids and a warehouse cursor that no longer exist anywhere (and
the Order Desk simulator hands out the same order ids again). Each run therefore starts from an
empty database and broker in the data folder; the generated secret and admin password are kept,
and the admin user is made again in the new database with that password.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bridge import crypto, db, migrate, settings
from bridge.accounts.users import AdminUsers
from bridge.db import session_scope
from bridge.logs import configure_logging
from bridge.sim.orderdesk import OrderDeskSimulatorClient
from bridge.stores.registry import StoreRegistry

DEMO_STORE_ID = "100100"
DEMO_STORE_NAME = "Demo Store"
DEMO_BACKEND = "simulated"
DEMO_POLL_INTERVAL_SECONDS = 10
# Demo key of the warehouse simulator (its own default): a local fixture, not a credential.
WAREHOUSE_API_KEY = "sim-key"
ADMIN_USER = "admin"
# Order Desk retries a failed Post Order JSON over hours; the demo cannot wait that long.
WEBHOOK_RETRY_DELAYS = [1.0, 2.0, 5.0, 10.0]
WEBHOOK_MAX_ATTEMPTS = 10
AUTO_SHIP_DELAY_SECONDS = 2.0
AUTO_SHIP_MODE = "mixed"

# Short intervals so a demo batch goes from webhook to "shipped" in seconds, not minutes.
DEV_INTERVALS = {
    "BRIDGE_SWEEP_INTERVAL_SECONDS": "5",
    "BRIDGE_SCHEDULE_INTERVAL_SECONDS": "2",
    "BRIDGE_SWEEP_GRACE_SECONDS": "10",
    "BRIDGE_RETRY_BASE_SECONDS": "2",
    "BRIDGE_RETRY_MAX_SECONDS": "30",
    # Order Desk's real bucket, so the demo shows the real pacing.
    "BRIDGE_ORDERDESK_BUCKET_SIZE": "20",
    "BRIDGE_ORDERDESK_REFILL_PER_SECOND": "3",
}
# Leftovers of the parent's environment that would point children at another deployment.
DROPPED_VARIABLES = ("PROMETHEUS_MULTIPROC_DIR", "GUNICORN_CMD_ARGS", "FLOWER_BASIC_AUTH")
RUN_STATE = ("bridge.db", "bridge.db-wal", "bridge.db-shm", "broker", "celerybeat-schedule")


@dataclass(frozen=True)
class DevPaths:
    data_dir: Path

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def database(self) -> Path:
        return self.data_dir / "bridge.db"

    @property
    def beat_schedule(self) -> Path:
        return self.data_dir / "celerybeat-schedule"

    @property
    def admin_password_file(self) -> Path:
        return self.data_dir / "admin-password"


@dataclass(frozen=True)
class DemoStore:
    store_id: str
    api_key: str = field(repr=False)


def reset_run_state(paths: DevPaths) -> None:
    """Remove the previous run's database, broker folders and beat schedule."""
    paths.data_dir.mkdir(parents=True, exist_ok=True)
    for name in RUN_STATE:
        target = paths.data_dir / name
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
    for leftover in paths.data_dir.glob("celerybeat-schedule.*"):
        leftover.unlink()


def _kept_secret(path: Path, make: int = 24) -> str:
    """A generated secret kept in the data folder (mode 0600), made once."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(make))
    return path.read_text().strip()


def admin_password(paths: DevPaths) -> str:
    """The dev admin user's password: generated once into a 0600 file of the data folder, so it
    is never printed or logged (``bridge dev`` prints the file's path)."""
    return _kept_secret(paths.admin_password_file)


def dev_environment(
    base_env: Mapping[str, str], paths: DevPaths, orderdesk_api_url: str, metrics_port: int = 0
) -> dict[str, str]:
    """The environment of every child: dev mode, embedded database and broker, short intervals.

    Database, broker and Redis are set explicitly (not left to defaults), so a ``.env`` or an
    exported production URL cannot make the demo write to a real deployment. The worker's
    ``/metrics`` server is off (``metrics_port`` 0) unless asked for: on its default port, 9808, a
    demo would take the port of a real worker on the same host, or lose it to one.
    """
    env = {k: v for k, v in base_env.items() if k not in DROPPED_VARIABLES}
    env.update(DEV_INTERVALS)
    env.update(
        BRIDGE_ENV="dev",
        BRIDGE_DATA_DIR=str(paths.data_dir),
        BRIDGE_DATABASE_URL=f"sqlite:///{paths.database}",
        BRIDGE_BROKER_URL="filesystem://",
        BRIDGE_REDIS_URL="",
        BRIDGE_ORDERDESK_API_URL=orderdesk_api_url,
        BRIDGE_LOG_FORMAT="console",
        BRIDGE_ADMIN_ENABLED="true",
        BRIDGE_METRICS_PORT=str(metrics_port),
        PYTHONUNBUFFERED="1",
    )
    return env


def apply_to_this_process(env: Mapping[str, str]) -> None:
    """Make this process read the dev settings too (it migrates and registers the store)."""
    for key, value in env.items():
        if key.startswith("BRIDGE_"):
            os.environ[key] = value
    settings.get_settings.cache_clear()
    crypto.get_secret_box.cache_clear()
    db.reset_engines()
    configure_logging(settings.get_settings())
    # Migration chatter would scroll the live table away; children log to their files.
    logging.getLogger("alembic").setLevel(logging.WARNING)


def prepare_database(warehouse_url: str, admin: str) -> DemoStore:
    """Migrate the empty database, make the admin user and register the demo store against the
    warehouse simulator."""
    migrate.upgrade()
    store = DemoStore(DEMO_STORE_ID, secrets.token_hex(16))
    with session_scope() as session:
        AdminUsers(session).add(ADMIN_USER, admin)
        StoreRegistry(session).add(
            orderdesk_store_id=store.store_id,
            name=DEMO_STORE_NAME,
            api_key=store.api_key,
            backend=DEMO_BACKEND,
            backend_config={"base_url": warehouse_url, "api_key": WAREHOUSE_API_KEY},
            poll_interval_seconds=DEMO_POLL_INTERVAL_SECONDS,
        )
    return store


def configure_orderdesk(client: OrderDeskSimulatorClient, store: DemoStore, webhook: str) -> None:
    """The demo store in the Order Desk simulator, posting every new order to our intake."""
    client.add_store(store.store_id, store.api_key, name=DEMO_STORE_NAME)
    client.configure_rule(
        store.store_id,
        webhook,
        max_attempts=WEBHOOK_MAX_ATTEMPTS,
        retry_delays=WEBHOOK_RETRY_DELAYS,
        timeout=10.0,
    )


def configure_warehouse(base_url: str, timeout: float = 10.0) -> None:
    """Ship every order a moment after it arrives, in one, several or two partial packages."""
    response = requests.post(
        f"{base_url}/_sim/auto-ship",
        json={"delay": AUTO_SHIP_DELAY_SECONDS, "mode": AUTO_SHIP_MODE},
        timeout=timeout,
    )
    response.raise_for_status()
