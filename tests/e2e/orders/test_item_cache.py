"""The item read cache of a real orders process: a read after a write shows the write, the
cache never crosses tenants, 304s come from it, and its counters reach /metrics (issue 7)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx

from tests.e2e.orders.conftest import ClientFactory, item_body
from tests.support.ids import new_tenant
from tests.support.metrics import scrape, value
from tests.support.tokens import TestIssuer

ITEMS = "/api/v1/items"


def _item(client: httpx.Client, item_id: str) -> dict[str, object]:
    response = client.get(f"{ITEMS}/{item_id}")
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == f'"{response.json()["version"]}"'
    body: dict[str, object] = response.json()
    return body


def test_get_after_patch_confirm_cancel_and_delete_shows_the_new_state(
    client_for: ClientFactory,
) -> None:
    """Every write that changes an item's representation is visible to the very next read,
    although each read before it was cached (twice, so from the in-process layer too)."""
    editor, admin = client_for("editor"), client_for("admin")
    item_id = editor.post(ITEMS, json=item_body(name="Mug", quantity=5)).json()["id"]
    assert _item(editor, item_id) == _item(editor, item_id)

    patched = editor.patch(f"{ITEMS}/{item_id}", json={"name": "Big mug"})
    assert patched.status_code == 200
    assert _item(editor, item_id)["name"] == "Big mug"
    assert _item(editor, item_id)["version"] == 2

    pedido = editor.post(
        "/api/v1/pedidos",
        json={"customer_id": "c1", "items": [{"item_id": item_id, "quantity": 5}]},
    ).json()
    assert _item(editor, item_id)["quantity"] == 5  # cached again
    assert editor.post(f"/api/v1/pedidos/{pedido['id']}/confirm").status_code == 200
    confirmed = _item(editor, item_id)
    assert (confirmed["quantity"], confirmed["status"], confirmed["version"]) == (
        0,
        "out_of_stock",
        3,
    )

    assert _item(admin, item_id)["quantity"] == 0
    assert admin.post(f"/api/v1/pedidos/{pedido['id']}/cancel").status_code == 200
    released = _item(admin, item_id)
    assert (released["quantity"], released["status"], released["version"]) == (5, "active", 4)

    assert admin.delete(f"{ITEMS}/{item_id}").status_code == 204
    for _ in range(2):
        gone = admin.get(f"{ITEMS}/{item_id}")
        assert gone.status_code == 404
        assert gone.headers["content-type"] == "application/problem+json"


def test_if_none_match_is_304_on_a_cached_read_and_200_once_the_item_changed(
    client_for: ClientFactory,
) -> None:
    editor = client_for("editor")
    created = editor.post(ITEMS, json=item_body())
    url, etag = created.headers["location"], created.headers["etag"]
    editor.get(url)
    for tags in (etag, f"W/{etag}", f'"999", {etag}'):
        not_modified = editor.get(url, headers={"If-None-Match": tags})
        assert not_modified.status_code == 304
        assert not_modified.headers["etag"] == etag
        assert not_modified.content == b""
    editor.patch(url, json={"quantity": 3}, headers={"If-Match": etag})
    changed = editor.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] == '"2"'
    assert changed.json()["quantity"] == 3


def test_the_cache_never_serves_another_tenants_item(
    client_for: ClientFactory, issuer: TestIssuer
) -> None:
    """Tenant A's item, cached in both layers, stays a 404 for tenant B, whatever B sends."""
    owner = client_for("viewer", "editor")
    item_id = owner.post(ITEMS, json=item_body()).json()["id"]
    for _ in range(3):
        _item(owner, item_id)
    stranger = client_for("admin", tenant_id=new_tenant())
    same_subject = client_for("admin", tenant_id=new_tenant(), sub="user-1")
    for client in (stranger, same_subject):
        for headers in ({}, {"If-None-Match": '"1"'}):
            response = client.get(f"{ITEMS}/{item_id}", headers=headers)
            assert response.status_code == 404, response.text
            assert item_id in response.json()["detail"]
    # The stranger's misses did not disturb the owner's entry either.
    assert _item(owner, item_id)["id"] == item_id


def test_item_reads_that_are_not_allowed_answer_as_before(
    client_for: ClientFactory, orders_url: str, issuer: TestIssuer, tenant: str
) -> None:
    """The pre-routing read path only serves allowed reads: no token, a bad token, a token
    without items:read and an id in another spelling are answered by the route itself."""
    editor = client_for("editor")
    item_id = editor.post(ITEMS, json=item_body()).json()["id"]
    _item(editor, item_id)
    with httpx.Client(base_url=orders_url) as anonymous:
        missing = anonymous.get(f"{ITEMS}/{item_id}")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == "Bearer"
        forged = TestIssuer().issue(tenant_id=tenant, roles=["admin"])
        bad = anonymous.get(f"{ITEMS}/{item_id}", headers={"Authorization": f"Bearer {forged}"})
        assert bad.status_code == 401
        assert 'error="invalid_token"' in bad.headers["www-authenticate"]
    roleless = client_for("auditor").get(f"{ITEMS}/{item_id}")
    assert roleless.status_code == 403
    assert roleless.json()["missing_permission"] == "items:read"
    upper = editor.get(f"{ITEMS}/{item_id.upper()}")
    assert upper.status_code == 200  # the route accepts any spelling of a UUID
    assert upper.json()["id"] == item_id
    assert editor.get(f"{ITEMS}/{'x' * 36}").status_code == 422


@dataclass(frozen=True)
class _Read:
    started: float
    version: int
    name: str


async def _race(orders_url: str, token: str, item_id: str, patches: int) -> None:
    """Four readers loop GET while one writer PATCHes; no read that starts after a PATCH was
    answered may show an older version, and every body agrees with its ETag."""
    headers = {"Authorization": f"Bearer {token}"}
    finished: list[tuple[float, int]] = []
    reads: list[_Read] = []
    done = asyncio.Event()
    async with httpx.AsyncClient(base_url=orders_url, headers=headers, timeout=30) as api:

        async def reader() -> None:
            while not done.is_set():
                started = time.monotonic()
                response = await api.get(f"{ITEMS}/{item_id}")
                assert response.status_code == 200, response.text
                body = response.json()
                assert response.headers["etag"] == f'"{body["version"]}"'
                assert body["name"] == f"v{body['version']}"
                reads.append(_Read(started, body["version"], body["name"]))

        async def writer() -> None:
            for _ in range(patches):
                current = (await api.get(f"{ITEMS}/{item_id}")).json()["version"]
                response = await api.patch(
                    f"{ITEMS}/{item_id}",
                    json={"name": f"v{current + 1}"},
                    headers={"If-Match": f'"{current}"'},
                )
                assert response.status_code == 200, response.text
                finished.append((time.monotonic(), response.json()["version"]))
                await asyncio.sleep(0.005)
            done.set()

        await asyncio.gather(writer(), *(reader() for _ in range(4)))
    assert len(finished) == patches
    assert len(reads) > patches
    for read in reads:
        floor = max((v for at, v in finished if at <= read.started), default=1)
        assert read.version >= floor, f"stale read: v{read.version} after v{floor} was answered"


def test_readers_racing_patches_never_read_an_item_older_than_an_answered_patch(
    client_for: ClientFactory, orders_url: str, issuer: TestIssuer, tenant: str
) -> None:
    editor = client_for("editor")
    item_id = editor.post(ITEMS, json=item_body(name="v1")).json()["id"]
    token = issuer.issue(tenant_id=tenant, roles=["editor"])
    asyncio.run(_race(orders_url, token, item_id, patches=20))
    assert _item(editor, item_id)["version"] == 21


def test_cache_counters_are_on_metrics_and_move_with_item_reads(
    client_for: ClientFactory, orders_url: str
) -> None:
    editor = client_for("editor")
    item_id = editor.post(ITEMS, json=item_body()).json()["id"]
    before = scrape(orders_url)
    for _ in range(5):
        _item(editor, item_id)
    after = scrape(orders_url)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, cache="items", **labels) - value(
            before, name, cache="items", **labels
        )

    assert moved("servicekit_cache_misses_total") >= 1  # the first read after the create
    hits = moved("servicekit_cache_hits_total", layer="local") + moved(
        "servicekit_cache_hits_total", layer="redis"
    )
    assert hits >= 4
    names = {name for name, _ in after}
    for counter in ("early_recomputes", "lock_waits", "lock_timeouts", "errors"):
        assert f"servicekit_cache_{counter}_total" in names, counter
    reads = value(
        after, "http_requests_total", method="GET", route=ITEMS + "/{item_id}", status="200"
    )
    assert (
        reads
        - value(
            before, "http_requests_total", method="GET", route=ITEMS + "/{item_id}", status="200"
        )
        == 5
    )
