"""One Alembic revision per module; Alembic loads them by file, never by import."""
