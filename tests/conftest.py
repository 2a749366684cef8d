"""The suite's rules and session fixtures: servers once per session, a fresh database per service.

Rules kept here, in one place: the Hypothesis profiles and CI's printed rotating seed; no
`AUTH_*`/`ORDERS_*`/`APP_*` from the outer environment reaches a test; under CI a skip fails
unless its tier is in `ALLOWED_CI_SKIPS`, and the summary names the skipped tiers; CI prints
the 15 slowest tests. Shared fixtures live in tests/support/fixtures.py.
"""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import uuid
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import core as hypothesis_core
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.database import DirectoryBasedExampleDatabase
from redis.asyncio import Redis

from servicekit.data.migrations import upgrade_head
from tests.support.backends import Backends, create_database, drop_database, open_backends
from tests.support.environment import service_settings_in
from tests.support.prerequisites import ALLOWED_CI_SKIPS, under_ci

pytest_plugins = ["tests.support.fixtures", "pytester"]

# The one place Hypothesis is configured. `ci` explores: a new seed every run, printed in the
# header so a failure reproduces with `--hypothesis-seed=N`; no example database, so nothing is
# written into the checkout. `dev` (local `make test`) is bounded too and keeps found failures
# in a temporary directory so they replay first next time. `thorough` is for deliberate local
# runs (`HYPOTHESIS_PROFILE=thorough make test`); `make fuzz` raises tests/fuzz's own budget.
HYPOTHESIS_HOME = Path(tempfile.gettempdir()) / f"hypothesis-{Path(__file__).parents[1].name}"
set_hypothesis_home_dir(HYPOTHESIS_HOME)  # its caches too, never `.hypothesis/` in the checkout
_LOCAL_DATABASE = HYPOTHESIS_HOME / "examples"
_COMMON = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", _COMMON, max_examples=30, database=None, print_blob=True)
# `dev` explores as much as `ci` (60 examples took a local `make test` from 10 to 17 minutes on
# a 2-core machine); its example database replays what failed before, first.
settings.register_profile(
    "dev", _COMMON, max_examples=30, database=DirectoryBasedExampleDatabase(_LOCAL_DATABASE)
)
settings.register_profile(
    "thorough", _COMMON, max_examples=500, database=DirectoryBasedExampleDatabase(_LOCAL_DATABASE)
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if under_ci() else "dev"))

# Service settings found in the environment at start-up, put back when the run ends.
_OUTER_SERVICE_SETTINGS: dict[str, str] = {}


def pytest_configure(config: pytest.Config) -> None:
    # Before collection: some test modules build settings at import time.
    _OUTER_SERVICE_SETTINGS.update(service_settings_in(os.environ))
    for name in _OUTER_SERVICE_SETTINGS:
        del os.environ[name]
    if under_ci():
        if config.getoption("hypothesis_seed", None) is None:
            # A rotating seed: every CI run explores new examples, and prints how to replay.
            seed = int(os.environ.get("HYPOTHESIS_SEED") or random.SystemRandom().getrandbits(32))
            hypothesis_core.global_force_seed = seed  # type: ignore[assignment]
            # pytest-xdist's workers start after this and inherit it: one seed for the run.
            os.environ["HYPOTHESIS_SEED"] = str(seed)
        if not config.option.durations:
            config.option.durations = 15


def pytest_unconfigure(config: pytest.Config) -> None:
    os.environ.update(_OUTER_SERVICE_SETTINGS)


def _seed_line() -> str | None:
    seed = getattr(hypothesis_core, "global_force_seed", None)
    return None if seed is None else f"hypothesis seed: {seed} (replay: --hypothesis-seed={seed})"


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = [f"hypothesis profile: {settings.get_current_profile_name()}"]
    if seed_line := _seed_line():
        lines.append(seed_line)
    if _OUTER_SERVICE_SETTINGS:
        names = ", ".join(sorted(_OUTER_SERVICE_SETTINGS))
        lines.append(f"service settings ignored from the environment: {names}")
    return lines


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say which tiers did not run and why (the only skips CI allows), and the seed again:
    `-q` hides the header, and a failure needs it to replay."""
    if seed_line := _seed_line():
        terminalreporter.write_line(seed_line)
    for marker, reason in ALLOWED_CI_SKIPS.items():
        skipped = [
            r
            for r in terminalreporter.stats.get("skipped", [])
            if marker in getattr(r, "keywords", {})
        ]
        if skipped:
            terminalreporter.write_line(f"{len(skipped)} {marker} tests skipped: {reason}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Under CI a skip is a failure, except for the tiers `ALLOWED_CI_SKIPS` names: a test that
    quietly did not run must not look like one that passed."""
    report: pytest.TestReport = yield
    if (
        under_ci()
        and report.skipped
        and not hasattr(report, "wasxfail")
        and not any(marker in item.keywords for marker in ALLOWED_CI_SKIPS)
    ):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI, which allows no skip here: {report.longrepr}"
    return report


@pytest.fixture(autouse=True)
def _no_service_settings_from_environment() -> Iterator[None]:
    """Every test starts with no AUTH_*/ORDERS_*/APP_* variable; whatever it sets is undone,
    even when written to `os.environ` directly rather than through `monkeypatch`."""
    before = service_settings_in(os.environ)
    for name in before:
        del os.environ[name]
    yield
    for name in service_settings_in(os.environ):
        del os.environ[name]
    os.environ.update(before)


@pytest.fixture(scope="session")
def backends() -> Iterator[Backends]:
    with open_backends() as found:
        yield found


async def _migrated_database(server_url: str, section: str) -> str:
    url = await create_database(server_url, f"test_{section}")
    await asyncio.to_thread(upgrade_head, section, url)
    return url


@pytest.fixture(scope="session")
async def auth_database_url(backends: Backends) -> AsyncIterator[str]:
    """A database for this run, migrated to auth's head, dropped at the end."""
    url = await _migrated_database(backends.postgres_url, "auth")
    yield url
    await drop_database(url)


@pytest.fixture(scope="session")
async def orders_database_url(backends: Backends) -> AsyncIterator[str]:
    """A database for this run, migrated to orders' head, dropped at the end."""
    url = await _migrated_database(backends.postgres_url, "orders")
    yield url
    await drop_database(url)


@pytest.fixture
async def redis_client(backends: Backends) -> AsyncIterator[Redis]:
    client = Redis.from_url(backends.redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def redis_prefix() -> str:
    """Keys a test writes live under its own prefix, so tests never see each other's keys."""
    return f"test:{uuid.uuid4().hex[:12]}:"
