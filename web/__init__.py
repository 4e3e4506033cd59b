"""The web process: ``web:create_app()`` serves intake, health, metrics and the admin pages."""

from __future__ import annotations

from flask import Flask

from bridge.logs import configure_logging
from bridge.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or get_settings()
    configure_logging(settings)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.config["BRIDGE_SETTINGS"] = settings

    from web import admin, health, intake

    app.register_blueprint(intake.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(admin.bp)
    return app
