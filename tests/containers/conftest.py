"""The containers tier: the real images in a real engine (see tests/containers/engine.py).

Every test here carries the `containers` marker. Image sizes measured by the tests are printed
in the terminal summary.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.containers.engine import Engine, EngineUnavailableError, open_engine

HERE = Path(__file__).parent
IMAGE_SIZES: dict[str, int] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.containers)


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    try:
        yield open_engine()
    except EngineUnavailableError as exc:
        pytest.skip(f"no container engine can start here: {exc}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if IMAGE_SIZES:
        terminalreporter.section("image sizes")
        for name, size in sorted(IMAGE_SIZES.items()):
            terminalreporter.write_line(f"{name}: {size / 1e6:.1f} MB")
