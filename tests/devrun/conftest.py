"""Fixtures of the ``bridge dev`` tests: a data folder whose processes never outlive the test."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.devrun.support import processes_with


@pytest.fixture
def dev_data_dir(tmp_path: Path) -> Iterator[Path]:
    """``var/dev`` under the test's fresh directory (``bridge dev``'s default, made absolute).

    Should a test fail half-way, anything still running with this data folder is killed, so one
    broken run cannot leave workers consuming for the rest of the suite.
    """
    data_dir = (tmp_path / "var" / "dev").resolve()
    yield data_dir
    for pid in processes_with("BRIDGE_DATA_DIR", str(data_dir)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
