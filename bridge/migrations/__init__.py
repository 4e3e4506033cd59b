"""The Alembic scripts of the schema, shipped inside the package so any install can migrate.

Nothing imports these modules: Alembic loads ``env.py`` and ``versions/`` from this folder, which
``bridge.migrate`` finds with ``importlib.resources`` and developers reach through ``alembic.ini``.
"""
