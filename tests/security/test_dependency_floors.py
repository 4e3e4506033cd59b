"""Hole 11: dependency floors past known advisories, and one pinned set installed everywhere."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
# Running needs only the package; the tests add their tools and the deploy recipes' validators.
PIP_INSTALL_RUN = "pip install -c constraints.txt -e ."
PIP_INSTALL_TEST = "pip install -c constraints.txt -e '.[dev,deploy-checks]'"

# First release fixing the advisories named (request smuggling, credential leaks, bundled
# OpenSSL, template sandbox escapes, decompression bombs...).
ADVISORY_FLOORS = {
    "gunicorn": "23.0.0",  # CVE-2024-1135, CVE-2024-6827
    "requests": "2.33.0",  # CVE-2024-35195, CVE-2024-47081, CVE-2026-25645
    "urllib3": "2.7.0",  # CVE-2025-50181/50182, CVE-2025-66418/66471, CVE-2026-21441
    "flask": "3.1.3",  # CVE-2025-47278, CVE-2026-27205
    "werkzeug": "3.1.6",  # CVE-2024-34069, CVE-2024-49766/49767, CVE-2025-66221, CVE-2026-27199
    "jinja2": "3.1.6",  # CVE-2024-56201, CVE-2024-56326, CVE-2025-27516
    "cryptography": "48.0.1",  # GHSA-537c-gmf6-5ccf and earlier bundled-OpenSSL advisories
    "tornado": "6.5",  # Flower's server: CVE-2024-52804, CVE-2025-47287
}


def _requirements() -> dict[str, Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    listed = project["dependencies"] + extras["dev"] + extras["deploy-checks"]
    return {canonicalize_name(r.name): r for r in map(Requirement, listed)}


def _pins() -> dict[str, Version]:
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if match:
            pins[canonicalize_name(match.group(1))] = Version(match.group(2))
    return pins


@pytest.mark.parametrize(("name", "fixed"), sorted(ADVISORY_FLOORS.items()))
def test_hole11_floor_is_past_the_advisories(name: str, fixed: str) -> None:
    requirement = _requirements()[name]
    floors = [Version(spec.version) for spec in requirement.specifier if spec.operator == ">="]
    assert floors and max(floors) >= Version(fixed), f"{name} floor below {fixed}"


def test_hole11_constraints_pin_every_dependency_within_its_floor() -> None:
    pins = _pins()
    for name, requirement in _requirements().items():
        assert name in pins, f"{name} is not pinned in constraints.txt"
        assert requirement.specifier.contains(pins[name], prereleases=True), name


def test_hole11_constraints_file_says_how_it_was_generated() -> None:
    head = (REPO / "constraints.txt").read_text().splitlines()[:3]
    assert any(
        "uv pip compile pyproject.toml --extra dev --extra deploy-checks" in line for line in head
    )


def test_hole11_readme_ci_and_image_install_with_the_constraints() -> None:
    readme = (REPO / "README.md").read_text()
    fresh = [line for line in readme.splitlines() if line.startswith("python3 -m venv .venv")]
    assert len(fresh) == 2
    run, test = fresh
    assert f".venv/bin/{PIP_INSTALL_RUN} && .venv/bin/bridge dev" in run
    assert f".venv/bin/{PIP_INSTALL_TEST} && .venv/bin/pytest" in test
    ci = (REPO / ".ci" / "run").read_text()
    assert re.search(
        r"^\.venv/bin/pip install --quiet -c constraints\.txt -e '\.\[dev,deploy-checks\]'$",
        ci,
        re.M,
    )
    assert "pip install -c constraints.txt -e ." in (REPO / "deploy" / "Containerfile").read_text()
