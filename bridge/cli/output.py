"""How ``bridge`` commands print: a rich table on a terminal, plain columns in a pipe, JSON on
request.

People read a terminal, scripts read a pipe: a pipe gets no colour or box characters (so ``grep``
and ``awk`` keep working), and ``--json`` gives scripts the same rows as data that parses. Every
list and show command goes through here, so they all behave alike.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

import click
from rich.console import Console
from rich.table import Table

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (for scripts) instead of a table."
)


@dataclass(frozen=True)
class Column:
    """One column: the row key it shows, its heading, and how text is cut in plain output."""

    key: str
    header: str
    align: Literal["left", "right"] = "left"
    max_width: int | None = None


def on_terminal() -> bool:
    """True when a person is reading standard output (not a pipe, a file or a test runner)."""
    return sys.stdout.isatty()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def print_json(data: Any) -> None:
    """Data for scripts: datetimes in ISO 8601, anything else unusual as text."""
    click.echo(json.dumps(data, indent=2, default=_json_default, ensure_ascii=False))


def cell(value: Any) -> str:
    """A value as a person reads it in a table."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return " ".join(str(value).split())


def _cut(text: str, width: int | None) -> str:
    return text if width is None or len(text) <= width else text[: width - 1] + "…"


def _plain(columns: Sequence[Column], rows: Sequence[Mapping[str, Any]]) -> list[str]:
    cells = [[_cut(cell(row.get(c.key)), c.max_width) for c in columns] for row in rows]
    widths = [
        max([len(c.header)] + [len(line[i]) for line in cells]) for i, c in enumerate(columns)
    ]
    lines = []
    for line in [[c.header for c in columns], *cells]:
        parts = [
            text.rjust(width) if column.align == "right" else text.ljust(width)
            for column, text, width in zip(columns, line, widths, strict=True)
        ]
        lines.append("  ".join(parts).rstrip())
    return lines


def print_table(
    columns: Sequence[Column], rows: Sequence[Mapping[str, Any]], *, empty: str
) -> None:
    """Rows as a table; ``empty`` is the sentence printed when there are none."""
    if not rows:
        click.echo(empty)
        return
    if not on_terminal():
        for line in _plain(columns, rows):
            click.echo(line)
        return
    table = Table(header_style="bold")
    for column in columns:
        table.add_column(column.header, justify=column.align, overflow="fold")
    for row in rows:
        table.add_row(*(cell(row.get(column.key)) for column in columns))
    Console(highlight=False).print(table)


def print_fields(fields: Mapping[str, Any]) -> None:
    """One record as ``name: value`` lines (a two-column table on a terminal)."""
    flat = {
        name: json.dumps(value, default=_json_default, sort_keys=True)
        if isinstance(value, dict | list)
        else cell(value)
        for name, value in fields.items()
    }
    if not on_terminal():
        width = max(len(name) for name in flat)
        for name, text in flat.items():
            click.echo(f"{name + ':':<{width + 1}} {text}")
        return
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for name, text in flat.items():
        table.add_row(name, text)
    Console(highlight=False).print(table)
