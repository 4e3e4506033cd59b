"""A plain wheel install carries the migrations and can build the schema with ``bridge db upgrade``.

The wheel is built from a copy of the package sources (so the build leaves nothing behind in the
checkout), installed without ``-e`` into a fresh virtualenv and run from a directory outside the
repository, where nothing but the installed package can supply the Alembic scripts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from bridge import migrate
from bridge.db import create_bridge_engine
from bridge.models import Base

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "bridge", "workers", "web")

pytestmark = pytest.mark.slow


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, f"{args[:3]} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, source / name)
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, source, cwd=source)
    (built,) = out.glob("orderdesk_bridge-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with only the wheel (and its pinned dependencies) installed."""
    env_dir = tmp_path_factory.mktemp("venv")
    venv.create(env_dir, with_pip=True)
    pip = env_dir / "bin" / "pip"
    _run(pip, "install", "-q", "-c", ROOT / "constraints.txt", wheel, cwd=env_dir)
    return env_dir / "bin"


def test_wheel_carries_every_migration_and_no_tests(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    migrations = ROOT / "bridge" / "migrations"
    scripts = {
        path.relative_to(ROOT).as_posix()
        for path in migrations.rglob("*")
        if path.is_file() and path.suffix in (".py", ".mako")
    }
    assert "bridge/migrations/versions/0001_initial_schema.py" in scripts
    assert scripts <= names, f"missing from the wheel: {sorted(scripts - names)}"
    assert not [name for name in names if name.split("/")[0] in ("tests", "bench", "deploy")]
    assert not [name for name in names if "/test_" in name or "conftest" in name]
    # The conformance kit ships, so third-party backends can run it.
    assert "bridge/backends/testing/suite.py" in names


def test_installed_wheel_migrates_a_fresh_database(
    installed: Path, fresh_pg_url: str, tmp_path: Path
) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("BRIDGE_", "PYTHON", "VIRTUAL_ENV"))
    }
    env.update(
        BRIDGE_DATABASE_URL=fresh_pg_url,
        BRIDGE_DATA_DIR=str(tmp_path / "var"),
        BRIDGE_LOG_FORMAT="console",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    output = _run(installed / "bridge", "db", "upgrade", cwd=elsewhere, env=env)

    assert "database upgraded to head" in output
    head = ScriptDirectory.from_config(migrate.alembic_config(fresh_pg_url)).get_current_head()
    engine = create_bridge_engine(fresh_pg_url)
    try:
        tables = set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    finally:
        engine.dispose()
    assert {table.name for table in Base.metadata.sorted_tables} <= tables
    assert version == head
    located = _run(
        installed / "python",
        "-c",
        "from bridge import migrate; print(migrate.script_location())",
        cwd=elsewhere,
        env=env,
    )
    assert Path(located.strip()).is_relative_to(installed.parent)
