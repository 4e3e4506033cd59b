"""Running the real ``bridge`` program: in a pipe, as scripts do, and on a pseudo-terminal, as a
person does (output on a terminal is meant to differ: tables, plain-word log lines)."""

from __future__ import annotations

import json
import os
import pty
import select
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BRIDGE = Path(sys.executable).with_name("bridge")


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


def closed_port() -> int:
    """A loopback port nobody listens on (taken from the kernel, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    return {**os.environ, "COLUMNS": "160", **(extra or {})}


def run_bridge(*args: str, env: dict[str, str] | None = None, input: str = "") -> Run:
    """``bridge ARGS`` with standard input, output and error all pipes."""
    done = subprocess.run(
        [str(BRIDGE), *args],
        env=_env(env),
        input=input,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def run_in_terminal(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Run:
    """``bridge ARGS`` on a pseudo-terminal: what a person sees (stdout and stderr together)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [str(BRIDGE), *args],
        env=_env({"TERM": "xterm-256color", **(env or {})}),
        stdin=follower,
        stdout=follower,
        stderr=follower,
        close_fds=True,
    )
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # EIO: the program ended and closed the terminal
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            elif process.poll() is not None:
                break
        code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(leader)
    text = b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")
    return Run(code, text, "")


def json_lines(text: str) -> list[str]:
    """The lines of ``text`` that parse as a JSON object (log lines in the JSON format)."""
    found = []
    for line in text.splitlines():
        try:
            if isinstance(json.loads(line), dict):
                found.append(line)
        except ValueError:
            continue
    return found
