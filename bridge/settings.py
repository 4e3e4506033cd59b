"""Process-wide settings from ``BRIDGE_*`` environment variables and a ``.env`` file.

Per-store configuration (API keys, folders, warehouse credentials) lives in the ``stores`` table,
not here: these settings are what one deployment of the bridge needs to start at all.
The embedded defaults (SQLite file, filesystem broker) let ``bridge dev`` run on a bare machine;
production sets ``BRIDGE_ENV=production`` (the default) and must name its secret key.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from bridge.keystrength import ring_problem

DEFAULT_ORDERDESK_API_URL = "https://app.orderdesk.me/api/v2"
BROKER_SCHEMES = (
    "redis",
    "rediss",
    "sentinel",
    "filesystem",
    "sqla+sqlite",
    "sqla+postgresql",
    "memory",
)


# Broker URLs that are Redis, which the shared limiter can then use too.
REDIS_SCHEMES = ("redis://", "rediss://", "sentinel://")


class SettingsError(RuntimeError):
    """A setting is missing or malformed; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="BRIDGE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    env: Literal["production", "dev"] = "production"
    data_dir: Path = Path("var")
    database_url: str = ""
    broker_url: str = ""
    redis_url: str = ""
    # The primary's name the Sentinels watch, when the broker or Redis URL is sentinel://.
    redis_sentinel_master: str = "mymaster"
    secret_key: SecretStr | None = None
    orderdesk_api_url: str = DEFAULT_ORDERDESK_API_URL
    admin_enabled: bool = True
    # Where operators open Flower; the admin dashboard links to it (no link when empty).
    flower_url: str = ""
    # Reverse proxies in front of the web process that append X-Forwarded-For/-Proto; 0 trusts
    # none, so a client cannot spoof its address past the refusal and sign-in throttles.
    proxy_hops: int = Field(default=0, ge=0, le=5)
    admin_session_idle_minutes: int = Field(default=30, gt=0, le=24 * 60)
    admin_login_max_failures: int = Field(default=5, gt=0)
    admin_login_max_failures_per_address: int = Field(default=20, gt=0)
    admin_login_lockout_minutes: int = Field(default=15, gt=0, le=24 * 60)
    log_format: Literal["json", "console"] = "json"
    # Where a worker serves /metrics for all its processes; 0 serves nothing (workers/metrics.py).
    metrics_port: int = Field(default=9808, ge=0, le=65535)
    log_level: str = "INFO"
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    store_cache_seconds: float = Field(default=60.0, ge=0)
    http_timeout: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=8, gt=0)
    retry_base_seconds: float = Field(default=10.0, gt=0)
    retry_max_seconds: float = Field(default=300.0, gt=0, le=600)
    submit_linger_seconds: float = Field(default=0.5, ge=0, le=1.0)
    # The worker stops a submit task at 80 % of this (at most 300 s): bridge/jobs/celery_config.py.
    submit_lease_seconds: float = Field(default=360.0, gt=0)
    sweep_interval_seconds: float = Field(default=30.0, gt=0)
    sweep_grace_seconds: float = Field(default=60.0, ge=0)
    schedule_interval_seconds: float = Field(default=5.0, gt=0)
    inventory_interval_seconds: float = Field(default=900.0, gt=0)
    reconcile_interval_seconds: float = Field(default=600.0, gt=0)
    reconcile_overlap_seconds: float = Field(default=300.0, ge=0)
    reconcile_first_lookback_seconds: float = Field(default=3 * 86400.0, gt=0)
    orderdesk_bucket_size: float = Field(default=20.0, gt=0)
    orderdesk_refill_per_second: float = Field(default=3.0, gt=0)
    # How long a task step waits for a partner's tokens in its worker slot before it gives the
    # slot back and comes back later (bridge.jobs.retry.come_back_after).
    token_wait_seconds: float = Field(default=1.0, ge=0, le=60)
    # Benchmark only: one partner call per order per step, to show what batching buys.
    naive: bool = False
    refusal_burst: float = Field(default=30.0, ge=1)
    refusals_per_minute: float = Field(default=30.0, gt=0)
    refusal_receipt_seconds: float = Field(default=60.0, gt=0)
    retention_days: int = Field(default=90, gt=0)
    # Touched every few seconds by the worker and by beat when set; liveness probes read its age.
    heartbeat_file: Path | None = None
    # Error tracking (bridge/errortracking.py) is on when set; the name is Sentry's own.
    sentry_dsn: SecretStr | None = Field(default=None, validation_alias="SENTRY_DSN")

    @field_validator("orderdesk_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("flower_url")
    @classmethod
    def _plain_link(cls, value: str) -> str:
        """An http(s) address without a login in it: it is shown on the admin pages."""
        if not value:
            return value
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        if "@" in value.split("://", 1)[1].split("/", 1)[0]:
            raise ValueError("must not contain a user name or password (Flower asks for them)")
        return value

    @field_validator("secret_key")
    @classmethod
    def _strong_secret_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip():
            problem = ring_problem(value.get_secret_value())
            if problem:
                raise ValueError(problem)
        return value

    @field_validator("database_url")
    @classmethod
    def _sqlalchemy_url(cls, value: str) -> str:
        if value:
            try:
                make_url(value).get_dialect()
            except (ArgumentError, NoSuchModuleError) as exc:
                raise ValueError(f"not a SQLAlchemy database URL: {exc}") from None
            url = make_url(value)
            if url.get_backend_name() == "postgresql" and url.get_driver_name() != "psycopg":
                raise ValueError(
                    f"the bridge talks to PostgreSQL with psycopg 3: write "
                    f"postgresql+psycopg://... instead of {url.drivername}://..."
                )
        return value

    @field_validator("broker_url", "redis_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if value and value.split("://", 1)[0] not in BROKER_SCHEMES:
            raise ValueError(f"scheme must be one of {', '.join(BROKER_SCHEMES)}")
        return value

    @model_validator(mode="after")
    def _fill_embedded_defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'bridge.db').resolve()}"
        if not self.broker_url:
            self.broker_url = "filesystem://"
        if not self.redis_url and self.broker_url.startswith(REDIS_SCHEMES):
            self.redis_url = self.broker_url
        return self

    @property
    def is_dev(self) -> bool:
        return self.env == "dev"

    @property
    def broker_dir(self) -> Path:
        """Folder of the embedded filesystem broker (used when ``broker_url`` is filesystem)."""
        return (self.data_dir / "broker").resolve()

    def require_production_secrets(self) -> None:
        """Stop start-up when a secret that production cannot run without is absent."""
        if self.is_dev:
            return
        if self.secret_key is None or not self.secret_key.get_secret_value():
            raise SettingsError(
                "BRIDGE_SECRET_KEY is not set: it encrypts the stored API keys. Generate one with "
                "`bridge secret-key` and set it in the environment or .env "
                "(or set BRIDGE_ENV=dev for a local trial)."
            )


def _describe(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    parts = []
    for err in errors():
        field = str(err["loc"][0]) if err.get("loc") else "?"
        parts.append(f"BRIDGE_{field.upper()}: {err['msg']}")
    return "; ".join(parts)


def load_settings() -> Settings:
    """Read the settings now, turning validation errors into one sentence naming the variable."""
    try:
        return Settings()
    except ValueError as exc:
        raise SettingsError(f"invalid setting: {_describe(exc)}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once."""
    return load_settings()
