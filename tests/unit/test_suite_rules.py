"""The suite's own rules hold: a missing prerequisite fails under CI, service settings never
leak in from the environment, and Hypothesis writes nothing into the checkout."""

from __future__ import annotations

import os

import pytest
from _pytest.outcomes import Failed, Skipped
from hypothesis import settings

from tests.support.environment import clean_environ
from tests.support.prerequisites import require
from tests.support.processes import REPO_ROOT


def test_require_passes_when_the_prerequisite_is_there(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    require(True, "never missing")


def test_a_missing_prerequisite_skips_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(Skipped, match="chromium"):
        require(False, "chromium is not installed")


@pytest.mark.parametrize("ci", ["true", "1", "yes"])
def test_a_missing_prerequisite_fails_under_ci_naming_it(
    monkeypatch: pytest.MonkeyPatch, ci: str
) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(Failed, match="missing prerequisite under CI: chromium"):
        require(False, "chromium is not installed")


def test_no_service_setting_reaches_a_test() -> None:
    assert not [k for k in os.environ if k.startswith(("AUTH_", "ORDERS_", "APP_"))]


def test_a_setting_one_test_writes_directly_is_gone_for_the_next_part_1() -> None:
    os.environ["ORDERS_GRACEFUL_TIMEOUT_S"] = "45"


def test_a_setting_one_test_writes_directly_is_gone_for_the_next_part_2() -> None:
    # Whatever the order (pytest-randomly), part 1 never leaves its variable behind.
    assert "ORDERS_GRACEFUL_TIMEOUT_S" not in os.environ


def test_child_processes_get_no_service_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_ENVIRONMENT", "production")
    env = clean_environ(ORDERS_ENVIRONMENT="test")
    assert "AUTH_ENVIRONMENT" not in env
    assert env["ORDERS_ENVIRONMENT"] == "test"


def test_hypothesis_keeps_no_example_database_in_the_checkout() -> None:
    database = settings().database
    where = getattr(database, "path", None)
    assert where is None or REPO_ROOT not in where.resolve().parents


INNER_CONFTEST = """
from tests.conftest import pytest_runtest_makereport  # the hook under test
"""
INNER_TESTS = """
import pytest

def test_needs_something_missing():
    pytest.skip("no frobnicator here")

@pytest.mark.cluster
def test_needs_a_cluster():
    pytest.skip("needs KUBECONFIG")

@pytest.mark.xfail(reason="known")
def test_known_failure():
    raise AssertionError
"""


def _inner_run(pytester: pytest.Pytester) -> pytest.RunResult:
    pytester.makeconftest(INNER_CONFTEST)
    pytester.makeini(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
        "markers =\n    cluster: a cluster test\n"
    )
    pytester.makepyfile(INNER_TESTS)
    return pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider")


def test_under_ci_a_skip_fails_except_the_cluster_tier(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    result = _inner_run(pytester)
    result.assert_outcomes(failed=1, skipped=1, xfailed=1)
    result.stdout.fnmatch_lines(["*skipped under CI*no frobnicator here*"])


def test_locally_a_skip_stays_a_skip(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    _inner_run(pytester).assert_outcomes(skipped=2, xfailed=1)
