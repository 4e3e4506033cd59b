"""``bridge dev`` on a bare directory: no Redis, no PostgreSQL, no credentials in the environment.

Each test runs the real command (simulators, gunicorn, a Celery worker, beat and Flower as child
processes) and then checks what it left: the embedded database, the log files, and no process
still running with its data folder.
"""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest
import requests
from werkzeug.security import check_password_hash

from tests.devrun.support import (
    VENV_BIN,
    clean_environment,
    free_port,
    processes_with,
    tail,
    wait_for,
)

pytestmark = pytest.mark.slow

BRIDGE = str(VENV_BIN / "bridge")
CHILDREN = ("orderdesk-sim", "warehouse-sim", "web", "worker", "beat", "flower")


def _run_dev(cwd: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BRIDGE, "dev", *args],
        cwd=cwd,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _explain(result: subprocess.CompletedProcess[str], data_dir: Path) -> str:
    logs = "\n".join(
        f"--- {name}.log\n{tail(data_dir / 'logs' / f'{name}.log')}" for name in CHILDREN
    )
    return f"exit {result.returncode}\n{result.stdout}\n{result.stderr}\n{logs}"


def _query(data_dir: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(data_dir / "bridge.db") as conn:
        return conn.execute(sql).fetchall()


def test_once_ships_ten_orders_from_a_fresh_directory(tmp_path: Path, dev_data_dir: Path) -> None:
    result = _run_dev(tmp_path, "--once", "--orders", "10", timeout=240)

    assert result.returncode == 0, _explain(result, dev_data_dir)
    assert re.search(r"All 10 orders shipped in [\d.]+s: \d+ Order Desk API calls", result.stdout)
    assert "Stopped 6 child processes." in result.stdout
    assert _query(dev_data_dir, "SELECT state, count(*) FROM orders GROUP BY state") == [
        ("shipped", 10)
    ]
    unposted = _query(dev_data_dir, "SELECT count(*) FROM shipments WHERE posted_at IS NULL")
    assert unposted == [(0,)]
    assert _query(dev_data_dir, "SELECT count(*) FROM shipments")[0][0] >= 10
    for name in CHILDREN:
        assert (dev_data_dir / "logs" / f"{name}.log").is_file(), name
    # Not asked for: the worker served no /metrics, so it never took a real worker's 9808.
    assert "worker_metrics" not in (dev_data_dir / "logs" / "worker.log").read_text()
    assert processes_with("BRIDGE_DATA_DIR", str(dev_data_dir)) == []
    # Everything lives in the data folder (kombu's broker control files included).
    assert sorted(p.name for p in tmp_path.iterdir()) == ["var"]
    password_file = dev_data_dir / "admin-password"
    password = password_file.read_text().strip()
    assert password and password not in result.stdout + result.stderr
    assert password_file.stat().st_mode & 0o777 == 0o600
    assert f"user admin, password in {password_file}" in result.stdout
    ((stored,),) = _query(dev_data_dir, "SELECT password_hash FROM admin_users WHERE name='admin'")
    assert stored.startswith("scrypt:") and check_password_hash(stored, password)


def test_metrics_port_serves_the_workers_metrics_only_when_asked(
    tmp_path: Path, dev_data_dir: Path
) -> None:
    port = free_port()
    with subprocess.Popen(
        [BRIDGE, "dev", "--once", "--orders", "3", "--metrics-port", str(port)],
        cwd=tmp_path,
        env=clean_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as run:
        url = f"http://127.0.0.1:{port}/metrics"
        bodies: list[str] = []
        assert wait_for(lambda: _scraped(url, bodies), 180), "the worker never served /metrics"
        output, _ = run.communicate(timeout=240)
    assert run.returncode == 0, output
    assert f"Worker metrics        {url}" in output
    assert "bridge_gauges_up" in bodies[-1]


def _scraped(url: str, bodies: list[str]) -> bool:
    try:
        response = requests.get(url, timeout=2)
    except requests.RequestException:
        return False
    bodies.append(response.text)
    return response.ok


def test_once_lists_the_orders_still_unshipped_at_the_deadline(
    tmp_path: Path, dev_data_dir: Path
) -> None:
    result = _run_dev(tmp_path, "--once", "--orders", "3", "--timeout", "1", timeout=180)

    assert result.returncode == 1, _explain(result, dev_data_dir)
    header = re.search(r"(\d) of 3 orders not shipped after 1s", result.stdout)
    assert header, result.stdout
    stuck = re.findall(r"Order Desk order (\d+): (\w+) \(", result.stdout)
    assert len(stuck) == int(header.group(1)) > 0
    assert all(state != "shipped" for _, state in stuck)
    assert processes_with("BRIDGE_DATA_DIR", str(dev_data_dir)) == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_running_session_stops_every_child_on_a_signal(
    tmp_path: Path, dev_data_dir: Path, signum: signal.Signals
) -> None:
    output = tmp_path / "output.txt"
    with output.open("w") as sink:
        session = subprocess.Popen(
            [BRIDGE, "dev", "--orders", "2"],
            cwd=tmp_path,
            env=clean_environment(),
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        assert wait_for(lambda: "Posted 2 orders" in output.read_text(), timeout=90), tail(output)
        children = processes_with("BRIDGE_DATA_DIR", str(dev_data_dir))
        assert len(children) >= len(CHILDREN)
        _sign_in_as_the_dev_admin(output.read_text(), dev_data_dir)

        session.send_signal(signum)
        assert session.wait(timeout=45) == 0, tail(output)
    finally:
        if session.poll() is None:
            session.kill()
    assert "Stopped 6 child processes." in output.read_text()
    assert "killed after the grace period" not in output.read_text()
    assert processes_with("BRIDGE_DATA_DIR", str(dev_data_dir)) == []


def _sign_in_as_the_dev_admin(output: str, data_dir: Path) -> None:
    """The admin pages the run prints, with the user and the password file it names."""
    found = re.search(
        r"Admin pages\s+(http://\S+/admin)\s+\(user (\w+), password in (\S+)\)", output
    )
    assert found, output
    admin_url, user, password_file = found.groups()
    assert Path(password_file) == data_dir / "admin-password"
    password = Path(password_file).read_text().strip()
    assert password not in output
    origin = admin_url.removesuffix("/admin")
    with requests.Session() as browser:
        page = browser.get(f"{admin_url}/login", timeout=10).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token, page
        response = browser.post(
            f"{admin_url}/login",
            data={"name": user, "password": password, "csrf_token": token.group(1)},
            headers={"Origin": origin},
            timeout=10,
        )
        assert response.status_code == 200 and "Orders per store and state" in response.text
