"""Shell completion, as the operator guide tells people to install it: the real program prints
its completion script, and answers a completion request without touching any database."""

from __future__ import annotations

import pytest

from tests.cli.support import run_bridge


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o nosort -F _bridge_completion bridge"),
        ("zsh", "#compdef bridge"),
        ("fish", "complete --no-files --command bridge"),
    ],
)
def test_the_completion_script_is_printed(shell: str, marker: str) -> None:
    result = run_bridge(env={"_BRIDGE_COMPLETE": f"{shell}_source"})

    assert result.code == 0, result.stderr
    assert marker in result.stdout
    assert result.stderr == ""


def test_a_completion_request_is_answered(tmp_path) -> None:
    # No settings at all: completing must not need a database, a key or a broker.
    result = run_bridge(
        env={
            "_BRIDGE_COMPLETE": "bash_complete",
            "COMP_WORDS": "bridge orders re",
            "COMP_CWORD": "2",
            "BRIDGE_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
        }
    )

    assert result.code == 0, result.stderr
    assert result.stdout.split() == ["plain,retry"]
