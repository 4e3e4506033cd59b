"""The baseline for the intake benchmark: a Flask endpoint that only answers 200.

Served by gunicorn exactly like the real app, it shows what the machine, gunicorn and Flask cost
before the intake verifies, records and commits anything.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/webhooks/orderdesk")
    def webhook() -> Response:
        return jsonify(result="ok")

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    return app
