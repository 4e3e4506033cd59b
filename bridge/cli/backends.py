"""``bridge backends``: which warehouse backends this installation can use, and how to set them up.

An operator adding a store needs the backend's name, what it can do (so they know, say, that
cancel is only a request) and which config fields to fill in. Secret fields are listed by name
only: their defaults (like the simulator's key) are never printed.
"""

from __future__ import annotations

from typing import Any

import click
from pydantic_core import PydanticUndefined

from bridge.backends.base import WarehouseBackend
from bridge.backends.registry import available_backends
from bridge.cli.output import print_json


def _config_fields(cls: type[WarehouseBackend]) -> list[dict[str, Any]]:
    secrets = set(cls.config_model.secret_fields())
    fields = []
    for name, info in cls.config_model.model_fields.items():
        required = info.default is PydanticUndefined and info.default_factory is None
        entry: dict[str, Any] = {"name": name, "required": required, "secret": name in secrets}
        if not required and name not in secrets:
            entry["default"] = info.default
        fields.append(entry)
    return fields


def describe(cls: type[WarehouseBackend]) -> dict[str, Any]:
    """One backend as plain data: capabilities and config fields, nothing secret."""
    return {
        "class": f"{cls.__module__}:{cls.__qualname__}",
        "capabilities": cls.capabilities().to_dict(),
        "config": _config_fields(cls),
    }


def _field_text(field: dict[str, Any]) -> str:
    if field["secret"]:
        note = "secret, required" if field["required"] else "secret"
    elif field["required"]:
        note = "required"
    else:
        note = f"default {field['default']!r}"
    return f"{field['name']} ({note})"


def _capability_text(name: str, value: Any) -> str:
    if name == "cursor_overlap":
        return f"{value:g} s"
    if name == "rate_limit":
        return "none" if value is None else f"{value['requests']} per {value['per_seconds']:g} s"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@click.group("backends")
def group() -> None:
    """Warehouse backends installed in this environment."""


@group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def list_backends(as_json: bool) -> None:
    """List installed backends with their capabilities and config fields."""
    backends = {name: describe(cls) for name, cls in available_backends().items()}
    if as_json:
        print_json(backends)
        return
    if not backends:
        click.echo("No warehouse backends are installed.")
        return
    for name, info in backends.items():
        click.echo(f"{name}  ({info['class']})")
        for cap, value in info["capabilities"].items():
            click.echo(f"  {cap}: {_capability_text(cap, value)}")
        click.echo("  config: " + ", ".join(_field_text(field) for field in info["config"]))
