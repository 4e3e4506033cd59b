"""End-to-end throughput of the whole bridge under the partners' real rate limits.

Each scenario starts the real stack from the Procfile's commands (gunicorn web, one Celery worker
with N prefork processes, beat) on a fresh PostgreSQL database and a private Redis, beside the
Order Desk and ShipStation simulators as their own processes with realistic latency and their real
budgets: Order Desk's per-store bucket (burst 20, 3/s) and ShipStation's 40 requests a minute per
credential, one credential shared by every store as a 3PL often has. The Order Desk simulator
then posts a burst of orders to the intake through its Post Order JSON rule, the warehouse
simulator ships them on its own (single, multi-package and partial shapes), and the run ends when
every order is shipped in full and every package is posted to Order Desk.

Figures come from the partners' own request logs (calls per order, 429s), from the bridge's
timestamps in PostgreSQL (latencies) and from the kernel (peak RSS). Batched and naive
(``BRIDGE_NAIVE=1``) runs go side by side so the ratio shows what batching buys; naive runs a
smaller burst because one warehouse call per order at 40/min would take hours. Results go to a
JSON file and a PNG chart; every figure is printed beside its target.

    .venv/bin/python bench/pipeline.py                 # the full matrix (about half an hour)
    .venv/bin/python bench/pipeline.py --quick         # a small run that checks the script works
"""

from __future__ import annotations

import json
import os
import platform
import re
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import requests
from sqlalchemy import func, select, update
from stack import (
    Children,
    free_port,
    peak_rss_mb,
    postgres_database,
    private_redis,
    process_tree,
    wait_until,
)

from bridge import crypto, settings
from bridge.backends.shipstation import from_pacific_text
from bridge.db import session_scope
from bridge.models import Order, Shipment, Store
from bridge.sim.orderdesk.control import OrderDeskSimulatorClient
from bridge.states import OrderState
from bridge.stores.registry import StoreRegistry

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FIXTURES = ROOT / "tests" / "fixtures"
SECRET_KEY = "bench-secret-key-" + uuid.uuid4().hex
WAREHOUSE_KEY, WAREHOUSE_SECRET = "bench-ss-key", "bench-ss-secret"
FIRST_STORE_ID = 810001

TARGETS = {
    "orders_per_hour": (">=", 50_000),
    "orderdesk_calls_per_order": ("<=", 0.05),
    "warehouse_calls_per_order": ("<=", 0.05),
    "webhook_to_submitted_p95_s": ("<", 60.0),
    "steady_webhook_to_submitted_p95_s": ("<", 3.0),
    "burst_seconds": ("<=", 360.0),
    "orderdesk_429": ("==", 0),
    "warehouse_429": ("==", 0),
    "worker_peak_rss_mb": ("<", 200.0),
    "small_stores_webhook_to_submitted_p95_s": ("<", 10.0),
    "batched_over_naive": (">=", 20.0),
}


class Unfinished(RuntimeError):
    """A scenario that did not finish: what it reached is in ``partial``."""

    def __init__(self, message: str, partial: dict[str, Any]) -> None:
        super().__init__(message)
        self.partial = partial


@dataclass(frozen=True)
class Scenario:
    """One run: ``burst`` orders from the first store, then ``small_stores`` more stores sending
    ``small_orders`` each a few seconds into the burst, all on one ShipStation credential.
    With a ``rate`` the first store's orders come one by one at that many a second instead."""

    name: str
    mode: str
    workers: int
    burst: int
    small_stores: int = 0
    small_orders: int = 10
    rate: float = 0.0

    @property
    def total(self) -> int:
        return self.burst + self.small_stores * self.small_orders


@dataclass
class Options:
    orderdesk_latency: float
    warehouse_latency: float
    warehouse_per_minute: int
    ship_delay: float
    poll_interval: int
    timeout: float


@dataclass
class Result:
    scenario: Scenario
    seconds: float
    orders: int
    orders_per_hour: float
    orderdesk_calls: int
    warehouse_calls: int
    orderdesk_429: int
    warehouse_429: int
    latency: dict[str, dict[str, float]]
    small_stores_latency: dict[str, float] | None
    worker_peak_rss_mb: float
    orderdesk_calls_by_endpoint: dict[str, int] = field(default_factory=dict)
    warehouse_calls_by_endpoint: dict[str, int] = field(default_factory=dict)

    @property
    def orderdesk_calls_per_order(self) -> float:
        return self.orderdesk_calls / self.orders

    @property
    def warehouse_calls_per_order(self) -> float:
        return self.warehouse_calls / self.orders

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["orderdesk_calls_per_order"] = round(self.orderdesk_calls_per_order, 4)
        data["warehouse_calls_per_order"] = round(self.warehouse_calls_per_order, 4)
        return data


def percentiles(values: list[float]) -> dict[str, float]:
    values = [value for value in values if value == value]  # NaN: the step was not reached
    if not values:
        return {"count": 0}
    ordered = sorted(values)

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 3)

    return {
        "count": len(ordered),
        "p50": at(0.50),
        "p95": at(0.95),
        "p99": at(0.99),
        "max": round(ordered[-1], 3),
        "mean": round(statistics.fmean(ordered), 3),
    }


def sample_orders(store_number: int, count: int) -> list[dict[str, Any]]:
    typical = json.loads((FIXTURES / "order-typical.json").read_text())
    international = json.loads((FIXTURES / "order-international.json").read_text())
    orders = []
    for n in range(count):
        order = json.loads(json.dumps(international if n % 5 == 4 else typical))
        order.pop("id", None)
        order["source_id"] = f"BENCH-{store_number}-{n:05d}"
        order["shipping"]["first_name"] = f"Customer{n}"
        orders.append(order)
    return orders


class Run:
    """The stack of one scenario, from a fresh database to the measured figures."""

    def __init__(self, scenario: Scenario, options: Options, logs: Path) -> None:
        self.scenario = scenario
        self.options = options
        self.logs = logs
        self.stores = [str(FIRST_STORE_ID + n) for n in range(1 + scenario.small_stores)]

    def execute(self) -> Result:
        with postgres_database() as database, private_redis() as (redis_url, _):
            env = self._environment(database, redis_url)
            children = Children(env, self.logs, ROOT)
            try:
                return self._measure(children, database)
            except Exception:
                print(children.tails(), file=sys.stderr)
                raise
            finally:
                children.stop_all()

    def _environment(self, database: str, redis_url: str) -> dict[str, str]:
        self.od_port, self.wh_port, self.web_port = free_port(), free_port(), free_port()
        env = {
            **os.environ,
            "BRIDGE_ENV": "production",
            "BRIDGE_DATABASE_URL": database,
            "BRIDGE_BROKER_URL": redis_url,
            "BRIDGE_REDIS_URL": redis_url,
            "BRIDGE_SECRET_KEY": SECRET_KEY,
            "BRIDGE_ORDERDESK_API_URL": f"http://127.0.0.1:{self.od_port}/api/v2",
            "BRIDGE_DATA_DIR": str(self.logs / "var"),
            "BRIDGE_LOG_FORMAT": "json",
            "BRIDGE_LOG_LEVEL": "WARNING",
            "BRIDGE_METRICS_PORT": "0",
            "BRIDGE_WEB_BIND": f"127.0.0.1:{self.web_port}",
            "BRIDGE_NAIVE": "1" if self.scenario.mode == "naive" else "0",
        }
        os.environ.update({k: env[k] for k in ("BRIDGE_DATABASE_URL", "BRIDGE_SECRET_KEY")})
        settings.get_settings.cache_clear()
        crypto.get_secret_box.cache_clear()
        return env

    def _start_simulators(self, children: Children) -> OrderDeskSimulatorClient:
        opts = self.options
        sim = [str(BIN / "bridge"), "sim"]
        children.start(
            "orderdesk-sim",
            [*sim, "orderdesk", f"--port={self.od_port}", f"--latency={opts.orderdesk_latency}"],
        )
        children.start(
            "warehouse-sim",
            [
                *sim,
                "warehouse",
                "--kind=shipstation",
                f"--port={self.wh_port}",
                f"--latency={opts.warehouse_latency}",
                f"--api-key={WAREHOUSE_KEY}",
                f"--api-secret={WAREHOUSE_SECRET}",
                f"--rate-limit-per-minute={opts.warehouse_per_minute}",
                f"--auto-ship-delay={opts.ship_delay}",
                "--auto-ship-mode=mixed",
            ],
        )
        orderdesk = OrderDeskSimulatorClient(f"http://127.0.0.1:{self.od_port}")
        wait_until(lambda: orderdesk.requests() is not None, "the Order Desk simulator")
        wait_until(
            lambda: requests.get(self._warehouse_control("requests"), timeout=2).ok,
            "the warehouse simulator",
        )
        return orderdesk

    def _warehouse_control(self, path: str) -> str:
        return f"http://127.0.0.1:{self.wh_port}/_sim/{path}"

    def _warehouse_log(self) -> list[dict[str, Any]]:
        return requests.get(self._warehouse_control("requests"), timeout=30).json()["requests"]

    def _register_stores(self, orderdesk: OrderDeskSimulatorClient) -> dict[str, str]:
        keys = {}
        with session_scope() as session:
            registry = StoreRegistry(session)
            for number, store_id in enumerate(self.stores):
                keys[store_id] = f"bench-od-key-{uuid.uuid4().hex}"
                orderdesk.add_store(store_id, keys[store_id], name=f"Bench Store {number}")
                registry.add(
                    orderdesk_store_id=store_id,
                    name=f"Bench Store {number}",
                    api_key=keys[store_id],
                    backend="shipstation",
                    backend_config={
                        "base_url": f"http://127.0.0.1:{self.wh_port}",
                        "api_key": WAREHOUSE_KEY,
                        "api_secret": WAREHOUSE_SECRET,
                    },
                )
            session.execute(update(Store).values(poll_interval_seconds=self.options.poll_interval))
        return keys

    def _start_bridge(self, children: Children) -> None:
        children.start(
            "web",
            [str(BIN / "gunicorn"), "--config", "deploy/gunicorn.conf.py", "web:create_app()"],
        )
        wait_until(
            lambda: requests.get(f"http://127.0.0.1:{self.web_port}/healthz", timeout=2).ok,
            "the web process",
        )
        celery = [str(BIN / "celery"), "-A", "workers"]
        self.worker = children.start(
            "worker",
            [
                *celery,
                "worker",
                "--loglevel=WARNING",
                "--queues=intake,orderdesk,poll,maintenance",
                "--without-gossip",
                "--without-mingle",
                f"--concurrency={self.scenario.workers}",
                f"--hostname=bench-{uuid.uuid4().hex[:6]}@%h",
            ],
        )
        schedule = self.logs / "celerybeat-schedule"
        children.start("beat", [*celery, "beat", "--loglevel=WARNING", f"--schedule={schedule}"])

    def _create_orders(self, orderdesk: OrderDeskSimulatorClient) -> None:
        """Orders exist in Order Desk before the clock starts; posting the folder fires them."""
        jobs = [(self.stores[0], order) for order in sample_orders(0, self.scenario.burst)]
        for number, store_id in enumerate(self.stores[1:], start=1):
            jobs += [(store_id, o) for o in sample_orders(number, self.scenario.small_orders)]

        def create(store_id: str, order: dict[str, Any]) -> str:
            return orderdesk.create_order(store_id, order, folder_name="New", fire_rule=False)["id"]

        with ThreadPoolExecutor(8) as pool:
            self.first_store_orders = list(pool.map(lambda job: create(*job), jobs))[
                : self.scenario.burst
            ]

    def _post(self, orderdesk: OrderDeskSimulatorClient) -> int:
        """Fire the rule: the whole folder at once, or order by order at the scenario's rate."""
        if not self.scenario.rate:
            return orderdesk.post_folder(self.stores[0], "New")
        start = time.monotonic()
        for index, order_id in enumerate(self.first_store_orders):
            time.sleep(max(0.0, start + index / self.scenario.rate - time.monotonic()))
            orderdesk.post_order(self.stores[0], order_id)
        return len(self.first_store_orders)

    def _measure(self, children: Children, database: str) -> Result:
        orderdesk = self._start_simulators(children)
        self._register_stores(orderdesk)
        self._start_bridge(children)
        self._create_orders(orderdesk)
        intake = f"http://127.0.0.1:{self.web_port}/webhooks/orderdesk"
        for store_id in self.stores:
            orderdesk.configure_rule(store_id, intake, retry_delays=[2.0] * 9)
        orderdesk.reset_log()
        self.warehouse_log_start = len(self._warehouse_log())
        started = time.time()
        posted = self._post(orderdesk)
        if self.scenario.small_stores:
            time.sleep(3)
            posted += sum(orderdesk.post_folder(store_id, "New") for store_id in self.stores[1:])
        if posted != self.scenario.total:
            raise RuntimeError(f"Order Desk posted {posted} orders, not {self.scenario.total}")
        try:
            self._wait_for_everything(started)
        except RuntimeError as exc:
            latency, small = self._latencies()
            partial = {"states": state_counts(), "latency": latency, "small_stores_latency": small}
            raise Unfinished(str(exc), partial) from exc
        seconds = self._finished_at() - started
        return self._figures(orderdesk, seconds)

    def _wait_for_everything(self, started: float) -> None:
        total, last_report = self.scenario.total, 0.0
        while True:
            counts = state_counts()
            if counts.get(OrderState.SHIPPED.value, 0) == total and unposted() == 0:
                return
            elapsed = time.time() - started
            if elapsed > self.options.timeout:
                raise RuntimeError(f"not done after {elapsed:.0f} s: {dict(counts)}")
            if elapsed - last_report >= 15:
                last_report = elapsed
                shown = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
                print(f"    {elapsed:5.0f} s  {shown}", flush=True)
            if self.worker.popen.poll() is not None:
                raise RuntimeError("the worker exited during the run")
            time.sleep(1)

    def _finished_at(self) -> float:
        with session_scope() as session:
            last = session.scalar(select(func.max(Shipment.posted_at)))
        return last.timestamp()

    def _figures(self, orderdesk: OrderDeskSimulatorClient, seconds: float) -> Result:
        od = orderdesk.requests()
        wh = warehouse_calls(self._warehouse_log()[self.warehouse_log_start :])
        latency, small = self._latencies()
        rss = [peak_rss_mb(pid) or 0.0 for pid in process_tree(self.worker.popen.pid)]
        total = self.scenario.total
        return Result(
            scenario=self.scenario,
            seconds=round(seconds, 1),
            orders=total,
            orders_per_hour=round(total / seconds * 3600),
            orderdesk_calls=od["total"],
            warehouse_calls=wh["total"],
            orderdesk_429=od["count_429"],
            warehouse_429=wh["count_429"],
            latency=latency,
            small_stores_latency=small,
            worker_peak_rss_mb=round(max(rss), 1),
            orderdesk_calls_by_endpoint=by_endpoint(od["calls"]),
            warehouse_calls_by_endpoint=wh["calls"],
        )

    def _latencies(self) -> tuple[dict[str, dict[str, float]], dict[str, float] | None]:
        shipped = warehouse_ship_times(
            requests.get(self._warehouse_control("orders"), timeout=30).json()["orders"]
        )
        with session_scope() as session:
            rows = session.execute(
                select(
                    Order.id,
                    Order.idempotency_key,
                    Order.created_at,
                    Order.submitted_at,
                    Order.in_process_at,
                    Store.orderdesk_store_id,
                ).join(Store, Store.id == Order.store_id)
            ).all()
            posted = dict(
                session.execute(
                    select(Shipment.order_id, func.max(Shipment.posted_at)).group_by(
                        Shipment.order_id
                    )
                ).all()
            )
        submitted, in_process, to_posted, small = [], [], [], []
        for row in rows:
            wait = seconds_between(row.created_at, row.submitted_at)
            submitted.append(wait)
            if row.orderdesk_store_id != self.stores[0]:
                small.append(wait)
            in_process.append(seconds_between(row.created_at, row.in_process_at))
            if row.idempotency_key in shipped and row.id in posted:
                to_posted.append(seconds_between(shipped[row.idempotency_key], posted[row.id]))
        latency = {
            "webhook_to_submitted_s": percentiles(submitted),
            "webhook_to_in_process_s": percentiles(in_process),
            "shipped_to_posted_s": percentiles(to_posted),
        }
        return latency, percentiles(small) if small else None


def seconds_between(start: datetime | None, end: datetime | None) -> float:
    if start is None or end is None:
        return float("nan")
    return (end - start).total_seconds()


def state_counts() -> dict[str, int]:
    with session_scope() as session:
        return dict(session.execute(select(Order.state, func.count()).group_by(Order.state)).all())


def unposted() -> int:
    with session_scope() as session:
        return session.scalar(
            select(func.count()).select_from(Shipment).where(Shipment.posted_at.is_(None))
        )


def warehouse_calls(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The warehouse simulator's request log reduced to what the bench reports."""
    calls = Counter(f"{record['method']} {record['path']}" for record in records)
    return {
        "total": len(records),
        "count_429": sum(1 for record in records if record["status"] == 429),
        "calls": by_endpoint(calls),
    }


def by_endpoint(calls: Mapping[str, int]) -> dict[str, int]:
    """Calls per endpoint with ids folded (``POST /orders/{id}/order-history``), most first."""
    folded: Counter[str] = Counter()
    for name, count in calls.items():
        folded[re.sub(r"/\d+(?=/|$)", "/{id}", name)] += count
    return dict(folded.most_common())


def warehouse_ship_times(orders: list[dict[str, Any]]) -> dict[str, datetime]:
    """When the warehouse last shipped each order (its key), from ShipStation's own rendering."""
    times = {}
    for order in orders:
        when = from_pacific_text(order.get("shipDate"))
        if when is not None:
            times[order["orderKey"]] = when
    return times


def meets(name: str, value: float) -> str:
    operator, target = TARGETS[name]
    passed = {
        ">=": value >= target,
        "<=": value <= target,
        "<": value < target,
        "==": value == target,
    }[operator]
    return f"target {operator} {target:g}: {'met' if passed else 'MISSED'}"


def show(result: Result) -> None:
    s = result.scenario
    submitted = result.latency["webhook_to_submitted_s"]
    print(f"  {s.name}: {result.orders} orders in {result.seconds:.0f} s")
    p95_target = "steady_webhook_to_submitted_p95_s" if s.rate else "webhook_to_submitted_p95_s"
    rows = [
        ("orders_per_hour", result.orders_per_hour, f"{result.orders_per_hour:,.0f} orders/hour"),
        (
            "burst_seconds",
            result.seconds,
            f"{result.seconds:.0f} s, webhook to last package posted",
        ),
        (
            "orderdesk_calls_per_order",
            result.orderdesk_calls_per_order,
            f"{result.orderdesk_calls_per_order:.3f} Order Desk calls/order",
        ),
        (
            "warehouse_calls_per_order",
            result.warehouse_calls_per_order,
            f"{result.warehouse_calls_per_order:.3f} warehouse calls/order",
        ),
        ("orderdesk_429", result.orderdesk_429, f"{result.orderdesk_429} Order Desk 429s"),
        ("warehouse_429", result.warehouse_429, f"{result.warehouse_429} warehouse 429s"),
        (
            p95_target,
            submitted.get("p95", float("nan")),
            f"webhook->submitted p50 {submitted.get('p50')} s, p95 {submitted.get('p95')} s,"
            f" p99 {submitted.get('p99')} s",
        ),
        (
            "worker_peak_rss_mb",
            result.worker_peak_rss_mb,
            f"{result.worker_peak_rss_mb:.0f} MB worker peak RSS",
        ),
    ]
    if result.small_stores_latency:
        small = result.small_stores_latency
        rows.append(
            (
                "small_stores_webhook_to_submitted_p95_s",
                small["p95"],
                f"small stores webhook->submitted p95 {small['p95']} s",
            )
        )
    if s.rate:
        # A trickle says nothing about capacity: only its latency and costs are measured.
        rows = [row for row in rows if row[0] not in ("orders_per_hour", "burst_seconds")]
    for name, value, text in rows:
        print(f"    {text:<62} {meets(name, value)}")
    for name in ("webhook_to_in_process_s", "shipped_to_posted_s"):
        figures = result.latency[name]
        print(
            f"    {name.replace('_s', '').replace('_', ' ')}: p50 {figures.get('p50')} s,"
            f" p95 {figures.get('p95')} s, p99 {figures.get('p99')} s"
        )


def chart(results: list[Result], path: Path) -> None:
    """Throughput against worker processes, and each run's webhook->submitted distribution."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for mode in ("batched", "naive"):
        runs = sorted(
            (
                r
                for r in results
                if r.scenario.mode == mode and not r.scenario.small_stores and not r.scenario.rate
            ),
            key=lambda r: r.scenario.workers,
        )
        if runs:
            left.plot(
                [r.scenario.workers for r in runs],
                [r.orders_per_hour for r in runs],
                marker="o",
                label=mode,
            )
    left.axhline(TARGETS["orders_per_hour"][1], linestyle="--", color="grey", label="target")
    left.set_xlabel("worker processes")
    left.set_ylabel("orders per hour, end to end")
    left.set_title("Throughput under the partners' limits")
    left.legend()
    labels, values = [], []
    for result in results:
        submitted = result.latency["webhook_to_submitted_s"]
        if submitted.get("count"):
            labels.append(result.scenario.name)
            values.append([submitted["p50"], submitted["p95"], submitted["p99"], submitted["max"]])
    for index, (label, figures) in enumerate(zip(labels, values, strict=True)):
        right.plot(["p50", "p95", "p99", "max"], figures, marker="o", label=label)
        del index
    right.set_yscale("log")
    right.set_ylabel("seconds")
    right.set_title("webhook -> submitted")
    right.legend(fontsize="small")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def scenarios(
    orders: int, naive_orders: int, workers: list[int], stores: int, steady: int
) -> list[Scenario]:
    most = max(workers)
    runs = [Scenario(f"batched-{w}w", "batched", w, orders) for w in workers]
    if steady:
        runs.append(Scenario(f"steady-1-per-s-{most}w", "batched", most, steady, rate=1.0))
    if naive_orders:
        runs.append(Scenario(f"naive-{most}w", "naive", most, naive_orders))
        runs.append(Scenario(f"batched-{most}w-same-size-as-naive", "batched", most, naive_orders))
    if stores > 1:
        runs.append(Scenario(f"{stores}-stores-{most}w", "batched", most, orders, stores - 1))
    return runs


@click.command()
@click.option("--orders", default=5000, show_default=True, help="Orders in the burst.")
@click.option(
    "--naive-orders",
    default=200,
    show_default=True,
    help="Orders in the naive run (one warehouse call per order at 40/min is slow); 0: none.",
)
@click.option("--workers", default="1,2,4", show_default=True, help="Worker processes to try.")
@click.option(
    "--stores",
    default=10,
    show_default=True,
    help="Stores in the fairness run: one bursts, the others send 10 orders each; 1: none.",
)
@click.option(
    "--steady",
    default=120,
    show_default=True,
    help="Orders in the steady run at 1 order/s (latency at a trickle); 0: none.",
)
@click.option("--orderdesk-latency", default=0.08, show_default=True)
@click.option("--warehouse-latency", default=0.15, show_default=True)
@click.option("--warehouse-per-minute", default=40, show_default=True)
@click.option(
    "--ship-delay", default=5.0, show_default=True, help="Seconds until the warehouse ships."
)
@click.option("--poll-interval", default=10, show_default=True, help="Store poll interval (s).")
@click.option("--timeout", default=1800.0, show_default=True, help="Give up a run after (s).")
@click.option("--quick", is_flag=True, help="A small run (CI): 40 orders, 1 worker, 3 stores.")
@click.option(
    "--out", default=ROOT / "bench" / "results" / "pipeline.json", type=click.Path(path_type=Path)
)
@click.option(
    "--chart-path",
    default=ROOT / "bench" / "results" / "pipeline.png",
    type=click.Path(path_type=Path),
)
def main(
    orders: int,
    naive_orders: int,
    workers: str,
    stores: int,
    steady: int,
    orderdesk_latency: float,
    warehouse_latency: float,
    warehouse_per_minute: int,
    ship_delay: float,
    poll_interval: int,
    timeout: float,
    quick: bool,
    out: Path,
    chart_path: Path,
) -> None:
    """Run the bridge end to end under Order Desk's and ShipStation's real limits."""
    # A SIGTERM (timeout, CI) must unwind the runs so their processes and databases go too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))
    if quick:
        orders, naive_orders, workers, stores, steady = 40, 10, "1", 3, 10
    options = Options(
        orderdesk_latency=orderdesk_latency,
        warehouse_latency=warehouse_latency,
        warehouse_per_minute=warehouse_per_minute,
        ship_delay=ship_delay,
        poll_interval=poll_interval,
        timeout=timeout,
    )
    worker_counts = [int(n) for n in workers.split(",")]
    results: list[Result] = []
    unfinished: list[dict[str, Any]] = []
    for scenario in scenarios(orders, naive_orders, worker_counts, stores, steady):
        print(f"{scenario.name}: {scenario.total} orders, {scenario.workers} worker processes")
        with tempfile.TemporaryDirectory(prefix="bridge-bench-") as logs:
            try:
                results.append(Run(scenario, options, Path(logs)).execute())
            except Unfinished as exc:
                # The other scenarios still count: this one is reported with what it reached.
                unfinished.append({"scenario": asdict(scenario), "error": str(exc)} | exc.partial)
                print(f"  {scenario.name} DID NOT FINISH: {exc}\n    reached: {exc.partial}")
                write_report(out, chart_path, options, results, unfinished)
                continue
        show(results[-1])
        write_report(out, chart_path, options, results, unfinished)
    comparison, capacity = batched_over_naive(results), capacity_over_naive(results)
    if comparison is not None and capacity is not None:
        print(
            f"  batched / naive throughput: {comparison:.1f}x at the same size"
            f" ({meets('batched_over_naive', comparison)}),"
            f" {capacity:.1f}x at full load ({meets('batched_over_naive', capacity)})"
        )
    print(f"wrote {out} and {chart_path}")
    if unfinished:
        sys.exit(f"{len(unfinished)} scenario(s) did not finish: see {out}")


def write_report(
    out: Path,
    chart_path: Path,
    options: Options,
    results: list[Result],
    unfinished: list[dict[str, Any]],
) -> None:
    """The JSON and the chart of what has run so far: a later scenario that fails or is
    stopped does not take the earlier figures with it."""
    report = {
        "when": datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "options": asdict(options),
        "targets": {name: {"op": op, "value": value} for name, (op, value) in TARGETS.items()},
        "runs": [result.to_dict() for result in results],
        "unfinished": unfinished,
        "batched_over_naive": batched_over_naive(results),
        "batched_capacity_over_naive": capacity_over_naive(results),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str))
    chart(results, chart_path)


def batched_over_naive(results: list[Result]) -> float | None:
    """Throughput ratio at the same size and worker count, so the ratio is batching alone.

    At the naive run's small size the fixed delays (the warehouse's ship delay, the poll
    interval) weigh on both runs alike, so this understates what batching buys under load."""
    naive = next((r for r in results if r.scenario.mode == "naive"), None)
    batched = next((r for r in results if r.scenario.name.endswith("same-size-as-naive")), None)
    if naive is None or batched is None:
        return None
    return round(batched.orders_per_hour / naive.orders_per_hour, 2)


def capacity_over_naive(results: list[Result]) -> float | None:
    """The best burst throughput batched over the naive mode's: each at full load. Naive mode
    spends a warehouse call per order, so its throughput is the warehouse budget's and does
    not grow with the burst; batched mode's does until the budget binds."""
    naive = next((r for r in results if r.scenario.mode == "naive"), None)
    bursts = [
        r
        for r in results
        if r.scenario.mode == "batched" and not r.scenario.rate and not r.scenario.small_stores
    ]
    if naive is None or not bursts:
        return None
    return round(max(r.orders_per_hour for r in bursts) / naive.orders_per_hour, 2)


if __name__ == "__main__":
    main()
