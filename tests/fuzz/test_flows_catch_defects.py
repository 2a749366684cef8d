"""Planted defects for the stateful runner: only changed data ends a suite quietly.

`test_fuzz_flows.py` used to `continue` on any `Flaky`, which also swallowed a `FlakyFailure`:
an error (a dropped connection, a crash in a rule) that the first walk raised and its replay
did not. These tests run real Hypothesis searches that end each way.
"""

from __future__ import annotations

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import FlakyFailure, FlakyStrategyDefinition

from tests.fuzz.stateful import run_tolerating_changed_data

ONCE = settings(max_examples=5, database=None, phases=[Phase.generate, Phase.shrink])


def test_an_error_that_does_not_replay_fails_the_run() -> None:
    calls = {"n": 0}

    @ONCE
    @given(st.integers())
    def walk(_: int) -> None:
        calls["n"] += 1
        if calls["n"] == 1:  # the server dropped a connection once; the replay went fine
            raise ConnectionError("connection reset by peer")

    with pytest.raises(FlakyFailure) as raised:
        run_tolerating_changed_data(walk)
    assert any(isinstance(e, ConnectionError) for e in raised.value.exceptions)


def test_a_plain_error_fails_the_run() -> None:
    @ONCE
    @given(st.integers())
    def walk(_: int) -> None:
        raise RuntimeError("a rule crashed")

    with pytest.raises(RuntimeError, match="a rule crashed"):
        run_tolerating_changed_data(walk)


def test_data_that_changed_under_a_replay_ends_the_suite_quietly() -> None:
    def walk() -> None:
        # What Hypothesis raises when a replayed walk meets data an earlier walk changed.
        raise FlakyStrategyDefinition("Inconsistent data generation!")

    assert run_tolerating_changed_data(walk) is False


def test_a_suite_that_ends_normally_is_reported_as_run() -> None:
    assert run_tolerating_changed_data(lambda: None) is True
