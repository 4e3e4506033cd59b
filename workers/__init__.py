"""Celery workers: ``celery -A workers worker`` finds ``workers.celery_app:app`` here."""

from workers.celery_app import app

__all__ = ["app"]
