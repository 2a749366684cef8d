"""Laws of auth's specifications (the admin lists' filters): for users and for service clients,
filtering in memory equals filtering in SQL, against real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from auth_service.clients.models import ServiceClient
from auth_service.clients.repository import ClientRepository
from auth_service.clients.specifications import ClientDisabledSpec, ClientRoleSpec
from auth_service.users.models import User
from auth_service.users.repository import UserRepository
from auth_service.users.schemas import ROLES
from auth_service.users.specifications import UserDisabledSpec, UserRoleSpec
from servicekit.data.repository import SortKey
from servicekit.data.specification import Specification
from tests.support.auth_app import AuthApp
from tests.support.ids import new_tenant
from tests.support.orders import rolled_back
from tests.support.specifications import composed

T0 = datetime(2026, 1, 1, tzinfo=UTC)
# Role sets as stored: non-empty, each role once, in the canonical order.
role_sets: st.SearchStrategy[list[str]] = st.lists(
    st.sampled_from(ROLES), min_size=1, max_size=3, unique=True
).map(lambda roles: [role for role in ROLES if role in roles])

user_specs = composed(
    st.one_of(st.sampled_from(ROLES).map(UserRoleSpec), st.just(UserDisabledSpec()))
)
client_specs = composed(
    st.one_of(st.sampled_from(ROLES).map(ClientRoleSpec), st.just(ClientDisabledSpec()))
)


@st.composite
def user_rows(draw: st.DrawFn) -> tuple[list[str], bool]:
    return draw(role_sets), draw(st.booleans())


def _users(tenant: str, rows: Sequence[tuple[list[str], bool]]) -> list[User]:
    return [
        User(
            id=uuid.uuid4(),
            email=f"p-{uuid.uuid4().hex[:16]}@example.com",
            password_hash="$argon2id$not-a-real-hash",
            roles=roles,
            tenant_id=tenant,
            disabled=disabled,
            failed_logins=0,
            created_at=T0 + timedelta(seconds=n),
            updated_at=T0,
        )
        for n, (roles, disabled) in enumerate(rows)
    ]


def _clients(tenant: str, rows: Sequence[tuple[list[str], bool]]) -> list[ServiceClient]:
    return [
        ServiceClient(
            client_id="svc_" + uuid.uuid4().hex[:24],
            name=f"client {n}",
            secret_digest=b"\0" * 32,
            roles=roles,
            tenant_id=tenant,
            disabled=disabled,
            created_at=T0 + timedelta(seconds=n),
            updated_at=T0,
        )
        for n, (roles, disabled) in enumerate(rows)
    ]


@given(rows=st.lists(user_rows(), max_size=20), spec=user_specs)
async def test_user_specs_select_in_sql_exactly_the_users_they_accept_in_memory(
    auth_app: AuthApp, rows: list[tuple[list[str], bool]], spec: Specification[User]
) -> None:
    """For any users of a tenant and any composed user spec S (roles, disabled; &, |, ~),
    the users SQL(S) lists and counts are exactly those S.is_satisfied_by accepts."""
    tenant = new_tenant()  # its own tenant per example, whatever else the database holds
    population = _users(tenant, rows)
    expected = {user.id for user in population if spec.is_satisfied_by(user)}
    async with rolled_back(auth_app.resources.engine) as session:
        repo = UserRepository(session, tenant_id=tenant)
        for user in population:
            await repo.add(user)
        page = await repo.list_by_spec(spec, sort=SortKey("email"), limit=1000)
        assert {user.id for user in page.items} == expected, spec
        assert await repo.count(spec) == len(expected)
        # ~S selects the rest: together they partition the tenant's users.
        rest = await repo.list_by_spec(~spec, sort=SortKey("email"), limit=1000)
        assert {user.id for user in rest.items} == {u.id for u in population} - expected


@given(rows=st.lists(user_rows(), max_size=20), spec=client_specs)
async def test_client_specs_select_in_sql_exactly_the_clients_they_accept_in_memory(
    auth_app: AuthApp, rows: list[tuple[list[str], bool]], spec: Specification[ServiceClient]
) -> None:
    """For any service clients of a tenant and any composed client spec S, the clients SQL(S)
    lists and counts are exactly those S.is_satisfied_by accepts."""
    tenant = new_tenant()
    population = _clients(tenant, rows)
    expected = {c.client_id for c in population if spec.is_satisfied_by(c)}
    async with rolled_back(auth_app.resources.engine) as session:
        repo = ClientRepository(session, tenant_id=tenant)
        for client in population:
            await repo.add(client)
        page = await repo.list_by_spec(spec, sort=SortKey("created_at"), limit=1000)
        assert {c.client_id for c in page.items} == expected, spec
        assert await repo.count(spec) == len(expected)
        rest = await repo.list_by_spec(~spec, sort=SortKey("created_at"), limit=1000)
        assert {c.client_id for c in rest.items} == {c.client_id for c in population} - expected


@given(rows=st.lists(user_rows(), min_size=1, max_size=12), limit=st.integers(1, 5))
async def test_cursor_pages_of_users_list_every_user_once_in_email_order(
    auth_app: AuthApp, rows: list[tuple[list[str], bool]], limit: int
) -> None:
    """For any users and page size, following next_cursor from the first page lists every
    user of the tenant exactly once, in email order, and the last page has no cursor."""
    tenant = new_tenant()
    population = _users(tenant, rows)
    async with rolled_back(auth_app.resources.engine) as session:
        repo = UserRepository(session, tenant_id=tenant)
        for user in population:
            await repo.add(user)
        seen: list[str] = []
        cursor: str | None = None
        for _ in range(len(population) + 1):
            page = await repo.list_by_spec(sort=SortKey("email"), cursor=cursor, limit=limit)
            assert len(page.items) <= limit
            seen += [user.email for user in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert cursor is None
        assert seen == sorted(user.email for user in population)
