"""Where ``bridge stores`` gets secrets from, so they stay off command lines.

A value in argv is visible to every local user (``ps``, ``/proc/PID/cmdline``) and lands in shell
history, so the safe ways come first: ``-`` reads standard input, an environment variable, a
hidden prompt, and ``@FILE`` for the backend config. A secret given in argv still works (old
scripts keep running) but prints a warning on standard error.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

API_KEY_ENV = "BRIDGE_STORE_API_KEY"
BACKEND_CONFIG_ENV = "BRIDGE_STORE_BACKEND_CONFIG"
STDIN = "-"
# What ``--api-key`` with no value stands for: take the key from the environment or a prompt.
ASK = "\0ask"


def _warn_argv(option: str, safe: str) -> None:
    click.echo(
        f"warning: a secret given on the command line ({option}) is visible to other users of "
        f"this machine and kept in shell history; use {safe} instead",
        err=True,
    )


def _stdin_text() -> str:
    return sys.stdin.read()


def read_api_key(value: str | None) -> str | None:
    """The Order Desk API key the operator meant, or None when the option was not given."""
    if value is None:
        return None
    if value == STDIN:
        return _stdin_text().strip()
    if value == ASK:
        from_env = os.environ.get(API_KEY_ENV, "").strip()
        if from_env:
            return from_env
        return click.prompt("Order Desk API key", hide_input=True).strip()
    _warn_argv("--api-key", f"--api-key - (standard input), {API_KEY_ENV} or the prompt")
    return value


def read_backend_config(
    value: str | None, secret_fields: set[str], *, env_required: bool
) -> dict[str, Any] | None:
    """The ``--backend-config`` JSON object from argv, ``-``, ``@FILE`` or the environment.

    ``ASK`` (the option given without a value, or ``add``'s default) reads the environment
    variable; when it is unset that is an error only if ``env_required``.
    """
    if value is None:
        return None
    if value == ASK:
        value = os.environ.get(BACKEND_CONFIG_ENV) or None
        source = BACKEND_CONFIG_ENV
        if value is None and env_required:
            raise click.UsageError(f"--backend-config without a value needs {BACKEND_CONFIG_ENV}")
    elif value == STDIN:
        value, source = _stdin_text(), "standard input"
    elif value.startswith("@"):
        path = Path(value[1:])
        try:
            value, source = path.read_text(encoding="utf-8"), str(path)
        except OSError as exc:
            raise click.BadParameter(
                f"cannot read {path}: {exc.strerror}", param_hint="--backend-config"
            ) from None
    else:
        source = "argv"
    if value is None:
        return None
    config = _json_object(value, source)
    if source == "argv" and secret_fields & set(config):
        _warn_argv(
            "--backend-config with " + ", ".join(sorted(secret_fields & set(config))),
            f"--backend-config - (standard input), --backend-config @FILE or {BACKEND_CONFIG_ENV}",
        )
    return config


def _json_object(text: str, source: str) -> dict[str, Any]:
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        # The position, not the text: the text may hold a secret.
        raise click.BadParameter(
            f"{source} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
            param_hint="--backend-config",
        ) from None
    if not isinstance(parsed, dict):
        raise click.BadParameter(f"{source} must be a JSON object", param_hint="--backend-config")
    return parsed


def refuse_two_stdin_readers(api_key: str | None, backend_config: str | None) -> None:
    """Standard input can feed one secret: say so before reading anything."""
    if backend_config != STDIN:
        return
    if api_key == STDIN:
        raise click.UsageError(
            "--api-key - and --backend-config - cannot both read standard input: "
            f"pass the config as @FILE or in {BACKEND_CONFIG_ENV}"
        )
    if api_key == ASK and not os.environ.get(API_KEY_ENV, "").strip():
        raise click.UsageError(
            "--backend-config - takes standard input, so the API key cannot be asked for there: "
            f"set {API_KEY_ENV} or pass the config as @FILE"
        )
