"""How many signed webhooks per second the intake records durably, next to a bare Flask endpoint.

Both apps run under the same gunicorn configuration (``deploy/gunicorn.conf.py``, the one
production uses) in the same run, so the ratio says what verifying, recording and committing
costs on this machine. Two loads, loopback only and bounded:

* closed loop: ``--concurrency`` connections send ``--requests`` distinct signed orders as fast as
  the server answers (throughput, p50/p99);
* fixed rate: ``--rate`` requests per second for ``--rate-seconds`` (latency at a steady load).

The load generator shares the machine with the servers, so ``--client`` picks how lean it is:

* ``wrk`` (default; Debian/Ubuntu: ``sudo apt-get install wrk``) for the closed loop: every
  webhook is signed ahead (as the Order Desk simulator signs, ``sign_order``) and written to one
  file per wrk thread; ``bench/intake_wrk.lua`` has each thread walk its own slice, so no order
  is sent twice, and stops the thread once every answer of its slice is in. The fixed rate is a
  separate paced run (``PacedClient``: one asyncio loop, each request on its own connection at its
  scheduled time, latency counted from that time), because wrk's ``delay()`` would hold an open
  connection idle between sends, pinning a sync gunicorn worker each (wrk2 is not packaged).
* ``requests``: a thread pool with a ``requests.Session`` per thread, as an ordinary Python caller
  would post; it costs about 1.8 ms of CPU per request, which throttles the bare endpoint most.

Each run reports CPU per request for each party, from ``/proc`` (utime + stime) before and after
the run: ``server`` (gunicorn's workers), ``database`` (every PostgreSQL process on the machine:
backends and background writers, so another database's activity on the same server counts too),
``broker`` (the private ``redis-server``; 0 and flagged in the JSON when the shared Redis is used,
whose CPU also serves others) and ``client`` (the load generator). They matter because the
throughput and p99 depend on everything that shares the cores, not just the app. Afterwards
PostgreSQL must hold exactly one order row per 200 the intake answered: every 200 is durable.

Needs PostgreSQL (a temporary database is created, migrated and dropped) and Redis as the broker
(a private ``redis-server`` when the binary exists). Writes ``bench/results/intake.json``.

    .venv/bin/python bench/intake_bench.py --requests 20000 --concurrency 16 --rate 200
    .venv/bin/python bench/intake_bench.py --client requests --requests 2000 --concurrency 8
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
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

from stack import free_port, postgres_database, private_redis, wait_until  # noqa: E402

from bridge import crypto, settings  # noqa: E402
from bridge.db import session_scope  # noqa: E402
from bridge.jobs import handoff, queues  # noqa: E402
from bridge.orderdesk.webhook import HASH_HEADER, STORE_HEADER, sign_order  # noqa: E402
from bridge.stores.registry import StoreRegistry  # noqa: E402

PG_SERVER = os.environ.get("BRIDGE_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
FIXTURE = ROOT / "tests" / "fixtures" / "order-typical.json"
STORE_ID = "700001"
API_KEY = "bench-key-" + uuid.uuid4().hex
SECRET_KEY = "bench-secret-key-" + uuid.uuid4().hex
PATH = "/webhooks/orderdesk"
GUNICORN_CONFIG = ROOT / "deploy" / "gunicorn.conf.py"
WRK_SCRIPT = ROOT / "bench" / "intake_wrk.lua"
WRK_MISSING = (
    "wrk is not installed: on Debian/Ubuntu `sudo apt-get install wrk` (or run this bench with "
    "--client requests, which measures mostly itself)"
)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
REQUEST_TIMEOUT = 10.0
# The paced run holds at most this many connections open: enough to keep the schedule while the
# server lags by a second or so, and few enough to stay far below the open-file limit.
PACED_IN_FLIGHT = 256
# How long wrk may take beyond what the load should need before the bench stops it anyway.
WRK_GRACE_SECONDS = 60.0
Item = tuple[bytes, dict[str, str]]

# The targets (#13), printed beside each figure.
TARGET_PER_SECOND = 1500.0
TARGET_RATIO = 0.25
TARGET_P99_MS = 50.0


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
    client_cpu_ms_per_request: float = 0.0

    @property
    def bridge_cpu_ms_per_request(self) -> float:
        """What one request costs the service: its web workers, PostgreSQL and Redis."""
        return round(
            self.server_cpu_ms_per_request
            + self.database_cpu_ms_per_request
            + self.broker_cpu_ms_per_request,
            2,
        )


@dataclass(frozen=True)
class Load:
    """What one load measured: counts, duration, latency, and the client's own CPU seconds."""

    requests: int
    ok: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    client_cpu_seconds: float

    def run(self, name: str) -> Run:
        return Run(
            name=name,
            requests=self.requests,
            ok=self.ok,
            seconds=round(self.seconds, 3),
            per_second=round(self.requests / self.seconds, 1) if self.seconds else 0.0,
            p50_ms=round(self.p50_ms, 2),
            p99_ms=round(self.p99_ms, 2),
            max_ms=round(self.max_ms, 2),
            client_cpu_ms_per_request=round(
                self.client_cpu_seconds / max(self.requests, 1) * 1000, 2
            ),
        )


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
def gunicorn(
    app: str, env: dict[str, str], workers: int | None, log_path: Path
) -> Iterator[tuple[str, int]]:
    """``app`` served by gunicorn with deploy/gunicorn.conf.py, as production serves the bridge."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server_env = {**env, "BRIDGE_WEB_BIND": f"127.0.0.1:{port}"}
    if workers:
        server_env["WEB_CONCURRENCY"] = str(workers)
    command = [str(Path(sys.executable).parent / "gunicorn"), "-c", str(GUNICORN_CONFIG), app]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=server_env, stdout=log, stderr=log)
    try:
        wait_until(lambda: requests.get(f"{url}/healthz", timeout=1).ok, app)
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
            STORE_HEADER: STORE_ID,
            HASH_HEADER: sign_order(text, API_KEY),
        }
        bodies.append((urlencode({"order": text}).encode(), headers))
    return bodies


class Timings:
    """Latencies a Python client recorded; threads may record into it at once."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.ok = 0
        self._lock = threading.Lock()
        self.started = time.perf_counter()
        self._cpu_started = time.process_time()

    def record(self, since: float, success: bool) -> None:
        """One answer: its latency counted from ``since`` (a send or a scheduled send time)."""
        elapsed = time.perf_counter() - since
        with self._lock:
            self.latencies.append(elapsed)
            self.ok += success

    def load(self) -> Load:
        seconds = time.perf_counter() - self.started
        ordered = sorted(self.latencies) or [0.0]
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return Load(
            requests=len(self.latencies),
            ok=self.ok,
            seconds=seconds,
            p50_ms=statistics.median(ordered) * 1000,
            p99_ms=p99 * 1000,
            max_ms=ordered[-1] * 1000,
            client_cpu_seconds=time.process_time() - self._cpu_started,
        )


class LoadClient(Protocol):
    """A load generator for both loads; each method does its preparation before its clock starts.

    The implementations differ in how they run concurrently (threads, or wrk's event loops in
    another process), so the interface is a whole load rather than a single request.
    """

    def closed_loop(self, items: Sequence[Item], concurrency: int) -> Load:
        """Send ``items`` over ``concurrency`` connections, each sending again once answered."""

    def fixed_rate(self, items: Sequence[Item], rate: float) -> Load:
        """Send ``items`` at ``rate`` per second."""


class RequestsClient:
    """One ``requests.Session`` per thread, kept alive across requests, as an ordinary caller."""

    def __init__(self, url: str, _options: ClientOptions) -> None:
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

    def closed_loop(self, items: Sequence[Item], concurrency: int) -> Load:
        def one(item: Item) -> None:
            started = time.perf_counter()
            timings.record(started, self.post(*item))

        timings = Timings()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            list(pool.map(one, items))
        return timings.load()

    def fixed_rate(self, items: Sequence[Item], rate: float) -> Load:
        """Open loop: latency counts from the scheduled send time."""

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
        return timings.load()


@dataclass(frozen=True)
class ClientOptions:
    """What the command line says about the load generator beyond the loads themselves."""

    threads: int


class WrkClient:
    """wrk with ``bench/intake_wrk.lua`` for the closed loop; a paced sender for the fixed rate.

    Each wrk thread sends its own slice of the webhooks once. wrk's main thread sleeps for the
    whole ``-d`` duration whatever its threads do, so the bench watches for the script's
    per-thread ``done-N`` files and then interrupts wrk (SIGINT), which prints its summary.
    """

    def __init__(self, url: str, options: ClientOptions) -> None:
        if shutil.which("wrk") is None:
            raise click.ClickException(WRK_MISSING)
        self.url = url + PATH
        self.threads = options.threads
        self.paced = PacedClient(url)

    def fixed_rate(self, items: Sequence[Item], rate: float) -> Load:
        return self.paced.fixed_rate(items, rate)

    def closed_loop(self, items: Sequence[Item], concurrency: int) -> Load:
        threads = max(1, min(self.threads, len(items), concurrency))
        with tempfile.TemporaryDirectory(prefix="intake-wrk-") as folder:
            work = Path(folder)
            for thread in range(threads):
                lines = [
                    f"{h[HASH_HEADER]} {body.decode()}\n" for body, h in items[thread::threads]
                ]
                (work / f"thread-{thread}.txt").write_text("".join(lines))
            limit = len(items) / 20 + WRK_GRACE_SECONDS
            command = [
                "wrk", "--threads", str(threads), "--connections", str(concurrency),
                "--duration", f"{int(limit) + 10}s", "--timeout", f"{int(REQUEST_TIMEOUT)}s",
                "--script", str(WRK_SCRIPT), self.url, "--", str(work), STORE_ID,
            ]  # fmt: skip
            process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
            deadline = time.monotonic() + limit
            while time.monotonic() < deadline and len(list(work.glob("done-*"))) < threads:
                time.sleep(0.05)
            process.send_signal(signal.SIGINT)
            assert process.stdout is not None
            output = process.stdout.read()  # until wrk has printed its summary and exited
            # wait4, not Popen.wait: it also says how much CPU wrk itself used.
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
        return self._load(output, usage.ru_utime + usage.ru_stime)

    @staticmethod
    def _load(output: str, client_cpu: float) -> Load:
        line = next((ln for ln in output.splitlines() if ln.startswith("WRK_RESULT ")), None)
        if line is None:
            raise click.ClickException(f"wrk printed no result:\n{output}")
        result = json.loads(line.removeprefix("WRK_RESULT "))
        if result["socket_errors"]:
            click.echo(f"wrk: {result['socket_errors']} socket errors", err=True)
        return Load(
            requests=result["answered"],
            ok=result["ok"],
            seconds=result["seconds"],
            p50_ms=result["p50_ms"],
            p99_ms=result["p99_ms"],
            max_ms=result["max_ms"],
            client_cpu_seconds=client_cpu,
        )


class PacedClient:
    """The fixed rate: pre-encoded HTTP/1.1 sent on schedule from one asyncio loop.

    Not wrk: its ``delay()`` waits with the connection already open (wrk reconnects as soon as
    an answer arrives), and a sync gunicorn worker that accepted it waits for the request
    instead of serving others, so the rate would measure idle workers. Here each request opens
    its own connection at its scheduled time (``Connection: close``, as sync workers close
    anyway), and its latency counts from that scheduled time, so a server that falls behind
    shows in p99 rather than in a quietly lower rate.
    """

    def __init__(self, url: str) -> None:
        address = urlsplit(url)
        if address.hostname is None or address.port is None:
            raise click.ClickException(f"the paced client needs a host and port, not {url!r}")
        self.host = address.hostname
        self.port = address.port

    def _encode(self, items: Sequence[Item]) -> list[bytes]:
        encoded = []
        for body, headers in items:
            lines = [
                f"POST {PATH} HTTP/1.1",
                f"Host: {self.host}:{self.port}",
                *(f"{name}: {value}" for name, value in headers.items()),
                f"Content-Length: {len(body)}",
                "Connection: close",
            ]
            encoded.append(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        return encoded

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

    def fixed_rate(self, items: Sequence[Item], rate: float) -> Load:
        return asyncio.run(self._fixed_rate(self._encode(items), rate))

    async def _fixed_rate(self, encoded: list[bytes], rate: float) -> Load:
        in_flight = asyncio.Semaphore(PACED_IN_FLIGHT)

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
        return timings.load()


CLIENTS: dict[str, Callable[[str, ClientOptions], LoadClient]] = {
    "wrk": WrkClient,
    "requests": RequestsClient,
}


def count_orders(database_url: str) -> int:
    plain = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain) as conn:
        row = conn.execute("SELECT count(*) FROM orders").fetchone()
    return int(row[0]) if row else 0


def _print(run: Run, broker_measured: bool) -> None:
    broker = f"{run.broker_cpu_ms_per_request:>5.2f}" if broker_measured else "  n/a"
    click.echo(
        f"{run.name:<20} {run.requests:>6} req {run.ok:>6} ok {run.per_second:>8.1f}/s "
        f"p50 {run.p50_ms:>7.2f} ms  p99 {run.p99_ms:>7.2f} ms  max {run.max_ms:>7.2f} ms  "
        f"CPU ms/req: server {run.server_cpu_ms_per_request:>5.2f} "
        f"database {run.database_cpu_ms_per_request:>5.2f} broker {broker} "
        f"client {run.client_cpu_ms_per_request:>5.2f}"
    )


def _verdicts(runs: dict[str, Run], rate: float, stored: int, expected: int) -> dict[str, bool]:
    """Print each figure beside its target; return which targets were met."""
    bare, intake, paced = runs["bare closed-loop"], runs["intake closed-loop"], runs["intake paced"]
    ratio = intake.per_second / bare.per_second if bare.per_second else 0.0
    met = {
        "throughput": intake.per_second >= TARGET_PER_SECOND and intake.ok == intake.requests,
        "ratio": ratio >= TARGET_RATIO,
        "p99_at_rate": paced.p99_ms < TARGET_P99_MS and paced.ok == paced.requests,
        "durable": stored == expected,
    }
    click.echo(
        f"intake throughput: {intake.per_second:.1f} durable webhooks/s "
        f"(target >= {TARGET_PER_SECOND:g}/s on 2 cores)"
    )
    click.echo(f"intake / bare throughput: {ratio:.2f} (target >= {TARGET_RATIO:.2f})")
    click.echo(
        f"p99 at {rate:g}/s: {paced.p99_ms:.2f} ms (target < {TARGET_P99_MS:g} ms); "
        f"achieved {paced.per_second:.1f}/s"
    )
    click.echo(
        f"CPU per webhook (server + database + broker): {intake.bridge_cpu_ms_per_request:.2f} ms"
        f" (bare endpoint: {bare.bridge_cpu_ms_per_request:.2f} ms)"
    )
    click.echo(
        f"orders stored: {stored}; 200s answered: {expected} (target: equal, every 200 durable)"
    )
    for name, ok in met.items():
        click.echo(f"target {name}: {'met' if ok else 'NOT met'}")
    return met


@click.command()
@click.option("--requests", "total", default=20000, show_default=True, help="Closed-loop requests.")
@click.option("--concurrency", default=16, show_default=True, help="Closed-loop connections.")
@click.option("--rate", default=200.0, show_default=True, help="Fixed-rate requests per second.")
@click.option("--rate-seconds", default=10.0, show_default=True, help="Fixed-rate duration.")
@click.option(
    "--client",
    "client_kind",
    type=click.Choice(list(CLIENTS)),
    default="wrk",
    show_default=True,
    help="Load generator: wrk (apt-get install wrk), or requests sessions in threads.",
)
@click.option("--threads", default=1, show_default=True, help="wrk threads (one slice each).")
@click.option(
    "--workers",
    type=int,
    default=None,
    help="gunicorn workers for both apps (default: deploy/gunicorn.conf.py's own).",
)
@click.option("--skip-bare", is_flag=True, help="Measure the intake only (profiling rounds).")
@click.option("--warmup", default=200, show_default=True, help="Webhooks sent before timing.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=ROOT / "bench" / "results" / "intake.json",
    show_default=True,
    help="Where the JSON report goes (gunicorn's logs go beside it).",
)
def main(
    total: int,
    concurrency: int,
    rate: float,
    rate_seconds: float,
    client_kind: str,
    threads: int,
    workers: int | None,
    skip_bare: bool,
    warmup: int,
    out: Path,
) -> None:
    """Benchmark the intake against a bare Flask endpoint under the same gunicorn configuration."""
    results_dir = out.parent
    results_dir.mkdir(parents=True, exist_ok=True)
    options = ClientOptions(threads=threads)
    if client_kind == "wrk" and shutil.which("wrk") is None:
        raise click.ClickException(WRK_MISSING)
    rate_total = max(1, int(rate * rate_seconds))
    load_before = os.getloadavg()
    with postgres_database() as database_url, private_redis() as (broker_url, broker_pid):
        add_store(database_url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
        env.update(
            BRIDGE_DATABASE_URL=database_url,
            BRIDGE_BROKER_URL=broker_url,
            BRIDGE_SECRET_KEY=SECRET_KEY,
            BRIDGE_LOG_FORMAT="json",
            PYTHONPATH=str(ROOT),
        )
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        bodies = signed_bodies(warmup + total + rate_total, 900_000_000)
        runs: dict[str, Run] = {}
        apps = [("bare", "bench.bare_app:create_app()"), ("intake", "web:create_app()")]
        warmups_ok = 0
        for label, app in apps[1:] if skip_bare else apps:
            log_path = results_dir / f"gunicorn-{label}.log"
            with gunicorn(app, env, workers, log_path) as (url, pid):
                client = CLIENTS[client_kind](url, options)
                if warmup:
                    warmed = client.closed_loop(bodies[:warmup], concurrency)
                    if label == "intake":  # the bare endpoint stores nothing
                        warmups_ok = warmed.ok
                loads = [
                    (f"{label} closed-loop", bodies[warmup : warmup + total], concurrency),
                    (f"{label} paced", bodies[warmup + total :], None),
                ]
                for name, batch, connections in loads:
                    cpu_before = CpuSample.take(pid, broker_pid)
                    if connections is None:
                        run = client.fixed_rate(batch, rate).run(name)
                    else:
                        run = client.closed_loop(batch, connections).run(name)
                    CpuSample.take(pid, broker_pid).charge(run, cpu_before, len(batch))
                    runs[name] = run
        stored = count_orders(database_url)
        broker = redis.Redis.from_url(broker_url)
        handed_over = broker.llen(handoff.NEW_ORDERS_KEY)
        intake_messages = broker.llen(queues.QUEUE_INTAKE)

    broker_measured = broker_pid is not None
    click.echo(f"client: {client_kind}; gunicorn: {GUNICORN_CONFIG.relative_to(ROOT)}")
    for run in runs.values():
        _print(run, broker_measured)
    if not broker_measured:
        click.echo("broker CPU not measured: the shared Redis serves others too")
    expected = warmups_ok + runs["intake closed-loop"].ok + runs["intake paced"].ok
    if skip_bare:
        runs["bare closed-loop"] = Run("bare closed-loop", 0, 0, 0, 0, 0, 0, 0)
    met = _verdicts(runs, rate, stored, expected)
    click.echo(
        f"orders handed to the workers: {handed_over} on the list, "
        f"{intake_messages} messages on the intake queue (no worker runs in this bench)"
    )
    click.echo(f"load average before/after: {load_before[0]:.2f} / {os.getloadavg()[0]:.2f}")
    report = {
        "command": " ".join(sys.argv),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "gunicorn_config": str(GUNICORN_CONFIG.relative_to(ROOT)),
        "gunicorn_workers": workers,
        "client": client_kind,
        "broker_cpu_measured": broker_measured,
        "runs": [
            {**asdict(run), "bridge_cpu_ms_per_request": run.bridge_cpu_ms_per_request}
            for run in runs.values()
        ],
        "targets": {
            "per_second": TARGET_PER_SECOND,
            "ratio": TARGET_RATIO,
            "p99_ms_at_rate": TARGET_P99_MS,
            "rate": rate,
        },
        "orders_stored": stored,
        "orders_expected": expected,
        "orders_handed_over": handed_over,
        "intake_queue_messages": intake_messages,
        "targets_met": met,
    }
    out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
