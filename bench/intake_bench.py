"""How many signed webhooks per second the intake records durably, next to a bare Flask endpoint.

Both apps run under gunicorn with the same worker settings in the same run, so the ratio says what
verifying, recording and committing costs on this machine. Two loads, loopback only and bounded:

* closed loop: ``--concurrency`` clients send ``--requests`` distinct signed orders as fast as the
  server answers (throughput, p50/p99);
* fixed rate: ``--rate`` requests per second for ``--rate-seconds`` (open loop; latency is measured
  from the scheduled send time, so a server that falls behind shows it in p99).

The load generator shares the machine with the servers, so ``--client`` picks how lean it is:

* ``requests`` (default): a thread pool with a ``requests.Session`` per thread, as an ordinary
  Python caller would post;
* ``raw``: every HTTP/1.1 request is encoded to bytes before the clock starts and sent over a plain
  socket (``Connection: close``, as gunicorn's sync workers close each connection anyway) from one
  asyncio loop in one thread, reading only the status code back. It leaves more of the cores to
  the servers. Bare and intake always use the same client within a run.

Each run reports CPU per request for three parties, from ``/proc`` (utime + stime) before and
after the run: ``server`` (gunicorn's workers), ``database`` (every PostgreSQL process on the
machine: backends and background writers, so another database's activity on the same server counts
too) and ``broker`` (the private ``redis-server``; 0 and flagged in the JSON when the shared Redis
is used, whose CPU also serves others). They matter because the throughput ratio and p99 depend on
everything that shares the cores, not just the app: a commit the intake waits for is PostgreSQL
CPU, and what PostgreSQL, Redis and the client use is taken from the workers.

Needs PostgreSQL (a temporary database is created, migrated and dropped) and Redis as the broker
(a private ``redis-server`` when the binary exists). Writes ``bench/results/intake.json``.

    .venv/bin/python bench/intake_bench.py --requests 2000 --concurrency 8 --rate 200
    .venv/bin/python bench/intake_bench.py --requests 2000 --concurrency 8 --rate 200 --client raw
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlencode, urlsplit

import click
import psycopg
import redis
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge import crypto, db, migrate, settings  # noqa: E402
from bridge.db import session_scope  # noqa: E402
from bridge.orderdesk.webhook import sign_order  # noqa: E402
from bridge.stores.registry import StoreRegistry  # noqa: E402

PG_SERVER = os.environ.get("BRIDGE_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
FIXTURE = ROOT / "tests" / "fixtures" / "order-typical.json"
STORE_ID = "700001"
API_KEY = "bench-key-" + uuid.uuid4().hex
SECRET_KEY = "bench-secret-key-" + uuid.uuid4().hex
PATH = "/webhooks/orderdesk"
# Both apps are served alike, as deploy/gunicorn.conf.py serves the bridge: sync workers.
GUNICORN = [
    str(Path(sys.executable).parent / "gunicorn"),
    "--workers",
    str(2 * (os.cpu_count() or 1)),
    "--worker-class",
    "sync",
]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# The raw client's fixed-rate load holds at most this many connections open: enough to keep the
# schedule while the server lags by a second or so, and few enough to stay far below the fd limit.
RAW_IN_FLIGHT = 256
REQUEST_TIMEOUT = 10.0
Item = tuple[bytes, dict[str, str]]


@dataclass
class Run:
    name: str
    requests: int
    ok: int
    seconds: float
    per_second: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    server_cpu_ms_per_request: float = 0.0
    database_cpu_ms_per_request: float = 0.0
    broker_cpu_ms_per_request: float = 0.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (requests.RequestException, redis.RedisError):
            pass
        time.sleep(0.05)
    raise click.ClickException(f"{what} did not come up within {timeout:g} s")


@contextmanager
def postgres_database() -> Iterator[str]:
    name = f"bridge_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{PG_SERVER.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
    try:
        migrate.upgrade(url)
        yield url
    finally:
        db.reset_engines()
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def redis_broker() -> Iterator[tuple[str, int | None]]:
    """The broker's URL and, for a private ``redis-server``, its pid (None for the shared Redis)."""
    binary = shutil.which("redis-server")
    if binary is None:
        url = "redis://127.0.0.1:6379/12"
        yield url, None
        redis.Redis.from_url(url).flushdb()
        return
    port = _free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        _wait_until(lambda: bool(redis.Redis.from_url(url).ping()), "redis-server")
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)


def _cpu_ticks(pid: int | str, *, reaped_children: bool = False) -> int:
    """utime + stime of one process (all its threads), plus what its exited children used if asked.

    A process that is gone or not ours to read counts 0: the figures are sums over whatever exists.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (ProcessLookupError, FileNotFoundError, PermissionError):
        return 0
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks


def server_cpu_seconds(master_pid: int) -> float:
    """CPU used so far by gunicorn's workers: a figure the other load on the machine cannot skew."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    return sum(_cpu_ticks(child) for child in children) / CLOCK_TICKS


def _is_postgres(pid: str) -> bool:
    """Whether a process is PostgreSQL's: a retitled ``postgres: ...`` child, or the postmaster.

    The postmaster keeps the path it was started with (``/usr/lib/postgresql/15/bin/postgres``),
    so its program's base name is checked as well as the ``postgres`` prefix of its children.
    """
    try:
        program = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0]
    except (ProcessLookupError, FileNotFoundError, PermissionError):
        return False
    return program.startswith(b"postgres:") or os.path.basename(program) == b"postgres"


def database_cpu_seconds() -> float:
    """CPU used so far by every PostgreSQL process on the machine: backends and background workers.

    Exited children count through the postmaster's cutime/cstime, so a backend that ends during a
    run keeps its share instead of vanishing from the sum.
    """
    pids = [entry.name for entry in Path("/proc").iterdir() if entry.name.isdigit()]
    ticks = sum(_cpu_ticks(pid, reaped_children=True) for pid in pids if _is_postgres(pid))
    return ticks / CLOCK_TICKS


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds used so far by each party that shares the cores with the load generator."""

    server: float
    database: float
    broker: float

    @classmethod
    def take(cls, server_pid: int, broker_pid: int | None) -> CpuSample:
        """Read all three now; the broker counts 0 when it is the shared Redis, not ours alone."""
        broker = 0.0 if broker_pid is None else _cpu_ticks(broker_pid) / CLOCK_TICKS
        return cls(server_cpu_seconds(server_pid), database_cpu_seconds(), broker)

    def charge(self, run: Run, before: CpuSample, count: int) -> None:
        """Record on ``run`` what each party used since ``before``, per request of the run."""

        def per_request(seconds: float) -> float:
            return round(seconds / count * 1000, 2)

        run.server_cpu_ms_per_request = per_request(self.server - before.server)
        run.database_cpu_ms_per_request = per_request(self.database - before.database)
        run.broker_cpu_ms_per_request = per_request(self.broker - before.broker)


@contextmanager
def gunicorn(app: str, env: dict[str, str], log_path: Path) -> Iterator[tuple[str, int]]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*GUNICORN, "--bind", f"127.0.0.1:{port}", app],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
        )
    try:
        _wait_until(lambda: requests.get(f"{url}/healthz", timeout=1).ok, app)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def add_store(database_url: str) -> None:
    os.environ.update(BRIDGE_DATABASE_URL=database_url, BRIDGE_SECRET_KEY=SECRET_KEY)
    settings.get_settings.cache_clear()
    crypto.get_secret_box.cache_clear()

    with session_scope() as session:
        StoreRegistry(session).add(
            orderdesk_store_id=STORE_ID,
            name="Bench Store",
            api_key=API_KEY,
            backend="simulated",
            backend_config={"base_url": "http://127.0.0.1:9"},
        )


def signed_bodies(count: int, first_id: int) -> list[Item]:
    """Distinct orders, encoded and signed ahead so the client spends little CPU while timing."""
    template = json.loads(FIXTURE.read_text())
    bodies = []
    for number in range(first_id, first_id + count):
        text = json.dumps({**template, "id": str(number), "source_id": f"B-{number}"})
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Order-Desk-Store-Id": STORE_ID,
            "X-Order-Desk-Hash": sign_order(text, API_KEY),
        }
        bodies.append((urlencode({"order": text}).encode(), headers))
    return bodies


class Timings:
    """What one load measured, before it becomes a ``Run``; threads may record into it at once."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.ok = 0
        self.seconds = 0.0
        self._lock = threading.Lock()
        self.started = time.perf_counter()

    def record(self, since: float, success: bool) -> None:
        """One answer: its latency counted from ``since`` (a send or a scheduled send time)."""
        elapsed = time.perf_counter() - since
        with self._lock:
            self.latencies.append(elapsed)
            self.ok += success

    def finish(self) -> Timings:
        self.seconds = time.perf_counter() - self.started
        return self


class LoadClient(Protocol):
    """A load generator for both loads; each method does its preparation before starting its clock.

    The two implementations differ in how they run concurrently (threads or one asyncio loop), so
    the interface is a whole load rather than a single request.
    """

    def closed_loop(self, items: Sequence[Item], concurrency: int) -> Timings:
        """Send ``items`` from ``concurrency`` clients, each sending again as soon as answered."""

    def fixed_rate(self, items: Sequence[Item], rate: float) -> Timings:
        """Send ``items`` at ``rate`` per second, timing each from its scheduled send time."""


class RequestsClient:
    """One ``requests.Session`` per thread, kept alive across requests, as an ordinary caller."""

    def __init__(self, url: str) -> None:
        self.url = url + PATH
        self._local = threading.local()

    def post(self, body: bytes, headers: dict[str, str]) -> bool:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        try:
            response = session.post(self.url, data=body, headers=headers, timeout=REQUEST_TIMEOUT)
        except requests.RequestException:
            return False
        return response.status_code == 200

    def closed_loop(self, items: Sequence[Item], concurrency: int) -> Timings:
        def one(item: Item) -> None:
            started = time.perf_counter()
            timings.record(started, self.post(*item))

        timings = Timings()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            list(pool.map(one, items))
        return timings.finish()

    def fixed_rate(self, items: Sequence[Item], rate: float) -> Timings:
        def one(item: Item, scheduled: float) -> None:
            timings.record(scheduled, self.post(*item))

        timings = Timings()
        with ThreadPoolExecutor(max_workers=64) as pool:
            for index, item in enumerate(items):
                scheduled = timings.started + index / rate
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(one, item, scheduled)
        return timings.finish()


class RawClient:
    """Pre-encoded HTTP/1.1 over plain sockets from one asyncio loop in this thread.

    On two cores every millisecond the load generator spends is taken from the servers; this
    client does no header building, connection pooling or response parsing while timing, and no
    thread switching, so the servers keep more of the machine. A request is one connection
    (``Connection: close``, which gunicorn's sync workers do anyway), read until the server closes.
    """

    def __init__(self, url: str) -> None:
        address = urlsplit(url)
        if address.hostname is None or address.port is None:
            raise click.ClickException(f"raw client needs a host and port, not {url!r}")
        self.host = address.hostname
        self.port = address.port

    def _encode(self, items: Sequence[Item]) -> list[bytes]:
        """The exact bytes of each request, with the same headers the requests client sends."""
        requests_bytes = []
        for body, headers in items:
            lines = [
                f"POST {PATH} HTTP/1.1",
                f"Host: {self.host}:{self.port}",
                *(f"{name}: {value}" for name, value in headers.items()),
                f"Content-Length: {len(body)}",
                "Connection: close",
            ]
            requests_bytes.append(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        return requests_bytes

    async def _post(self, request: bytes) -> bool:
        """Send one request; True only for a complete exchange that answered 200."""
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                reader, writer = await asyncio.open_connection(self.host, self.port)
                try:
                    writer.write(request)
                    await writer.drain()
                    response = await reader.read()  # until the server closes
                finally:
                    writer.close()
        except (OSError, TimeoutError):
            return False
        status = response.split(b"\r\n", 1)[0].split(b" ", 2)
        return len(status) >= 2 and status[0].startswith(b"HTTP/") and status[1] == b"200"

    def closed_loop(self, items: Sequence[Item], concurrency: int) -> Timings:
        return asyncio.run(self._closed_loop(self._encode(items), concurrency))

    def fixed_rate(self, items: Sequence[Item], rate: float) -> Timings:
        return asyncio.run(self._fixed_rate(self._encode(items), rate))

    async def _closed_loop(self, encoded: list[bytes], concurrency: int) -> Timings:
        pending = iter(encoded)  # shared: each sender takes the next request when it is free

        async def sender() -> None:
            for request in pending:
                started = time.perf_counter()
                timings.record(started, await self._post(request))

        timings = Timings()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        return timings.finish()

    async def _fixed_rate(self, encoded: list[bytes], rate: float) -> Timings:
        in_flight = asyncio.Semaphore(RAW_IN_FLIGHT)

        async def one(request: bytes, scheduled: float) -> None:
            try:
                success = await self._post(request)
            finally:
                in_flight.release()
            timings.record(scheduled, success)

        tasks = []
        timings = Timings()
        for index, request in enumerate(encoded):
            scheduled = timings.started + index / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            # Waiting for a slot delays the send, not the schedule: the wait shows in the latency.
            await in_flight.acquire()
            tasks.append(asyncio.create_task(one(request, scheduled)))
        await asyncio.gather(*tasks)
        return timings.finish()


CLIENTS: dict[str, Callable[[str], LoadClient]] = {"requests": RequestsClient, "raw": RawClient}


def _summary(name: str, timings: Timings) -> Run:
    ordered = sorted(timings.latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return Run(
        name=name,
        requests=len(ordered),
        ok=timings.ok,
        seconds=round(timings.seconds, 3),
        per_second=round(len(ordered) / timings.seconds, 1),
        p50_ms=round(statistics.median(ordered) * 1000, 2),
        p99_ms=round(p99 * 1000, 2),
        max_ms=round(ordered[-1] * 1000, 2),
    )


def closed_loop(name: str, client: LoadClient, bodies: Sequence[Item], concurrency: int) -> Run:
    return _summary(name, client.closed_loop(bodies, concurrency))


def fixed_rate(name: str, client: LoadClient, bodies: Sequence[Item], rate: float) -> Run:
    return _summary(name, client.fixed_rate(bodies, rate))


def count_orders(database_url: str) -> int:
    plain = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain) as conn:
        row = conn.execute("SELECT count(*) FROM orders").fetchone()
    return int(row[0]) if row else 0


def _print(run: Run, broker_measured: bool) -> None:
    broker = f"{run.broker_cpu_ms_per_request:>5.2f}" if broker_measured else "  n/a"
    click.echo(
        f"{run.name:<22} {run.requests:>6} req {run.ok:>6} ok {run.per_second:>8.1f}/s "
        f"p50 {run.p50_ms:>7.2f} ms  p99 {run.p99_ms:>7.2f} ms  max {run.max_ms:>7.2f} ms  "
        f"CPU ms/req: server {run.server_cpu_ms_per_request:>5.2f} "
        f"database {run.database_cpu_ms_per_request:>5.2f} broker {broker}"
    )


@click.command()
@click.option("--requests", "total", default=2000, show_default=True, help="Closed-loop requests.")
@click.option("--concurrency", default=8, show_default=True, help="Closed-loop concurrent clients.")
@click.option("--rate", default=200.0, show_default=True, help="Fixed-rate requests per second.")
@click.option("--rate-seconds", default=5.0, show_default=True, help="Fixed-rate duration.")
@click.option(
    "--client",
    "client_kind",
    type=click.Choice(list(CLIENTS)),
    default="requests",
    show_default=True,
    help="Load generator: requests sessions in threads, or raw pre-encoded HTTP from asyncio.",
)
def main(total: int, concurrency: int, rate: float, rate_seconds: float, client_kind: str) -> None:
    """Benchmark the intake against a bare Flask endpoint under gunicorn (sync workers)."""
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    rate_total = max(1, int(rate * rate_seconds))
    load_before = os.getloadavg()
    warmup = 50
    with postgres_database() as database_url, redis_broker() as (broker_url, broker_pid):
        add_store(database_url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
        env.update(
            BRIDGE_DATABASE_URL=database_url,
            BRIDGE_BROKER_URL=broker_url,
            BRIDGE_SECRET_KEY=SECRET_KEY,
            BRIDGE_LOG_FORMAT="json",
            PYTHONPATH=str(ROOT),
        )
        bodies = signed_bodies(warmup + total + rate_total, 900_000_000)
        runs: list[Run] = []
        apps = [
            ("bare", "bench.bare_app:create_app()"),
            ("intake", "web:create_app()"),
        ]
        for label, app in apps:
            with gunicorn(app, env, results_dir / f"gunicorn-{label}.log") as (url, pid):
                client = CLIENTS[client_kind](url)
                closed_loop("warm-up", client, bodies[:warmup], concurrency)
                loads = [
                    (f"{label} closed-loop", bodies[warmup : warmup + total], concurrency),
                    (f"{label} {rate:g}/s", bodies[warmup + total :], None),
                ]
                for name, batch, threads in loads:
                    cpu_before = CpuSample.take(pid, broker_pid)
                    if threads is None:
                        run = fixed_rate(name, client, batch, rate)
                    else:
                        run = closed_loop(name, client, batch, threads)
                    CpuSample.take(pid, broker_pid).charge(run, cpu_before, len(batch))
                    runs.append(run)
        stored = count_orders(database_url)
        queued = redis.Redis.from_url(broker_url).llen("intake")

    bare, _, intake_run, intake_rate = runs
    broker_measured = broker_pid is not None
    click.echo(f"client: {client_kind}")
    for run in runs:
        _print(run, broker_measured)
    if not broker_measured:
        click.echo("broker CPU not measured: the shared Redis serves others too")
    ratio = intake_run.per_second / bare.per_second
    met = ratio >= 0.5 and intake_rate.p99_ms < 50 and intake_rate.ok == intake_rate.requests
    expected_rows = warmup + intake_run.ok + intake_rate.ok
    click.echo(f"intake / bare throughput: {ratio:.2f} (target >= 0.50)")
    click.echo(f"p99 at {rate:g}/s: {intake_rate.p99_ms:.2f} ms (target < 50 ms)")
    click.echo(f"orders stored: {stored} (expected {expected_rows}); submissions queued: {queued}")
    click.echo(f"target met: {'yes' if met and stored == expected_rows else 'no'}")
    click.echo(f"load average before/after: {load_before[0]:.2f} / {os.getloadavg()[0]:.2f}")
    report = {
        "command": " ".join(sys.argv),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "gunicorn": GUNICORN[1:],
        "client": client_kind,
        "broker_cpu_measured": broker_measured,
        "runs": [asdict(run) for run in runs],
        "throughput_ratio": round(ratio, 3),
        "orders_stored": stored,
        "orders_expected": expected_rows,
        "submissions_queued": queued,
        "target_met": met and stored == expected_rows,
    }
    (results_dir / "intake.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
