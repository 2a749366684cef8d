"""`/docs` and `/redoc` render in headless Chromium with no network beyond loopback.

Debian's chromium driven by Playwright (`executable_path`). Every request the page makes is
recorded; any that is not for 127.0.0.1 is blocked and fails the test, so a CDN, web font or
validator badge would show up here. Screenshots go to artifacts/docs/.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Page, Route, async_playwright

from tests.support.backends import Backends
from tests.support.prerequisites import require
from tests.support.processes import REPO_ROOT, ServiceProcess

# Headless chromium against both services.
pytestmark = pytest.mark.slow

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
ARTIFACTS = REPO_ROOT / "artifacts" / "docs"

# Under CI the test always runs (.ci/run installs chromium): a missing browser fails the run.
require(
    CHROMIUM.exists(),
    f"chromium not found at {CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)",
    allow_module_level=True,
)


@pytest.fixture(scope="module")
def services(
    backends: Backends,
    auth_database_url: str,
    orders_database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, ServiceProcess]]:
    logs = tmp_path_factory.mktemp("docs")
    env = {
        "AUTH_DATABASE_URL": auth_database_url,
        "AUTH_ENVIRONMENT": "test",
        "ORDERS_DATABASE_URL": orders_database_url,
        "ORDERS_REDIS_URL": backends.redis_url,
        "ORDERS_ENVIRONMENT": "test",
    }
    procs = {
        name: ServiceProcess(f"{name}_service.main:create_app", env, logs / f"{name}.log").start()
        for name in ("auth", "orders")
    }
    yield procs
    for proc in procs.values():
        proc.stop()


async def _open(page: Page, url: str, outside: list[str]) -> None:
    async def only_loopback(route: Route) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", None):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    await page.route("**/*", only_loopback)
    await page.goto(url, wait_until="networkidle")


@pytest.mark.parametrize("service", ["auth", "orders"])
async def test_swagger_ui_and_redoc_render_operations_offline(
    service: str, services: dict[str, ServiceProcess]
) -> None:
    base = services[service].base_url
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    outside: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            await _open(page, base + "/docs", outside)
            # Swagger UI lists each operation with its path and summary.
            await page.get_by_text("/health/ready", exact=True).first.wait_for(timeout=20_000)
            assert await page.get_by_text("/health/live", exact=True).first.is_visible()
            assert await page.get_by_text(
                "Readiness: dependencies answer in time and the process is not draining"
            ).first.is_visible()
            await page.screenshot(path=str(ARTIFACTS / f"{service}-swagger.png"), full_page=True)

            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            await _open(page, base + "/redoc", outside)
            # ReDoc gives each operation a section headed by its summary.
            for summary in (
                "Liveness: the process and its event loop run",
                "Readiness: dependencies answer in time and the process is not draining",
            ):
                heading = page.get_by_role("heading", name=summary)
                await heading.wait_for(timeout=20_000)
                assert await heading.is_visible()
            await page.screenshot(path=str(ARTIFACTS / f"{service}-redoc.png"), full_page=True)
        finally:
            await browser.close()
    assert outside == [], f"the docs reached beyond loopback: {outside}"
    assert (ARTIFACTS / f"{service}-swagger.png").stat().st_size > 10_000
    assert (ARTIFACTS / f"{service}-redoc.png").stat().st_size > 10_000
