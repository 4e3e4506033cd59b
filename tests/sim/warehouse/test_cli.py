"""``bridge sim warehouse`` as a real process: it prints its URL, serves, and stops on SIGTERM."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[3]


def test_the_command_serves_until_terminated() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from bridge.cli.sim_warehouse import command; command()",
            "--kind",
            "shipstation",
            "--port",
            "0",
            "--api-key",
            "cli-key",
            "--api-secret",
            "cli-secret",
            "--auto-ship-delay",
            "0",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", first)
        assert match, first
        url = match.group(1)
        assert requests.get(url + "/orders", timeout=5).status_code == 401
        reply = requests.get(url + "/orders", auth=("cli-key", "cli-secret"), timeout=5)
        assert reply.json()["total"] == 0
        process.terminate()
        out, _ = process.communicate(timeout=10)
        assert process.returncode == 0
        assert "stopped" in out and "cli-secret" not in first + out
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
