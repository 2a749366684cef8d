"""The containers tier: the real images in a real engine (see tests/containers/engine.py).

Every test here carries the `containers` marker. The tier starts an engine (as root it may
apt-get install docker.io) and takes minutes on vfs, so it runs only when asked for: a path
under tests/containers (`.venv/bin/pytest tests/containers`) or a `-m` expression naming the
marker; a bare `pytest` or `make test` deselects it. Image sizes measured by the tests are
printed in the terminal summary.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.containers.engine import Engine, EngineUnavailableError, open_engine

HERE = Path(__file__).parent
IMAGE_SIZES: dict[str, int] = {}


def _asked_for(config: pytest.Config) -> bool:
    if "containers" in (config.option.markexpr or ""):
        return True  # pytest's -m filter decides
    for arg in config.args:
        path = Path(arg.split("::")[0]).resolve()
        if path == HERE or HERE in path.parents:
            return True
    return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    ours = [item for item in items if HERE in Path(str(item.path)).parents]
    for item in ours:
        item.add_marker(pytest.mark.containers)
    if ours and not _asked_for(config):
        config.hook.pytest_deselected(items=ours)
        items[:] = [item for item in items if item not in ours]


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
