"""Start the child processes of ``bridge dev`` and stop every one of them, whatever happens.

Each child gets its own session, hence its own process group: Ctrl-C in the terminal reaches only
``bridge dev`` (which then stops the children in order instead of all of them dying mid-task),
and stopping a child signals its whole group, so gunicorn's workers and Celery's pool processes
go with their parent. Children write to log files, never to the terminal, so the live table
stays readable.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

STOP_GRACE_SECONDS = 30.0


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (bind to 0, read it, close)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class Child:
    name: str
    argv: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def exit_code(self) -> int | None:
        return self.process.poll()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 15) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


class Supervisor:
    """Owns the children: starts them, notices one that died, and stops them all."""

    def __init__(self, log_dir: Path, env: Mapping[str, str], cwd: Path | None = None) -> None:
        self.log_dir = log_dir
        self.env = dict(env)
        self.cwd = cwd
        self.children: list[Child] = []

    def start(
        self, name: str, argv: Sequence[str], extra_env: Mapping[str, str] | None = None
    ) -> Child:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("wb") as output:
            process = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env={**self.env, **(extra_env or {})},
                cwd=self.cwd,
                start_new_session=True,
            )
        child = Child(name, list(argv), log_path, process)
        self.children.append(child)
        log.debug("child_started", child=name, pid=process.pid)
        return child

    def get(self, name: str) -> Child:
        for child in self.children:
            if child.name == name:
                return child
        raise KeyError(name)

    def exited(self) -> list[Child]:
        """Children that are no longer running (they should all run until ``stop``)."""
        return [child for child in self.children if child.exit_code() is not None]

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> dict[str, int]:
        """SIGTERM every child's group, SIGKILL whatever is left after ``grace`` seconds.

        Returns each child's exit code (negative: killed by that signal).
        """
        for child in self.children:
            if child.exit_code() is None:
                _signal_group(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in self.children:
            try:
                child.process.wait(timeout=max(deadline - time.monotonic(), 0.0))
            except subprocess.TimeoutExpired:
                log.warning("child_killed", child=child.name, pid=child.pid, grace=grace)
                _signal_group(child.pid, signal.SIGKILL)
                child.process.wait()
            # The leader is gone; a straggler of its group (a pool process) must not outlive it.
            _signal_group(child.pid, signal.SIGKILL)
        return {child.name: child.process.returncode for child in self.children}


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)
