"""One ``bridge dev`` run, start to finish.

1. Empty the run state in the data folder, pick ports, and build the dev environment.
2. Start both simulators; migrate the database and register the demo store against them.
3. Start the web app, a worker, beat and Flower; wait until each says it is ready.
4. Create the demo orders in the Order Desk simulator; its rule posts them to our intake.
5. Show progress until Ctrl-C (or, with ``--once``, until every order is shipped or the deadline
   passes), then stop every child: SIGTERM, a grace period, SIGKILL.

A stop request (Ctrl-C or SIGTERM to ``bridge dev``) is an event that every wait checks, so the
run stops cleanly from any step, including the start-up.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests
from rich.console import Console
from rich.markup import escape

from bridge.devrun import bootstrap, children
from bridge.devrun.progress import ProgressDisplay, Snapshot, read_snapshot
from bridge.devrun.samples import sample_orders
from bridge.devrun.supervisor import Child, Supervisor, free_port
from bridge.sim.orderdesk import OrderDeskSimulatorClient

READY_TIMEOUT_SECONDS = 60.0
REFRESH_SECONDS = 0.5
INTERRUPTED = 130
# Flower reads task events, which the filesystem broker carries; its worker inspection and
# Broker page need remote control replies and queue stats that only Redis provides.
FLOWER_NOTE = "tasks from events; the Broker page and worker inspection need Redis"


def default_timeout(orders: int) -> float:
    """Generous: a slow machine still finishes, a stuck pipeline still ends the run."""
    return 60.0 + 6.0 * orders


@dataclass(frozen=True)
class DevOptions:
    data_dir: Path
    orders: int = 25
    once: bool = False
    port: int | None = None
    timeout: float | None = None
    seed: int = 0
    # The worker's /metrics port; None: no metrics server (see bootstrap.dev_environment).
    metrics_port: int | None = None


class DevRunError(RuntimeError):
    """The run cannot go on; the message says what broke and where its log is."""


class Interrupted(Exception):
    """Ctrl-C or SIGTERM arrived while starting up."""


class DevRun:
    def __init__(self, options: DevOptions, console: Console, stop: threading.Event) -> None:
        self.options = options
        self.console = console
        self.stop = stop
        self.paths = bootstrap.DevPaths(options.data_dir.resolve())
        self.supervisor: Supervisor | None = None

    def run(self) -> int:
        """Exit status: 0 when done, 1 when something broke or got stuck, 130 if ``--once`` was
        stopped before its batch shipped."""
        try:
            return self._run()
        except Interrupted:
            return self._interrupted_status
        except (DevRunError, requests.RequestException) as exc:
            self.console.print(f"[bold red]bridge dev:[/] {escape(str(exc))}", highlight=False)
            return 1
        finally:
            self._stop_children()

    # -- steps -----------------------------------------------------------------------------

    def _run(self) -> int:
        paths = self.paths
        bootstrap.reset_run_state(paths)
        ports = children.Ports(
            web=self.options.port or free_port(),
            orderdesk=free_port(),
            warehouse=free_port(),
            flower=free_port(),
        )
        orderdesk = OrderDeskSimulatorClient(ports.url(ports.orderdesk))
        warehouse_url = ports.url(ports.warehouse)
        admin = bootstrap.admin_password(paths)
        env = bootstrap.dev_environment(
            os.environ, paths, orderdesk.api_url, self.options.metrics_port or 0
        )
        bootstrap.apply_to_this_process(env)
        self.supervisor = Supervisor(paths.log_dir, env)
        self.console.print(f"Data folder {paths.data_dir}; child logs in {paths.log_dir}/")

        store = self._start_simulators(ports, orderdesk, admin)
        self._start_bridge(ports, admin)
        links = self._links(ports, orderdesk, warehouse_url)
        if not self.console.is_terminal:
            for label, where in links:
                self.console.print(f"{label:<22}{where}", highlight=False)

        started = time.monotonic()
        order_ids = self._post_orders(orderdesk, store.store_id)
        return self._watch(orderdesk, store.store_id, order_ids, links, started)

    def _start_simulators(
        self, ports: children.Ports, orderdesk: OrderDeskSimulatorClient, admin: str
    ) -> bootstrap.DemoStore:
        """Both simulators up, the database migrated with its admin user, the demo store known
        to all three."""
        warehouse_url = ports.url(ports.warehouse)
        self._start("orderdesk-sim", children.orderdesk_sim(ports))
        self._start("warehouse-sim", children.warehouse_sim(ports))
        self._wait_ready(
            {
                "orderdesk-sim": children.answers_http(f"{orderdesk.base_url}/_sim/requests"),
                "warehouse-sim": children.answers_http(f"{warehouse_url}/_sim/requests"),
            }
        )
        store = bootstrap.prepare_database(warehouse_url, admin)
        webhook = f"{ports.url(ports.web)}/webhooks/orderdesk"
        bootstrap.configure_orderdesk(orderdesk, store, webhook)
        bootstrap.configure_warehouse(warehouse_url)
        return store

    def _start_bridge(self, ports: children.Ports, admin: str) -> None:
        """The web app, a worker, beat and Flower, each ready before the first order is sent."""
        web_url = ports.url(ports.web)
        self._start("web", children.web(ports))
        self._start("worker", children.worker())
        self._start("beat", children.beat(self.paths.beat_schedule))
        flower_auth = {"FLOWER_BASIC_AUTH": f"{bootstrap.ADMIN_USER}:{admin}"}
        self._start("flower", children.flower(ports), flower_auth)
        self._wait_ready(
            {
                "web": children.answers_http(f"{web_url}/healthz", (200,)),
                "worker": children.WORKER_READY,
                "beat": children.BEAT_READY,
                "flower": children.answers_http(ports.url(ports.flower)),
            }
        )

    def _start(self, name: str, argv: list[str], extra_env: dict[str, str] | None = None) -> None:
        assert self.supervisor is not None
        self.supervisor.start(name, argv, extra_env)

    def _wait_ready(self, checks: dict[str, Callable[[Child], bool]]) -> None:
        assert self.supervisor is not None
        pending = dict(checks)
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while pending:
            if self.stop.is_set():
                raise Interrupted
            self._check_alive()
            for name, check in list(pending.items()):
                if check(self.supervisor.get(name)):
                    del pending[name]
            if pending and time.monotonic() > deadline:
                late = ", ".join(sorted(pending))
                raise DevRunError(
                    f"{late} did not get ready within {READY_TIMEOUT_SECONDS:.0f}s; "
                    f"see the logs in {self.paths.log_dir}/"
                )
            if pending:
                self.stop.wait(0.2)

    def _check_alive(self) -> None:
        assert self.supervisor is not None
        for child in self.supervisor.exited():
            raise DevRunError(
                f"{child.name} stopped unexpectedly (exit status {child.exit_code()}); "
                f"the end of {child.log_path}:\n{child.log_tail()}"
            )

    def _links(
        self,
        ports: children.Ports,
        orderdesk: OrderDeskSimulatorClient,
        warehouse_url: str,
    ) -> list[tuple[str, str]]:
        web_url = ports.url(ports.web)
        login = f"user {bootstrap.ADMIN_USER}, password in {self.paths.admin_password_file}"
        return [
            ("Web (intake, health)", f"{web_url}/healthz"),
            ("Admin pages", f"{web_url}/admin  ({login})"),
            ("Flower", f"{ports.url(ports.flower)}  (same login; {FLOWER_NOTE})"),
            *(
                [("Worker metrics", f"{ports.url(self.options.metrics_port)}/metrics")]
                if self.options.metrics_port
                else []
            ),
            ("Order Desk simulator", f"{orderdesk.api_url}  (controls under /_sim/)"),
            ("Warehouse simulator", f"{warehouse_url}  (controls under /_sim/)"),
            ("Logs", f"{self.paths.log_dir}/"),
        ]

    def _post_orders(self, orderdesk: OrderDeskSimulatorClient, store_id: str) -> list[str]:
        """Create the batch in the Order Desk simulator; its rule posts each one to the intake."""
        ids = []
        for order in sample_orders(self.options.orders, seed=self.options.seed):
            if self.stop.is_set():
                break
            ids.append(str(orderdesk.create_order(store_id, order)["id"]))
        self.console.print(f"Posted {len(ids)} orders from the Order Desk simulator.")
        return ids

    def _watch(
        self,
        orderdesk: OrderDeskSimulatorClient,
        store_id: str,
        order_ids: list[str],
        links: list[tuple[str, str]],
        started: float,
    ) -> int:
        timeout = self.options.timeout or default_timeout(len(order_ids))
        announced = False
        with ProgressDisplay(self.console, links) as display:
            while not self.stop.is_set():
                snapshot = read_snapshot(store_id, order_ids)
                elapsed = time.monotonic() - started
                display.update(snapshot, elapsed)
                if self.options.once and (snapshot.all_shipped or elapsed > timeout):
                    break
                if snapshot.all_shipped and not announced:
                    announced = True
                    self._summary(orderdesk, snapshot, elapsed)
                self._check_alive()
                self.stop.wait(REFRESH_SECONDS)
        if self.stop.is_set():
            return self._interrupted_status
        if snapshot.all_shipped:
            self._summary(orderdesk, snapshot, elapsed)
            return 0
        self._report_stuck(snapshot, timeout)
        return 1

    @property
    def _interrupted_status(self) -> int:
        """Stopped by the user: fine for a session, but ``--once`` did not finish its batch."""
        return INTERRUPTED if self.options.once else 0

    def _summary(
        self, orderdesk: OrderDeskSimulatorClient, snapshot: Snapshot, elapsed: float
    ) -> None:
        calls = orderdesk.requests()
        per_order = calls["total"] / snapshot.total if snapshot.total else 0.0
        self.console.print(
            f"All {snapshot.total} orders shipped in {elapsed:.1f}s: "
            f"{calls['total']} Order Desk API calls ({per_order:.2f} per order), "
            f"{calls['count_429']} answered 429.",
            highlight=False,
        )

    def _report_stuck(self, snapshot: Snapshot, timeout: float) -> None:
        stuck = snapshot.unfinished()
        self.console.print(
            f"[bold red]{len(stuck)} of {snapshot.total} orders not shipped after "
            f"{timeout:.0f}s:[/]",
            highlight=False,
        )
        for order in stuck:
            why = order.last_error or order.reason or "no error recorded"
            self.console.print(
                f"  Order Desk order {order.orderdesk_order_id}: {order.state} ({why})",
                highlight=False,
                markup=False,
            )
        self.console.print(f"Child logs: {self.paths.log_dir}/", highlight=False)

    def _stop_children(self) -> None:
        if self.supervisor is None or not self.supervisor.children:
            return
        self.console.print("Stopping every child process...")
        codes = self.supervisor.stop()
        killed = [name for name, code in codes.items() if code == -signal.SIGKILL]
        suffix = f" (killed after the grace period: {', '.join(killed)})" if killed else ""
        self.console.print(f"Stopped {len(codes)} child processes{suffix}.")
