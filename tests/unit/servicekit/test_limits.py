"""Each request limit: a request just under it passes, one just over gets its problem+json."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.support.limits_app import LimitsTestSettings, create_app

MAX_BODY = 4096
MAX_HEAD = 4096
MAX_QUERY = 1024
MAX_PARAM = 256
MAX_DEPTH = 8
MAX_ITEMS = 20


def _client(app: FastAPI | None = None, **overrides: Any) -> httpx.AsyncClient:
    settings = LimitsTestSettings(
        max_body_bytes=MAX_BODY,
        max_header_bytes=MAX_HEAD,
        max_query_string_bytes=MAX_QUERY,
        max_query_param_chars=MAX_PARAM,
        max_json_depth=MAX_DEPTH,
        max_json_array_items=MAX_ITEMS,
        **overrides,
    )
    transport = httpx.ASGITransport(app=app or create_app(settings))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def _assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].endswith("/" + slug)
    assert body["title"]
    return body


def _upload(size: int) -> bytes:
    return b"x" * size


# Body size, with Content-Length --------------------------------------------------------------


async def test_body_at_the_limit_passes_and_one_byte_more_is_413() -> None:
    async with _client() as client:
        ok = await client.post("/upload", content=_upload(MAX_BODY))
        assert ok.status_code == 200
        assert ok.json() == {"bytes": MAX_BODY}
        over = await client.post("/upload", content=_upload(MAX_BODY + 1))
    body = _assert_problem(over, 413, "body-too-large")
    assert body["title"] == "Content Too Large"
    assert str(MAX_BODY) in body["detail"]
    # The rest of an oversized body is never read, so the connection must not be reused.
    assert over.headers["connection"] == "close"


async def test_a_route_declared_cap_replaces_the_default_for_that_route_only() -> None:
    """`@body_cap("note_max_bytes")`: /note and /notes/{id} take at most 1024 bytes (their
    setting), any other route still takes the default; chunked bodies are counted alike."""
    note_cap = 1024
    async with _client(note_max_bytes=note_cap) as client:
        assert (await client.post("/note", content=_upload(note_cap))).json() == {"bytes": 1024}
        over = await client.post("/note", content=_upload(note_cap + 1))
        assert str(note_cap) in _assert_problem(over, 413, "body-too-large")["detail"]
        templated = await client.put("/notes/7", content=_upload(note_cap + 1))
        _assert_problem(templated, 413, "body-too-large")
        assert (await client.put("/notes/7", content=_upload(10))).json() == {"id": 7, "bytes": 10}
        streamed = await client.post("/note", content=_chunks(note_cap + 1, size=100))
        _assert_problem(streamed, 413, "body-too-large")
        other = await client.post("/upload", content=_upload(MAX_BODY))
        assert other.json() == {"bytes": MAX_BODY}


async def test_a_cap_naming_no_positive_int_setting_fails_at_the_first_request() -> None:
    """A misspelt setting name is a programming error: refused loudly, not a silent default."""
    from servicekit.web.limits import _route_caps  # noqa: PLC0415 - the one private seam

    app = create_app(LimitsTestSettings())
    app.state.settings = LimitsTestSettings().model_copy(update={"note_max_bytes": 0})
    with pytest.raises(ValueError, match="note_max_bytes"):
        _route_caps(app)


# Body size, chunked (no Content-Length): counted as it streams --------------------------------


async def _chunks(total: int, size: int = 1000) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        part = min(size, total - sent)
        sent += part
        yield b"y" * part


async def test_chunked_body_without_length_is_counted_as_it_streams() -> None:
    async with _client() as client:
        ok = await client.post("/upload", content=_chunks(MAX_BODY))
        assert "content-length" not in ok.request.headers
        assert ok.request.headers["transfer-encoding"] == "chunked"
        assert ok.json() == {"bytes": MAX_BODY}
        over = await client.post("/upload", content=_chunks(MAX_BODY + 1))
    _assert_problem(over, 413, "body-too-large")


# Slow body -----------------------------------------------------------------------------------


async def test_body_that_arrives_in_time_passes_and_a_trickling_one_is_408() -> None:
    async def trickle(pause_s: float) -> AsyncIterator[bytes]:
        yield b'{"name": "'
        await asyncio.sleep(pause_s)
        yield b'slow"}'

    async with _client(body_timeout_s=0.3) as client:
        ok = await client.post(
            "/echo", content=trickle(0.01), headers={"content-type": "application/json"}
        )
        assert ok.status_code == 200
        assert ok.json() == {"name": "slow", "tags": 0}
        late = await client.post(
            "/echo", content=trickle(1.0), headers={"content-type": "application/json"}
        )
    _assert_problem(late, 408, "body-timeout")
    assert late.headers["connection"] == "close"


# JSON nesting depth --------------------------------------------------------------------------


def _nested(depth: int) -> bytes:
    # {"nested": [[...[1]...]]}: the outer object is one level, the arrays the rest.
    return b'{"nested": ' + b"[" * (depth - 1) + b"1" + b"]" * (depth - 1) + b"}"


async def test_json_at_the_depth_limit_passes_and_one_level_more_is_422() -> None:
    headers = {"content-type": "application/json"}
    async with _client() as client:
        ok = await client.post("/echo", content=_nested(MAX_DEPTH), headers=headers)
        assert ok.status_code == 200
        deep = await client.post("/echo", content=_nested(MAX_DEPTH + 1), headers=headers)
    body = _assert_problem(deep, 422, "json-too-complex")
    assert body["errors"] == [
        {
            "loc": ["body"],
            "field": "body",
            "msg": f"JSON nesting deeper than {MAX_DEPTH} levels.",
            "type": "json-too-complex",
        }
    ]


async def test_depth_is_checked_on_a_body_without_content_type() -> None:
    """FastAPI parses a body without Content-Type as JSON, so the limit must see it too."""
    async with _client() as client:
        deep = await client.post("/echo", content=_nested(MAX_DEPTH + 1))
    assert "content-type" not in deep.request.headers
    _assert_problem(deep, 422, "json-too-complex")


async def test_depth_is_checked_on_vendor_json_media_types() -> None:
    headers = {"content-type": "application/merge-patch+json; charset=utf-8"}
    async with _client() as client:
        deep = await client.post("/echo", content=_nested(MAX_DEPTH + 1), headers=headers)
    _assert_problem(deep, 422, "json-too-complex")


async def test_brackets_inside_strings_are_not_structure() -> None:
    name = '[{"[' * 50 + '\\"]' * 50
    async with _client() as client:
        ok = await client.post("/echo", json={"name": name, "tags": ["a,b"] * MAX_ITEMS})
    assert ok.status_code == 200
    assert ok.json()["tags"] == MAX_ITEMS


async def test_a_non_json_body_is_not_parsed_for_depth() -> None:
    async with _client() as client:
        ok = await client.post(
            "/upload", content=b"[" * 100, headers={"content-type": "text/plain"}
        )
    assert ok.json() == {"bytes": 100}


# JSON array length ---------------------------------------------------------------------------


async def test_array_at_the_length_limit_passes_and_one_item_more_is_422() -> None:
    async with _client() as client:
        ok = await client.post("/echo", json={"tags": ["t"] * MAX_ITEMS})
        assert ok.json() == {"name": "", "tags": MAX_ITEMS}
        long = await client.post("/echo", json={"tags": ["t"] * (MAX_ITEMS + 1)})
    body = _assert_problem(long, 422, "json-too-complex")
    assert body["errors"][0]["msg"] == f"JSON array with more than {MAX_ITEMS} items."


async def test_many_object_members_are_not_an_array() -> None:
    members = {f"k{i}": i for i in range(MAX_ITEMS * 2)}
    async with _client() as client:
        response = await client.post("/echo", json={"nested": members})
    assert response.status_code == 200


# Query string --------------------------------------------------------------------------------


async def test_query_parameter_at_the_limit_passes_and_one_char_more_is_422() -> None:
    async with _client() as client:
        ok = await client.get("/search", params={"q": "a" * MAX_PARAM})
        assert ok.json() == {"length": MAX_PARAM}
        long = await client.get("/search", params={"q": "a" * (MAX_PARAM + 1)})
    body = _assert_problem(long, 422, "query-param-too-long")
    assert body["errors"][0]["loc"] == ["query", "q"]
    assert "aaaa" not in long.text  # the value is never echoed


async def test_query_string_over_its_total_limit_is_414() -> None:
    # Many short parameters: each is fine, together they exceed the query string limit.
    params: list[tuple[str, str | int | float | bool | None]] = [
        (f"p{i}", "v" * 10) for i in range(200)
    ]
    async with _client() as client:
        response = await client.get("/search", params=params)
    assert len(response.request.url.query) > MAX_QUERY
    body = _assert_problem(response, 414, "query-too-long")
    assert body["title"] == "URI Too Long"


# Request head size (the app-level check; tests/e2e cover the server-level one) --------------


async def test_head_at_the_limit_passes_and_one_byte_more_is_431() -> None:
    async with _client() as client:
        probe = client.build_request("GET", "/search", headers={"x-pad": ""})
        used = len(probe.url.raw_path.split(b"?")[0]) + len(probe.url.query)
        used += sum(len(k) + len(v) + 4 for k, v in probe.headers.raw)
        pad = MAX_HEAD - used
        ok = await client.get("/search", headers={"x-pad": "p" * pad})
        assert ok.status_code == 200
        big = await client.get("/search", headers={"x-pad": "p" * (pad + 1)})
    _assert_problem(big, 431, "headers-too-large")


# Concurrency ---------------------------------------------------------------------------------


async def test_requests_beyond_the_concurrency_limit_get_503_with_retry_after() -> None:
    app = create_app(LimitsTestSettings(max_concurrent_requests=2, overload_retry_after_s=3))
    async with _client(app) as client:
        held = [asyncio.create_task(client.get("/hold")) for _ in range(2)]
        for _ in held:
            await app.state.entered.get()  # until both are inside the app, waiting
        refused = await client.get("/search")
        probe = await client.get("/health/live")  # probes are exempt
        app.state.release.set()
        results = await asyncio.gather(*held)
        after = await client.get("/search")
    body = _assert_problem(refused, 503, "overloaded")
    assert refused.headers["retry-after"] == "3"
    assert "retry" in body["detail"].lower()
    assert probe.status_code == 200
    assert [r.status_code for r in results] == [200, 200]
    assert after.status_code == 200


def test_limits_are_settings_with_safe_defaults() -> None:
    defaults = LimitsTestSettings()
    assert defaults.max_body_bytes == 1_048_576
    assert defaults.max_header_bytes == 16_384
    assert defaults.max_json_depth == 32
    assert defaults.max_json_array_items == 1000
    assert defaults.max_query_param_chars == 1024
    assert defaults.max_concurrent_requests == 256
    assert defaults.cors_allow_origins == []


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIMITS_TEST_MAX_BODY_BYTES", "2048")
    monkeypatch.setenv("LIMITS_TEST_CORS_ALLOW_ORIGINS", "https://a.example, https://b.example")
    settings = LimitsTestSettings()
    assert settings.max_body_bytes == 2048
    assert settings.cors_allow_origins == ["https://a.example", "https://b.example"]
    assert json.loads(settings.model_dump_json())["max_body_bytes"] == 2048


async def test_trickling_bodies_hold_no_concurrency_slot() -> None:
    """The limiter sits inside the body reader: clients still sending their bodies (here many
    more than the limit) do not count, so a normal client is served while they trickle."""
    limit, trickling, body_timeout_s = 2, 6, 5.0
    app = create_app(
        LimitsTestSettings(max_concurrent_requests=limit, body_timeout_s=body_timeout_s)
    )
    reading: asyncio.Queue[None] = asyncio.Queue()
    release = asyncio.Event()

    async def trickle() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        reading.put_nowait(None)  # the server asked for more: it is reading this body
        await release.wait()
        yield b'late"}'

    json_type = {"content-type": "application/json"}
    async with _client(app) as client:
        slow = [
            asyncio.create_task(client.post("/echo", content=trickle(), headers=json_type))
            for _ in range(trickling)
        ]
        # Bounded by the body deadline: past it the server itself would have given up (408).
        async with asyncio.timeout(body_timeout_s):
            for _ in range(trickling):
                await reading.get()
        normal = await client.post("/echo", json={"name": "quick"})
        release.set()
        finished = await asyncio.gather(*slow)
    assert normal.status_code == 200, normal.text
    assert normal.json() == {"name": "quick", "tags": 0}
    assert all(r.status_code in (200, 503) for r in finished)


@pytest.mark.parametrize(
    ("types", "status"),
    [
        (["application/json", "text/plain"], 400),
        (["text/plain", "application/json"], 400),
        (["application/json", "application/json; charset=utf-8"], 200),
    ],
    ids=["json-then-text", "text-then-json", "agreeing"],
)
async def test_duplicate_content_types_follow_one_rule(types: list[str], status: int) -> None:
    headers = [("content-type", t) for t in types]
    async with _client() as client:
        response = await client.post("/echo", content=b'{"name": "a"}', headers=headers)
    if status == 200:
        assert response.status_code == 200, response.text
    else:
        _assert_problem(response, status, "conflicting-content-type")


async def test_deep_json_under_disagreeing_content_types_is_a_4xx_never_a_500() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    async with _client() as client:
        for types in (["text/plain", "application/json"], ["application/json", "text/plain"]):
            headers = [("content-type", t) for t in types]
            response = await client.post("/echo", content=deep, headers=headers)
            assert 400 <= response.status_code < 500, response.text
            assert response.headers["content-type"] == "application/problem+json"
