"""The edge middleware's metrics label by route template, bounds its labels, and counts failures."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from servicekit.core.metrics import registry
from servicekit.web.middleware import EdgeMiddleware


def _count(method: str, route: str, status: str) -> float:
    value = registry.registry.get_sample_value(
        "http_requests_total", {"method": method, "route": route, "status": status}
    )
    return value or 0.0


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/widgets/{widget_id}")
    async def widget(widget_id: int) -> dict[str, int]:
        return {"id": widget_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("fails")

    app.add_middleware(EdgeMiddleware)
    return app


async def test_requests_are_counted_by_template_method_and_status() -> None:
    template = "/widgets/{widget_id}"
    ok, bad = _count("GET", template, "200"), _count("GET", template, "422")
    unmatched, other = _count("GET", "unmatched", "404"), _count("OTHER", template, "405")
    failed = _count("GET", "/boom", "500")
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for n in range(5):
            assert (await client.get(f"/widgets/{n}")).status_code == 200
        assert (await client.get("/widgets/not-a-number")).status_code == 422
        assert (await client.get("/random/123")).status_code == 404
        assert (await client.request("BREW", "/widgets/1")).status_code == 405
        assert (await client.get("/boom")).status_code == 500
    assert _count("GET", template, "200") - ok == 5
    assert _count("GET", template, "422") - bad == 1
    assert _count("GET", "unmatched", "404") - unmatched == 1
    assert _count("OTHER", template, "405") - other == 1
    assert _count("GET", "/boom", "500") - failed == 1


def test_asking_for_a_metric_twice_returns_the_same_metric() -> None:
    first = registry.counter("test_widgets_made_total", "widgets", ["kind"])
    again = registry.counter("test_widgets_made_total", "widgets", ["kind"])
    assert first is again
    first.labels("blue").inc(2)
    assert registry.registry.get_sample_value("test_widgets_made_total", {"kind": "blue"}) == 2
    assert b"test_widgets_made_total" in registry.render()
