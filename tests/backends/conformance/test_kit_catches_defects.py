"""The kit is only worth running if it fails broken backends: each case here breaks the simulated
backend in one way a real backend could be wrong and shows the matching check catching it."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from bridge.backends.models import ChangePage, FulfillmentOrder, RemoteOrder, SubmitResult
from bridge.backends.simulated import SimulatedBackend, SimulatedConfig
from bridge.backends.testing import BackendConformance
from bridge.remote.errors import AuthError, RateLimited

from .driver import TIMEOUT, SimulatorDriver


class OffByOneCursor(SimulatedBackend):
    """Saves a cursor one event short, so every poll repeats the last event."""

    def changes_since(self, cursor: str | None, limit: int = 100) -> ChangePage:
        page = super().changes_since(cursor, limit)
        return page.model_copy(update={"next_cursor": str(max(0, int(page.next_cursor) - 1))})


class SwallowsRateLimit(SimulatedBackend):
    """Reads once without waiting, and takes a 429 on the feed for "nothing new", jumping its
    cursor past it."""

    def __init__(self, config: SimulatedConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.api.read_attempts = 1

    def changes_since(self, cursor: str | None, limit: int = 100) -> ChangePage:
        try:
            return super().changes_since(cursor, limit)
        except RateLimited:
            return ChangePage(orders=[], next_cursor="1000000", has_more=False)


class LeaksTheKey(SimulatedBackend):
    def healthcheck(self) -> None:
        try:
            super().healthcheck()
        except AuthError:
            raise AuthError(f"key {self.config.api_key.get_secret_value()} refused") from None


_calls = itertools.count()


class RenamesPackages(SimulatedBackend):
    """Package ids that change from one read to the next: the core would post them twice."""

    def get(self, ref: Any) -> RemoteOrder:
        order = super().get(ref)
        suffix = next(_calls)
        shipments = [
            s.model_copy(
                update={
                    "packages": [
                        p.model_copy(update={"package_id": f"{p.package_id}-{suffix}"})
                        for p in s.packages
                    ]
                }
            )
            for s in order.shipments
        ]
        return order.model_copy(update={"shipments": shipments})


class SaltsTheKey(SimulatedBackend):
    """Sends a fresh key on every submit, so a resubmit is a second warehouse order."""

    def submit(self, order: FulfillmentOrder, key: str) -> SubmitResult:
        result = super().submit(order, f"{key}-{next(_calls)}")
        return result.model_copy(update={"ref": result.ref.model_copy(update={"key": key})})


def kit_for(cls: type[SimulatedBackend]) -> BackendConformance:
    class Kit(BackendConformance):
        registered = False

        def make_backend(self, driver: SimulatorDriver, **config: Any) -> SimulatedBackend:
            settings = {"base_url": driver.url, "api_key": "kit-s1m-key", "timeout": TIMEOUT}
            return cls(SimulatedConfig(**(settings | config)))

    return Kit()


@pytest.fixture
def driver(simulators) -> SimulatorDriver:
    return SimulatorDriver(simulators.warehouse("simulated", api_key="kit-s1m-key"))


def test_a_cursor_that_repeats_is_caught(driver: SimulatorDriver) -> None:
    kit = kit_for(OffByOneCursor)
    with pytest.raises(AssertionError, match=r"repeated packages|did not end"):
        kit.test_cursor_resumes_after_a_restart(driver, OffByOneCursor.capabilities())


def test_a_swallowed_rate_limit_is_caught(driver: SimulatorDriver) -> None:
    kit = kit_for(SwallowsRateLimit)
    with kit.make_backend(driver) as backend, pytest.raises(AssertionError, match="never reached"):
        kit.test_rate_limit_is_waited_or_raised_never_lost(driver, backend)


def test_a_secret_in_an_error_is_caught(driver: SimulatorDriver) -> None:
    kit = kit_for(LeaksTheKey)
    with pytest.raises(AssertionError, match="secret"):
        kit.test_secrets_stay_out_of_reprs_and_errors(driver)


def test_unstable_package_ids_are_caught(driver: SimulatorDriver) -> None:
    kit = kit_for(RenamesPackages)
    with kit.make_backend(driver) as backend, pytest.raises(AssertionError, match="stable"):
        kit.test_partial_then_the_rest_in_several_packages(
            driver, backend, RenamesPackages.capabilities()
        )


def test_a_resubmit_that_duplicates_is_caught(driver: SimulatorDriver) -> None:
    kit = kit_for(SaltsTheKey)
    caps = SaltsTheKey.capabilities()
    with kit.make_backend(driver) as backend, pytest.raises(AssertionError, match="holds"):
        kit.test_submit_twice_with_the_same_key_makes_one_order(driver, backend, caps)
    with kit.make_backend(driver) as backend, pytest.raises(AssertionError, match="holds"):
        kit.test_bulk_submit_is_aligned_and_idempotent(driver, backend, caps)
