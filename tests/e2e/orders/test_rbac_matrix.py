"""RBAC over HTTP: every role against every route, with real tokens."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from tests.e2e.orders.conftest import ClientFactory, item_body
from tests.support.ids import new_tenant
from tests.support.tokens import TestIssuer

PROBLEM = "application/problem+json"


@dataclass
class World:
    """Fresh resources for one call, set up by an admin of the same tenant."""

    item: str
    pedido: str
    line: str


def _setup(admin: httpx.Client, pedido_state: str) -> World:
    item = admin.post("/api/v1/items", json=item_body(quantity=100)).json()["id"]
    pedido = admin.post(
        "/api/v1/pedidos", json={"customer_id": "c1", "items": [{"item_id": item, "quantity": 1}]}
    ).json()
    path = f"/api/v1/pedidos/{pedido['id']}"
    walk = {
        "pending": [],
        "confirmed": ["confirm"],
        "processing": ["confirm", "process"],
        "shipped": ["confirm", "process", "ship"],
    }[pedido_state]
    for action in walk:
        assert admin.post(f"{path}/{action}").status_code == 200
    return World(item=item, pedido=pedido["id"], line=pedido["items"][0]["id"])


Call = Callable[[httpx.Client, World], httpx.Response]


def tenant_state(reader: httpx.Client) -> dict[str, object]:
    """Everything of the tenant's a call could change: every item (with its version) and every
    pedido in full (status, lines, version)."""
    items = reader.get("/api/v1/items", params={"limit": 100})
    pedidos = reader.get("/api/v1/pedidos", params={"limit": 100})
    assert items.status_code == pedidos.status_code == 200, (items.text, pedidos.text)
    full = [reader.get(f"/api/v1/pedidos/{p['id']}").json() for p in pedidos.json()["items"]]
    return {
        "items": sorted(items.json()["items"], key=lambda i: str(i["id"])),
        "pedidos": sorted(full, key=lambda p: str(p["id"])),
    }


# route -> (permission it needs, state the pedido must be in for success, the call)
ROUTES: dict[str, tuple[str, str, Call]] = {
    "GET /items": ("items:read", "pending", lambda c, w: c.get("/api/v1/items")),
    "POST /items": (
        "items:create",
        "pending",
        lambda c, w: c.post("/api/v1/items", json=item_body()),
    ),
    "GET /items/{id}": ("items:read", "pending", lambda c, w: c.get(f"/api/v1/items/{w.item}")),
    "PATCH /items/{id}": (
        "items:update",
        "pending",
        lambda c, w: c.patch(f"/api/v1/items/{w.item}", json={"name": "n"}),
    ),
    "DELETE /items/{id}": (
        "items:delete",
        "pending",
        lambda c, w: c.delete(f"/api/v1/items/{w.item}"),
    ),
    "GET /pedidos": ("pedidos:read", "pending", lambda c, w: c.get("/api/v1/pedidos")),
    "POST /pedidos": (
        "pedidos:create",
        "pending",
        lambda c, w: c.post(
            "/api/v1/pedidos",
            json={"customer_id": "c2", "items": [{"item_id": w.item, "quantity": 1}]},
        ),
    ),
    "GET /pedidos/{id}": (
        "pedidos:read",
        "pending",
        lambda c, w: c.get(f"/api/v1/pedidos/{w.pedido}"),
    ),
    "POST /pedidos/{id}/items": (
        "pedidos:create",
        "pending",
        lambda c, w: c.post(
            f"/api/v1/pedidos/{w.pedido}/items", json={"item_id": w.item, "quantity": 2}
        ),
    ),
    "DELETE /pedidos/{id}/items/{line}": (
        "pedidos:create",
        "pending",
        lambda c, w: c.delete(f"/api/v1/pedidos/{w.pedido}/items/{w.line}"),
    ),
    "POST /pedidos/{id}/confirm": (
        "pedidos:confirm",
        "pending",
        lambda c, w: c.post(f"/api/v1/pedidos/{w.pedido}/confirm"),
    ),
    "POST /pedidos/{id}/cancel": (
        "pedidos:cancel",
        "confirmed",
        lambda c, w: c.post(f"/api/v1/pedidos/{w.pedido}/cancel"),
    ),
    "POST /pedidos/{id}/process": (
        "pedidos:fulfil",
        "confirmed",
        lambda c, w: c.post(f"/api/v1/pedidos/{w.pedido}/process"),
    ),
    "POST /pedidos/{id}/ship": (
        "pedidos:fulfil",
        "processing",
        lambda c, w: c.post(f"/api/v1/pedidos/{w.pedido}/ship"),
    ),
    "POST /pedidos/{id}/deliver": (
        "pedidos:fulfil",
        "shipped",
        lambda c, w: c.post(f"/api/v1/pedidos/{w.pedido}/deliver"),
    ),
}

GRANTS = {
    "viewer": {"items:read", "pedidos:read"},
    "editor": {
        "items:read",
        "pedidos:read",
        "items:create",
        "items:update",
        "pedidos:create",
        "pedidos:confirm",
        "pedidos:fulfil",
    },
    "admin": {
        "items:read",
        "pedidos:read",
        "items:create",
        "items:update",
        "pedidos:create",
        "pedidos:confirm",
        "pedidos:fulfil",
        "items:delete",
        "pedidos:cancel",
    },
    "auditor": set(),  # a role this service does not know grants nothing
}


@pytest.mark.parametrize("role", list(GRANTS))
@pytest.mark.parametrize("route", list(ROUTES))
def test_role_x_route(client_for: ClientFactory, role: str, route: str) -> None:
    permission, state, call = ROUTES[route]
    world = _setup(client_for("admin"), state)
    before = tenant_state(client_for("admin"))
    response = call(client_for(role), world)
    if permission in GRANTS[role]:
        assert response.status_code in (200, 201, 204), response.text
    else:
        assert response.status_code == 403, response.text
        assert tenant_state(client_for("admin")) == before, "a refused call changed data"
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["missing_permission"] == permission
        assert permission in response.json()["detail"]


@pytest.mark.parametrize("route", list(ROUTES))
def test_no_token_is_401_with_a_bearer_challenge(
    orders_url: str, client_for: ClientFactory, route: str
) -> None:
    _, state, call = ROUTES[route]
    world = _setup(client_for("admin"), state)
    before = tenant_state(client_for("admin"))
    with httpx.Client(base_url=orders_url) as anonymous:
        response = call(anonymous, world)
    assert response.status_code == 401
    assert tenant_state(client_for("admin")) == before, "a refused call changed data"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    "route", [r for r, (permission, _, _) in ROUTES.items() if permission in GRANTS["editor"]]
)
def test_the_unchanged_check_sees_a_call_that_did_change_something(
    client_for: ClientFactory, route: str
) -> None:
    """Planted defect: were a refused write to go through, `tenant_state` would show it. Every
    route an editor may call changes it, except reads."""
    permission, state, call = ROUTES[route]
    world = _setup(client_for("admin"), state)
    before = tenant_state(client_for("admin"))
    assert call(client_for("editor"), world).status_code in (200, 201, 204)
    changed = tenant_state(client_for("admin")) != before
    assert changed == (not permission.endswith(":read")), route


def test_a_token_from_another_issuer_key_is_401(orders_url: str) -> None:
    forged = TestIssuer().issue(roles=["admin"], tenant_id="t")
    with httpx.Client(base_url=orders_url) as client:
        response = client.get("/api/v1/items", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_another_tenants_resources_are_404_not_403(client_for: ClientFactory) -> None:
    mine = _setup(client_for("admin"), "pending")
    stranger = client_for("admin", tenant_id=new_tenant())
    for route, (_, _, call) in ROUTES.items():
        if "{id}" not in route:
            continue
        response = call(stranger, mine)
        assert response.status_code == 404, (route, response.text)
        assert response.headers["content-type"] == PROBLEM
    listed = stranger.get("/api/v1/items").json()["items"]
    assert mine.item not in {item["id"] for item in listed}
    # And nothing of the owner's changed.
    owner = client_for("viewer")
    assert owner.get(f"/api/v1/items/{mine.item}").json()["version"] == 1
    assert owner.get(f"/api/v1/pedidos/{mine.pedido}").json()["status"] == "pending"


@pytest.mark.parametrize(
    "claims", [{"tenant_id": "t" * 65}, {"tenant_id": "a\x00b"}, {"sub": "s" * 256}]
)
def test_identities_the_tables_cannot_hold_are_403_not_500(
    orders_url: str, issuer: TestIssuer, claims: dict[str, str]
) -> None:
    token = issuer.issue(roles=["admin"], **claims)
    with httpx.Client(base_url=orders_url, headers={"Authorization": f"Bearer {token}"}) as c:
        for response in (c.get("/api/v1/items"), c.post("/api/v1/items", json=item_body())):
            assert response.status_code == 403, response.text
            assert response.headers["content-type"] == PROBLEM
