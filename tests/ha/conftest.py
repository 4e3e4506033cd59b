"""A Redis primary, its replica and three Sentinels on loopback, for the failover tests.

The e2e fixtures (the bridge's processes, both simulators) are reused as they are; only the
broker they are pointed at changes: ``broker_url`` here names the Sentinels.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from tests.e2e.conftest import bridge, orderdesk, warehouse
from tests.e2e.harness import free_port, wait_until

__all__ = ["bridge", "orderdesk", "warehouse"]

MASTER_NAME = "bridge-ha"
# Nothing written to disk: the replica is the only copy, as the test wants.
SCRATCH = ("--save", "", "--appendonly", "no")


@dataclass
class RedisGroup:
    """The servers of one Sentinel-watched Redis, each an OS process of its own."""

    folder: Path
    servers: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    sentinels: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start_server(self, *args: str) -> int:
        port = free_port()
        self.servers[port] = _spawn(
            self.folder / f"redis-{port}.log",
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", *self._scratch, *args],
        )
        wait_until(lambda: _pings(port), 10, f"redis-server on {port}")
        return port

    def start_sentinel(self, primary: int) -> int:
        port = free_port()
        config = self.folder / f"sentinel-{port}.conf"
        config.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {self.folder}\n"
            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {primary} 2\n"
            f"sentinel down-after-milliseconds {MASTER_NAME} 1000\n"
            f"sentinel failover-timeout {MASTER_NAME} 5000\n"
            f"sentinel parallel-syncs {MASTER_NAME} 1\n"
        )
        self.sentinels[port] = _spawn(
            self.folder / f"sentinel-{port}.log", ["redis-sentinel", str(config)]
        )
        wait_until(lambda: _pings(port), 10, f"redis-sentinel on {port}")
        return port

    @property
    def _scratch(self) -> tuple[str, ...]:
        """Nothing kept on disk, and the file a syncing replica writes goes to ``folder``."""
        return (*SCRATCH, "--dir", str(self.folder))

    @property
    def url(self) -> str:
        return ";".join(f"sentinel://127.0.0.1:{port}/0" for port in self.sentinels)

    def primary(self) -> int:
        """The primary's port as the first Sentinel that answers sees it."""
        for port in self.sentinels:
            try:
                address = redis.Redis(port=port, socket_timeout=1).execute_command(
                    "SENTINEL", "get-master-addr-by-name", MASTER_NAME
                )
            except redis.RedisError:
                continue
            return int(address[1])
        raise AssertionError("no Sentinel answered")

    def stop(self) -> None:
        for process in [*self.sentinels.values(), *self.servers.values()]:
            if process.poll() is None:
                process.kill()
                process.wait(10)


def _spawn(log: Path, args: list[str]) -> subprocess.Popen[bytes]:
    with log.open("ab") as handle:
        return subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT)


def _pings(port: int) -> bool:
    try:
        return bool(redis.Redis(port=port, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def _replica_in_sync(port: int) -> bool:
    info = redis.Redis(port=port, socket_timeout=1).info("replication")
    return info.get("master_link_status") == "up"


@pytest.fixture
def redis_group(tmp_path: Path) -> Iterator[RedisGroup]:
    missing = [name for name in ("redis-server", "redis-sentinel") if not shutil.which(name)]
    if missing:
        pytest.skip(
            f"{' and '.join(missing)} not installed (Debian: apt-get install redis-sentinel)"
        )
    group = RedisGroup(tmp_path / "redis")
    group.folder.mkdir()
    try:
        primary = group.start_server()
        replica = group.start_server("--replicaof", "127.0.0.1", str(primary))
        wait_until(lambda: _replica_in_sync(replica), 15, "the replica to sync")
        for _ in range(3):
            group.start_sentinel(primary)
        # Each Sentinel has found the replica and the two others before the test may fail over.
        wait_until(lambda: _sentinels_ready(group), 20, "the Sentinels to see each other")
        yield group
    finally:
        group.stop()


def _sentinels_ready(group: RedisGroup) -> bool:
    for port in group.sentinels:
        [state] = [
            entry for entry in redis.Redis(port=port, socket_timeout=1).sentinel_masters().values()
        ]
        if state["num-other-sentinels"] < 2 or state["num-slaves"] < 1:
            return False
    return True


@pytest.fixture
def broker_url(redis_group: RedisGroup, bridge_env: pytest.MonkeyPatch) -> str:
    """The e2e ``bridge`` fixture's broker and limiter: the Sentinels, for ``MASTER_NAME``."""
    bridge_env.setenv("BRIDGE_REDIS_SENTINEL_MASTER", MASTER_NAME)
    return redis_group.url
