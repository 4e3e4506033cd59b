"""Start Flower with the broker URL and its own login only: ``python -m bridge.jobs.flower``.

Flower is a web page; whatever is in its environment is one bug away from being shown. The
Procfile and the systemd unit hand every process the whole settings file (database password,
``BRIDGE_SECRET_KEY``), so this launcher replaces itself with ``celery flower`` in an
environment holding only: the broker (``BRIDGE_BROKER_URL``, passed as ``CELERY_BROKER_URL``,
which Celery reads itself so it stays off the command line), the Sentinel master's name
(``BRIDGE_REDIS_SENTINEL_MASTER``, when set), ``FLOWER_*`` (its login and options), and the
harmless basics (``PATH``, locale, time zone, home, temp folder). Flower runs with
``-A bridge.jobs.flower_app``, not the workers' app: it learns the tasks from the workers'
events, and importing the bridge's app would need its settings; that small app only adds what a
``sentinel://`` broker needs. Extra arguments go to ``celery flower`` unchanged.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "BRIDGE_REDIS_SENTINEL_MASTER")
APP = "bridge.jobs.flower_app"
REQUIRED = {
    "BRIDGE_BROKER_URL": "set BRIDGE_BROKER_URL to the Redis broker the workers use",
    "FLOWER_BASIC_AUTH": "set FLOWER_BASIC_AUTH=user:password",
}


class LaunchError(RuntimeError):
    """A variable Flower cannot start without is missing; the message names it."""


def flower_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The whole environment Flower gets, built from the caller's."""
    for name, hint in REQUIRED.items():
        if not environ.get(name, "").strip():
            raise LaunchError(f"{name} is not set: {hint}")
    env = {name: environ[name] for name in PASSED_THROUGH if name in environ}
    env.update({name: value for name, value in environ.items() if name.startswith("FLOWER_")})
    env["CELERY_BROKER_URL"] = environ["BRIDGE_BROKER_URL"].strip()
    return env


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        env = flower_environment(os.environ)
    except LaunchError as exc:
        sys.exit(f"flower: {exc}")
    os.execvpe("celery", ["celery", "-A", APP, "flower", *args], env)


if __name__ == "__main__":
    main()
