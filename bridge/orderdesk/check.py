"""``bridge stores check``: is this store's Order Desk side ready, and if not, what to fix.

A 3PL runs this while onboarding a merchant, so every problem is one plain sentence saying what is
wrong and where to fix it, never a stack trace. The checks stop early when the later ones could
only repeat the first failure (no folder check without a working key).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bridge.orderdesk.client import OrderDeskClient
from bridge.remote.errors import (
    AmbiguousOutcome,
    AuthError,
    RateLimited,
    RemoteError,
    TransientError,
)


@dataclass
class StoreCheck:
    """``folders`` maps each configured role ("in_process", "error", "cancel", "intake") to its
    folder id and ``names`` to its folder name; with several intake folders the roles are
    "intake:<name>"."""

    store_id: str
    ok: bool = True
    store_name: str = ""
    problems: list[str] = field(default_factory=list)
    folders: dict[str, int] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    def fail(self, problem: str) -> None:
        self.ok = False
        self.problems.append(problem)


def _explain(client: OrderDeskClient, exc: RemoteError) -> str:
    store = client.store_id
    if isinstance(exc, AuthError):
        return exc.message
    if isinstance(exc, RateLimited):
        return (
            f"Order Desk is rate-limiting store {store} right now; "
            f"try again in {exc.retry_after:g} seconds"
        )
    if isinstance(exc, TransientError | AmbiguousOutcome):
        return f"Order Desk at {client.base_url} is unreachable for store {store}: {exc.message}"
    return f"Order Desk refused the request for store {store}: {exc.message}"


def check_store(
    client: OrderDeskClient,
    *,
    in_process_folder: str = "In Process",
    error_folder: str | None = None,
    cancel_folder: str | None = "Canceled",
    intake_folders: Sequence[str] = (),
) -> StoreCheck:
    """Call ``GET /test`` and ``GET /store`` and resolve the store's folder names to ids."""
    result = StoreCheck(store_id=client.store_id)
    try:
        client.test()
        store = client.get_store()
    except RemoteError as exc:
        result.fail(_explain(client, exc))
        return result
    result.store_name = store.name
    wanted = {"in_process": in_process_folder, "error": error_folder, "cancel": cancel_folder}
    for name in intake_folders:
        wanted["intake" if len(intake_folders) == 1 else f"intake:{name}"] = name
    existing = ", ".join(f'"{name}"' for name in store.folders) or "none"
    for role, name in wanted.items():
        if not name:
            continue
        if name in store.folders:
            result.folders[role] = store.folders[name]
            result.names[role] = name
            continue
        use = role.split(":")[0].replace("_", " ")
        result.fail(
            f'store {client.store_id} ({store.name}) has no folder named "{name}" '
            f"(used as the {use} folder); its folders are {existing}. "
            "Create it in Order Desk under Store Settings > Folders, or change the store's "
            "folder setting in the bridge."
        )
    return result
