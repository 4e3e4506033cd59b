"""Fixtures for the admin pages in a real browser: Debian's Chromium driven by Playwright, the web
app served for real on a loopback port over the test PostgreSQL database.

Playwright's own browser download is not used (``playwright install`` is never run): the tests
launch ``/usr/bin/chromium`` headless and skip, saying what is missing, when it or the
``playwright`` package is absent. Screenshots go to ``test-artifacts/screenshots/`` (git-ignored,
or ``BRIDGE_TEST_ARTIFACTS``), and their paths are printed so CI can attach them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.ops.conftest import (  # noqa: F401 - the operator tools' fixtures, shared
    ADMIN_PASSWORD,
    ADMIN_USER,
    add_admin_user,
    broker,
    seed_order,
    store,
)
from tests.support.admin_server import PROJECT, admin_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"
FLOWER_URL = "https://flower.example.test/"
ARTIFACTS = Path(os.environ.get("BRIDGE_TEST_ARTIFACTS", PROJECT / "test-artifacts"))
# Each wait for the page gives up after this long, so a broken page fails in seconds.
TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module; each test opens its own context (cookies)."""
    sync_api = pytest.importorskip(
        "playwright.sync_api",
        reason="playwright is not installed (pip install -e '.[dev]'): browser tests skipped",
    )
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(
            f"Debian's chromium is not installed at {CHROMIUM} "
            "(apt-get install --no-install-recommends chromium): browser tests skipped"
        )
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox"], headless=True
        )
        yield launched
        launched.close()


@pytest.fixture
def admin_url(
    database: str,
    broker: str,  # noqa: F811 - the shared fixture, imported above
    bridge_env: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[str]:
    """The web app in a process of its own on loopback (as gunicorn would run it); its URL.

    It reads the test's settings from the environment: the database, the broker (so actions'
    messages land in the test Redis) and a Flower address for the dashboard's link.
    """
    bridge_env.setenv("BRIDGE_FLOWER_URL", FLOWER_URL)
    add_admin_user()
    with admin_server(tmp_path) as url:
        yield url


@pytest.fixture
def page(browser: Browser, admin_url: str) -> Iterator[Page]:
    """A fresh browser tab with no cookies."""
    context = browser.new_context(base_url=admin_url, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def signed_in(page: Page) -> Page:
    """The tab after signing in through the form, as a person does."""
    page.goto("/admin/login")
    page.get_by_label("User name").fill(ADMIN_USER)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin/")
    return page


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[[Page, str], Path]:
    """Save a full-page screenshot as a test artifact; prints where it went."""

    def save(tab: Page, name: str) -> Path:
        folder = ARTIFACTS / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        tab.screenshot(path=str(path), full_page=True)
        print(f"screenshot for {request.node.name}: {path}")
        return path

    return save
