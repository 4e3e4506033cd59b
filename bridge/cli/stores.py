"""``bridge stores``: the store registry. Keys go in, never come out."""

from __future__ import annotations

from typing import Any

import click

from bridge.backends.errors import UnknownBackend
from bridge.backends.registry import backend_class
from bridge.cli.errors import require_redis
from bridge.cli.output import Column, json_option, print_fields, print_json, print_table
from bridge.cli.secret_input import (
    API_KEY_ENV,
    ASK,
    BACKEND_CONFIG_ENV,
    read_api_key,
    read_backend_config,
    refuse_two_stdin_readers,
)
from bridge.db import session_scope
from bridge.models import HistoryNotes
from bridge.orderdesk.check import check_store
from bridge.pipeline.inventory import sync_inventory
from bridge.pipeline.reconcile import intake_folder_names
from bridge.remote.errors import RemoteError
from bridge.stores.context import StoreContext
from bridge.stores.pause import pause_store, resume_store
from bridge.stores.registry import StoreError, StoreRegistry

ACTOR = "cli"


def _settings_options(func: Any) -> Any:
    for option in reversed(
        [
            click.option("--in-process-folder", help="Order Desk folder for accepted orders."),
            click.option("--error-folder", help="Order Desk folder for parked orders."),
            click.option("--cancel-folder", help="A post from this folder means: cancel."),
            click.option(
                "--intake-folder",
                help="Folder(s) the Post Order JSON rule fires on, comma-separated (default "
                '"New"); reconciliation lists them for orders whose webhook was lost.',
            ),
            click.option("--poll-interval", "poll_interval_seconds", type=int, help="Seconds."),
            click.option(
                "--inventory-sync/--no-inventory-sync",
                "inventory_sync",
                default=None,
                help="Push the warehouse's sellable stock to Order Desk inventory on a schedule "
                "(off unless turned on; backends that report stock only).",
            ),
            click.option(
                "--inventory-interval",
                "inventory_interval_seconds",
                type=int,
                help="Seconds between inventory syncs (default BRIDGE_INVENTORY_INTERVAL_SECONDS).",
            ),
            click.option(
                "--history-notes",
                type=click.Choice([policy.value for policy in HistoryNotes]),
                help="History notes written on the store's orders in Order Desk: all, problems "
                "(parked, failed, cancel outcomes, changes after submission; the default) or off. "
                "Each note spends a request of the store's Order Desk budget.",
            ),
        ]
    ):
        func = option(func)
    return func


@click.group("stores")
def group() -> None:
    """Register and manage merchants' Order Desk stores."""


def _secret_fields(backend: str) -> set[str]:
    try:
        return set(backend_class(backend).config_model.secret_fields())
    except UnknownBackend:
        return set()  # the registry refuses the name itself, with the installed ones listed


def _api_key_option(help_text: str, default: str | None) -> Any:
    return click.option(
        "--api-key",
        is_flag=False,
        flag_value=ASK,
        default=default,
        show_default=False,
        metavar="[-|KEY]",
        help=f"{help_text} `-` reads it from standard input; no value: from {API_KEY_ENV} or a "
        "hidden prompt. A KEY typed here is visible to other users (unsafe).",
    )


def _backend_config_option(help_text: str, default: str | None) -> Any:
    return click.option(
        "--backend-config",
        is_flag=False,
        flag_value=ASK,
        default=default,
        show_default=False,
        metavar="[-|@FILE|JSON]",
        help=f"{help_text} `-` reads standard input, @FILE a file; no value: "
        f"{BACKEND_CONFIG_ENV}. Secrets typed as JSON here are visible to other users (unsafe).",
    )


@group.command()
@click.option("--store-id", required=True, help="Order Desk store id (Settings > API).")
@click.option("--name", required=True)
@_api_key_option("Order Desk API key; stored encrypted. Default: ask.", ASK)
@click.option("--backend", required=True, help="Warehouse backend (see `bridge backends list`).")
@_backend_config_option("JSON object of the warehouse settings.", ASK)
@_settings_options
def add(
    store_id: str,
    name: str,
    api_key: str,
    backend: str,
    backend_config: str,
    **options: Any,
) -> None:
    """Register a store."""
    refuse_two_stdin_readers(api_key, backend_config)
    config = read_backend_config(backend_config, _secret_fields(backend), env_required=False)
    key = read_api_key(api_key) or ""
    with session_scope() as session:
        StoreRegistry(session).add(
            orderdesk_store_id=store_id,
            name=name,
            api_key=key,
            backend=backend,
            backend_config=config or {},
            **options,
        )
    click.echo(f"store {store_id} added")


STORE_COLUMNS = (
    Column("store_id", "STORE ID"),
    Column("name", "NAME", max_width=24),
    Column("backend", "BACKEND"),
    Column("active", "ACTIVE"),
    Column("paused", "PAUSED"),
    Column("api_key", "API KEY"),
)


@group.command("list")
@json_option
def list_(as_json: bool) -> None:
    """List stores (keys masked)."""
    with session_scope() as session:
        registry = StoreRegistry(session)
        rows = [registry.describe(store) for store in registry.list()]
    if as_json:
        print_json(rows)
        return
    print_table(STORE_COLUMNS, rows, empty="no stores registered")


@group.command()
@click.argument("store_id")
@json_option
def show(store_id: str, as_json: bool) -> None:
    """Show one store's settings (secrets masked)."""
    with session_scope() as session:
        registry = StoreRegistry(session)
        view = registry.describe(registry.get(store_id))
    if as_json:
        print_json(view)
        return
    print_fields(view)


@group.command()
@click.argument("store_id")
@click.option("--name")
@_api_key_option("Replace the Order Desk API key.", None)
@click.option("--backend")
@_backend_config_option("JSON object merged into the config.", None)
@click.option("--enable", "active", flag_value=True, default=None, help="Re-enable the store.")
@_settings_options
def update(store_id: str, api_key: str | None, backend_config: str | None, **changes: Any) -> None:
    """Change a store's settings."""
    if api_key is None and backend_config is None and all(v is None for v in changes.values()):
        raise StoreError("nothing to update: give at least one option")
    refuse_two_stdin_readers(api_key, backend_config)
    key = read_api_key(api_key)
    with session_scope() as session:
        registry = StoreRegistry(session)
        backend = changes.get("backend") or registry.get(store_id).backend
        config = read_backend_config(backend_config, _secret_fields(backend), env_required=True)
        registry.update(store_id, api_key=key, backend_config=config, **changes)
    click.echo(f"store {store_id} updated")


@group.command()
@click.argument("store_id")
def disable(store_id: str) -> None:
    """Stop accepting and processing orders for a store (its history is kept)."""
    with session_scope() as session:
        StoreRegistry(session).disable(store_id)
    click.echo(f"store {store_id} disabled")


@group.command()
@click.argument("store_id")
def pause(store_id: str) -> None:
    """Hold back a store's submissions; its webhooks are still taken in and stored."""
    with session_scope() as session:
        result = pause_store(session, store_id, ACTOR)
    if not result.changed:
        click.echo(f"store {store_id} was already paused ({result.waiting} order(s) waiting)")
        return
    click.echo(
        f"store {store_id} paused: nothing goes to the warehouse until `bridge stores resume "
        f"{store_id}` ({result.waiting} order(s) waiting)"
    )


@group.command()
@click.argument("store_id")
def resume(store_id: str) -> None:
    """Resume a paused store and send its waiting orders for submission."""
    with session_scope() as session:
        result = resume_store(session, store_id, ACTOR)
    if not result.changed:
        click.echo(f"store {store_id} is not paused")
        return
    click.echo(f"store {store_id} resumed: {result.waiting} waiting order(s) sent for submission")


@group.command("sync-inventory")
@click.argument("store_id")
@json_option
def sync_inventory_now(store_id: str, as_json: bool) -> None:
    """Push the store's changed stock levels to Order Desk now; print the counts."""
    require_redis()
    with session_scope() as session:
        store = StoreRegistry(session).get(store_id)
        row_id, enabled = store.id, store.inventory_sync
    if not enabled:
        raise StoreError(
            f"inventory sync is off for store {store_id}; turn it on with "
            f"`bridge stores update {store_id} --inventory-sync`"
        )
    result = sync_inventory(row_id)
    if as_json:
        print_json(result.to_dict())
        return
    if result.skipped:
        click.echo(f"store {store_id}: nothing synced ({result.skipped})")
        return
    click.echo(
        f"store {store_id}: {result.sent} level(s) sent, {result.unchanged} unchanged, "
        f"{result.refused} refused by Order Desk"
    )


@group.command()
@click.argument("store_id")
def check(store_id: str) -> None:
    """Check a store's Order Desk key, its folders and its warehouse connection."""
    require_redis()
    with session_scope() as session:
        store = StoreRegistry(session).get(store_id)
        context = StoreContext.from_row(session, store)
        intake_folders = intake_folder_names(store.intake_folder)
    with context.orderdesk() as client:
        result = check_store(
            client,
            in_process_folder=context.in_process_folder,
            error_folder=context.error_folder,
            cancel_folder=context.cancel_folder,
            intake_folders=intake_folders,
        )
    if result.ok:
        # The folders this store uses, by the names the pipeline and intake look up.
        folders = {result.names[role]: str(fid) for role, fid in result.folders.items()}
        with session_scope() as session:
            StoreRegistry(session).get(store_id).orderdesk_folders = folders
    problems = list(result.problems)
    try:
        with context.backend() as backend:
            backend.healthcheck()
    except RemoteError as exc:
        problems.append(f"warehouse ({context.backend_name}): {exc}")
    if problems:
        for problem in problems:
            click.echo(f"problem: {problem}")
        raise click.ClickException(f"store {store_id} is not ready ({len(problems)} problem(s))")
    click.echo(
        f"store {store_id} ({result.store_name}) is ready: Order Desk key accepted, folders "
        + ", ".join(f"{role}={fid}" for role, fid in result.folders.items())
        + f"; warehouse {context.backend_name} reachable"
    )
