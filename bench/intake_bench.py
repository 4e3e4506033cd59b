"""How many signed webhooks per second the intake records durably, next to a bare Flask endpoint.

Both apps run under gunicorn with the same worker settings in the same run, so the ratio says what
verifying, recording and committing costs on this machine. Two loads, loopback only and bounded:

* closed loop: ``--concurrency`` clients send ``--requests`` distinct signed orders as fast as the
  server answers (throughput, p50/p99);
* fixed rate: ``--rate`` requests per second for ``--rate-seconds`` (open loop; latency is measured
  from the scheduled send time, so a server that falls behind shows it in p99).

Needs PostgreSQL (a temporary database is created, migrated and dropped) and Redis as the broker
(a private ``redis-server`` when the binary exists). Writes ``bench/results/intake.json``.

    .venv/bin/python bench/intake_bench.py --requests 2000 --concurrency 8 --rate 200
"""

from __future__ import annotations

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
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlencode

import click
import psycopg
import redis
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge import crypto, db, migrate, settings  # noqa: E402
from bridge.db import session_scope  # noqa: E402
from bridge.sim.orderdesk import sign_order  # noqa: E402
from bridge.stores import StoreRegistry  # noqa: E402

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
def redis_broker() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        url = "redis://127.0.0.1:6379/12"
        yield url
        redis.Redis.from_url(url).flushdb()
        return
    port = _free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        _wait_until(lambda: bool(redis.Redis.from_url(url).ping()), "redis-server")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def server_cpu_seconds(master_pid: int) -> float:
    """CPU used so far by gunicorn's workers: a figure the other load on the machine cannot skew."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    ticks = 0
    for child in children:
        try:
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


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


def signed_bodies(count: int, first_id: int) -> list[tuple[bytes, dict[str, str]]]:
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


class Client:
    """One ``requests.Session`` per thread, kept alive across requests."""

    def __init__(self, url: str) -> None:
        self.url = url + PATH
        self._local = threading.local()

    def post(self, body: bytes, headers: dict[str, str]) -> bool:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        try:
            response = session.post(self.url, data=body, headers=headers, timeout=10)
        except requests.RequestException:
            return False
        return response.status_code == 200


def _summary(name: str, latencies: list[float], ok: int, seconds: float) -> Run:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return Run(
        name=name,
        requests=len(latencies),
        ok=ok,
        seconds=round(seconds, 3),
        per_second=round(len(latencies) / seconds, 1),
        p50_ms=round(statistics.median(ordered) * 1000, 2),
        p99_ms=round(p99 * 1000, 2),
        max_ms=round(ordered[-1] * 1000, 2),
    )


def closed_loop(name: str, client: Client, bodies: list, concurrency: int) -> Run:
    latencies: list[float] = []
    ok = 0
    lock = threading.Lock()

    def one(item: tuple[bytes, dict[str, str]]) -> None:
        nonlocal ok
        started = time.perf_counter()
        success = client.post(*item)
        elapsed = time.perf_counter() - started
        with lock:
            latencies.append(elapsed)
            ok += success

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, bodies))
    return _summary(name, latencies, ok, time.perf_counter() - started)


def fixed_rate(name: str, client: Client, bodies: list, rate: float) -> Run:
    latencies: list[float] = []
    ok = 0
    lock = threading.Lock()

    def one(item: tuple[bytes, dict[str, str]], scheduled: float) -> None:
        nonlocal ok
        success = client.post(*item)
        elapsed = time.perf_counter() - scheduled
        with lock:
            latencies.append(elapsed)
            ok += success

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=64) as pool:
        for index, item in enumerate(bodies):
            scheduled = started + index / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one, item, scheduled)
    return _summary(name, latencies, ok, time.perf_counter() - started)


def count_orders(database_url: str) -> int:
    plain = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain) as conn:
        row = conn.execute("SELECT count(*) FROM orders").fetchone()
    return int(row[0]) if row else 0


def _print(run: Run) -> None:
    click.echo(
        f"{run.name:<22} {run.requests:>6} req {run.ok:>6} ok {run.per_second:>8.1f}/s "
        f"p50 {run.p50_ms:>7.2f} ms  p99 {run.p99_ms:>7.2f} ms  max {run.max_ms:>7.2f} ms  "
        f"server CPU {run.server_cpu_ms_per_request:>5.2f} ms/req"
    )


@click.command()
@click.option("--requests", "total", default=2000, show_default=True, help="Closed-loop requests.")
@click.option("--concurrency", default=8, show_default=True, help="Closed-loop client threads.")
@click.option("--rate", default=200.0, show_default=True, help="Fixed-rate requests per second.")
@click.option("--rate-seconds", default=5.0, show_default=True, help="Fixed-rate duration.")
def main(total: int, concurrency: int, rate: float, rate_seconds: float) -> None:
    """Benchmark the intake against a bare Flask endpoint under gunicorn (sync workers)."""
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    rate_total = max(1, int(rate * rate_seconds))
    load_before = os.getloadavg()
    warmup = 50
    with postgres_database() as database_url, redis_broker() as broker_url:
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
                client = Client(url)
                closed_loop("warm-up", client, bodies[:warmup], concurrency)
                loads = [
                    (f"{label} closed-loop", bodies[warmup : warmup + total], concurrency),
                    (f"{label} {rate:g}/s", bodies[warmup + total :], None),
                ]
                for name, batch, threads in loads:
                    cpu_before = server_cpu_seconds(pid)
                    if threads is None:
                        run = fixed_rate(name, client, batch, rate)
                    else:
                        run = closed_loop(name, client, batch, threads)
                    cpu = server_cpu_seconds(pid) - cpu_before
                    run.server_cpu_ms_per_request = round(cpu / len(batch) * 1000, 2)
                    runs.append(run)
        stored = count_orders(database_url)
        queued = redis.Redis.from_url(broker_url).llen("intake")

    bare, _, intake_run, intake_rate = runs
    for run in runs:
        _print(run)
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
