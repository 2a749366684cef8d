"""`/docs` and `/redoc` render in headless Chromium with no network beyond loopback.

Debian's chromium driven by Playwright (`executable_path`). Every request the page makes is
recorded; any that is not for 127.0.0.1 is blocked and fails the test, so a CDN, web font or
validator badge would show up here. Screenshots go to artifacts/docs/. Swagger UI's
Authorize and Try-it-out with a real token from auth must reach a protected operation (200) on
both services: the documented `security` is what makes Swagger UI send the header.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
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
ISSUER = "https://auth.docs-test"

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
        "AUTH_ISSUER": ISSUER,
        "ORDERS_DATABASE_URL": orders_database_url,
        "ORDERS_REDIS_URL": backends.redis_url,
        "ORDERS_ENVIRONMENT": "test",
        "ORDERS_JWT_ISSUER": ISSUER,
    }
    procs = {"auth": ServiceProcess("auth_service.main:create_app", env, logs / "auth.log")}
    procs["auth"].start()
    # orders trusts this auth process's JWKS, so auth's tokens work on both.
    env["ORDERS_JWKS_URL"] = procs["auth"].base_url + "/.well-known/jwks.json"
    procs["orders"] = ServiceProcess("orders_service.main:create_app", env, logs / "orders.log")
    procs["orders"].start()
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


def _admin_client(auth_database_url: str) -> tuple[str, str]:
    """A service client with the admin role, made by auth's own command."""
    done = subprocess.run(
        [
            *(sys.executable, "-m", "auth_service.cli", "clients", "create", "--name", "docs"),
            *("--role", "admin", "--tenant", "t-docs"),
        ],
        env={**os.environ, "AUTH_DATABASE_URL": auth_database_url, "AUTH_ENVIRONMENT": "test"},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found = dict(re.findall(r"^(client_id|client_secret)=(\S+)$", done.stdout, re.MULTILINE))
    return found["client_id"], found["client_secret"]


def _token(auth_url: str, client: tuple[str, str], resource: str | None) -> str:
    form = {"grant_type": "client_credentials", "client_id": client[0], "client_secret": client[1]}
    if resource is not None:
        form["resource"] = resource  # auth's admin API takes tokens for itself only (RFC 8707)
    response = httpx.post(auth_url + "/oauth/token", data=form, timeout=30)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


# service -> (the protected GET tried, the `resource` its token is asked for)
TRIED = {
    "auth": ("/api/v1/clients", ISSUER),
    "orders": ("/api/v1/items", None),
}


@pytest.mark.parametrize("service", ["auth", "orders"])
async def test_swagger_ui_authorize_and_try_it_out_with_a_real_token_gets_200(
    service: str, services: dict[str, ServiceProcess], auth_database_url: str
) -> None:
    path, resource = TRIED[service]
    token = _token(services["auth"].base_url, _admin_client(auth_database_url), resource)
    outside: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            await _open(page, services[service].base_url + "/docs", outside)
            await page.locator("button.authorize").first.click()
            dialog = page.locator(".modal-ux")
            await dialog.locator("input").first.fill(token)
            await dialog.locator("button.authorize").first.click()
            await dialog.locator("button.btn-done").first.click()
            operation = page.locator(f"#operations-{_tag(service)}-{_operation_id(service)}")
            await operation.locator(".opblock-summary").first.click()
            await operation.locator("button.try-out__btn").click()
            async with page.expect_response(lambda r: urlsplit(r.url).path == path) as answer:
                await operation.locator("button.execute").click()
            response = await answer.value
            sent, answered = response.request.headers, response.status
            status = operation.locator(".live-responses-table tr.response .response-col_status")
            status = status.first
            await status.wait_for(timeout=20_000)
            shown = (await status.inner_text()).strip()
        finally:
            await browser.close()
    assert sent.get("authorization") == f"Bearer {token}"
    assert shown == "200", shown
    assert answered == 200
    assert outside == []


def _tag(service: str) -> str:
    return {"auth": "clients", "orders": "items"}[service]


def _operation_id(service: str) -> str:
    """FastAPI's generated operation id of the tried GET (function name, path, method)."""
    return {
        "auth": "list_clients_api_v1_clients_get",
        "orders": "list_items_api_v1_items_get",
    }[service]
