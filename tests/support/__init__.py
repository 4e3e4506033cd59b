"""Helpers and pytest plugins shared by the whole suite (loaded from tests/conftest.py)."""
