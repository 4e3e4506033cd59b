"""The web process: ``web:create_app()`` serves intake, health, metrics and the admin pages.

``BRIDGE_ADMIN_ENABLED=false`` leaves the admin pages out entirely (``/admin`` is a 404), for a
public webhook process; the admin pages then run on a separate, private process.
``BRIDGE_PROXY_HOPS=N`` believes the last N ``X-Forwarded-For``/``-Proto`` entries, and only then.
"""

from __future__ import annotations

import os

import structlog
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from bridge.errortracking import init_error_tracking
from bridge.jobs.celery_config import CelerySender
from bridge.jobs.dispatch import install_sender
from bridge.logs import configure_logging
from bridge.settings import Settings, get_settings

log = structlog.get_logger(__name__)


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or get_settings()
    configure_logging(settings)
    init_error_tracking(settings)
    # The intake and the admin actions publish their follow-up work through this.
    install_sender(CelerySender())
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.config["BRIDGE_SETTINGS"] = settings
    if settings.proxy_hops:
        # The client's address and scheme as the trusted proxies saw them: throttles count real
        # clients, and the admin cookie is Secure when the proxy terminated https.
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    from web import health, intake

    app.register_blueprint(intake.bp)
    app.register_blueprint(health.bp)
    if settings.admin_enabled:
        _register_admin(app, settings)
    return app


def _register_admin(app: Flask, settings: Settings) -> None:
    from web import admin, admin_auth

    if os.environ.get("BRIDGE_ADMIN_PASSWORD"):
        log.warning(
            "BRIDGE_ADMIN_PASSWORD is no longer read: admin users sign in with their own "
            "accounts (bridge users add NAME); remove the variable"
        )
    admin_auth.configure_sessions(app, settings)
    app.register_blueprint(admin.bp)
