"""What an operator meets before anything works ends as one line on stderr and exit code 1.

The real ``bridge`` program, against a real unmigrated database, closed ports and a wrong URL;
before these, each printed a SQLAlchemy or psycopg traceback of 60 to 150 lines.
"""

from __future__ import annotations

import pytest

from tests.cli.support import Run, closed_port, run_bridge
from tests.ops.conftest import STORE_ID


def _one_line(result: Run, expected: str) -> None:
    assert result.code == 1, result
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.splitlines() == [f"Error: {expected}"]
    assert result.stdout == ""


@pytest.mark.parametrize(
    "command", [("stores", "list"), ("orders", "list", "--json"), ("users", "list")]
)
def test_database_not_migrated(
    bridge_env: pytest.MonkeyPatch, fresh_pg_url: str, command: tuple[str, ...]
) -> None:
    bridge_env.setenv("BRIDGE_DATABASE_URL", fresh_pg_url)

    _one_line(run_bridge(*command), "database not migrated: run `bridge db upgrade`")


def test_postgresql_unreachable(bridge_env: pytest.MonkeyPatch) -> None:
    port = closed_port()
    bridge_env.setenv("BRIDGE_DATABASE_URL", f"postgresql+psycopg://bridge:pw@127.0.0.1:{port}/x")

    result = run_bridge("orders", "list")

    _one_line(result, f"cannot reach PostgreSQL at 127.0.0.1:{port}: Connection refused")
    assert "pw" not in result.stderr


def test_db_upgrade_against_an_unreachable_postgresql(bridge_env: pytest.MonkeyPatch) -> None:
    port = closed_port()
    bridge_env.setenv("BRIDGE_DATABASE_URL", f"postgresql+psycopg://bridge@127.0.0.1:{port}/x")

    result = run_bridge("db", "upgrade")

    assert result.code == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"Error: cannot reach PostgreSQL at 127.0.0.1:{port}: Connection refused"
    )


def test_psycopg2_url_says_which_driver_to_use(bridge_env: pytest.MonkeyPatch) -> None:
    bridge_env.setenv("BRIDGE_DATABASE_URL", "postgresql+psycopg2://bridge:pw@127.0.0.1/bridge")

    result = run_bridge("stores", "list")

    _one_line(
        result,
        "invalid setting: BRIDGE_DATABASE_URL: Value error, the bridge talks to PostgreSQL with "
        "psycopg 3: write postgresql+psycopg://... instead of postgresql+psycopg2://...",
    )


def test_redis_unreachable(bridge_env: pytest.MonkeyPatch, store: int) -> None:
    port = closed_port()
    bridge_env.setenv("BRIDGE_REDIS_URL", f"redis://:hunter2@127.0.0.1:{port}/0")

    result = run_bridge("stores", "check", STORE_ID)

    assert result.code == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"Error: Redis unreachable at 127.0.0.1:{port}: Error 111 connecting to "
        f"127.0.0.1:{port}. Connection refused."
    ]
    assert "hunter2" not in result.stderr


def test_a_real_bug_still_shows_its_traceback() -> None:
    """Only the causes an operator can fix are shortened; anything else stays debuggable."""
    from bridge.cli.errors import explain

    assert explain(ZeroDivisionError("division by zero")) is None
