"""The example third-party backend (examples/backend-example) installs as its own package, is
found by the bridge through its entry point, and passes the conformance kit.

Offline and quick: the package is built with the setuptools already in this environment
(``--no-build-isolation --no-index``) into a throwaway directory put on ``PYTHONPATH``, from a
copy of the source so the build leaves nothing behind in the repository.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "backend-example"


def run(*args: str | Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """(a copy of the example's source, an environment that sees it installed)."""
    base = tmp_path_factory.mktemp("example")
    source, site = base / "source", base / "site"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("__pycache__", "build"))
    env = {**os.environ, "PYTHONPATH": str(site), "BRIDGE_ENV": "dev", "BRIDGE_DATA_DIR": str(base)}
    done = run(
        sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
        "--no-index", "--target", site, source, cwd=base, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return source, env


def test_the_bridge_finds_it_by_its_entry_point(installed: tuple[Path, dict[str, str]]) -> None:
    source, env = installed
    bridge = Path(sys.executable).with_name("bridge")
    done = run(bridge, "backends", "list", "--json", cwd=source, env=env)
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert listed["example"]["class"] == "orderdesk_bridge_example.backend:ExampleBackend"
    assert listed["example"]["capabilities"]["idempotency"] == "rejects_duplicate"
    secrets = {field["name"] for field in listed["example"]["config"] if field["secret"]}
    assert secrets == {"token"}
    assert {"shipstation", "simulated"} <= set(listed)


def test_without_the_package_it_is_not_there(installed: tuple[Path, dict[str, str]]) -> None:
    source, env = installed
    bridge = Path(sys.executable).with_name("bridge")
    done = run(bridge, "backends", "list", "--json", cwd=source, env={**env, "PYTHONPATH": ""})
    assert done.returncode == 0, done.stderr
    assert "example" not in json.loads(done.stdout)


def test_it_passes_the_conformance_kit(installed: tuple[Path, dict[str, str]]) -> None:
    source, env = installed
    done = run(sys.executable, "-m", "pytest", "-q", cwd=source, env=env)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) >= 12, summary
    assert "skipped" not in summary, summary
