"""auth and orders as clients reach them in production: through an ingress (nginx configured
from the charts' Ingress rules) in front of two replicas of each. Tokens and orders calls pass
through it; each client behind it has its own token budget; a rolling restart of a replica
under steady load fails no request; a key rotation made on one auth replica reaches the other
replica and orders."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import httpx
import jwt
import pytest

from tests.ingress.conftest import (
    DRAIN_WINDOW_S,
    JWKS_MAX_AGE_S,
    KEY_RELOAD_INTERVAL_S,
    START_TIMEOUT_S,
    TOKEN_BURST_PER_IP,
    IngressStack,
)
from tests.support.processes import ServiceProcess

JWKS = "/.well-known/jwks.json"

# The replicas start once for the module; on a shared, busy machine that alone can take minutes.
pytestmark = pytest.mark.timeout(900)


def _token(stack: IngressStack, http: httpx.Client) -> str:
    response = http.post(
        "/oauth/token",
        headers={"Host": stack.auth_host},
        data={
            "grant_type": "client_credentials",
            "client_id": stack.client_id,
            "client_secret": stack.client_secret,
        },
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _item(**overrides: object) -> dict[str, object]:
    return {
        "sku": f"SKU-{uuid.uuid4().hex[:8]}",
        "name": "Caneca azul",
        "description": "Caneca de cerâmica, 300 ml",
        "price": {"amount": "12.50", "currency": "BRL"},
        "category": "kitchen",
        "tags": ["ceramic"],
        "quantity": 10,
        **overrides,
    }


def _create_item(stack: IngressStack, http: httpx.Client, token: str) -> str:
    response = http.post(
        "/api/v1/items",
        headers={"Host": stack.api_host, "Authorization": f"Bearer {token}"},
        json=_item(),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _upstreams_served(stack: IngressStack, host: str) -> set[str]:
    # nginx lists every upstream it tried for one request, comma-separated ("a, b" when it
    # retried the next replica).
    tried = re.findall(
        rf'"{re.escape(host)}" .* upstream=(.+?)(?: \w+=|$)', stack.nginx.access_log(), re.M
    )
    served = {addr.strip() for field in tried for addr in field.split(",")}
    return served - {"-", ""}  # "-": answered by nginx itself (no rule matched)


def test_the_proxy_serves_exactly_the_ingress_rules(stack: IngressStack) -> None:
    routes = {(r.host, r.path, r.path_type) for r in stack.routes}
    assert routes == {
        (stack.auth_host, "/oauth", "Prefix"),
        (stack.auth_host, "/.well-known", "Prefix"),
        (stack.api_host, "/api/v1", "Prefix"),
    }
    with stack.client("127.0.0.10") as http:
        assert http.get(JWKS, headers={"Host": stack.auth_host}).status_code == 200
        # Paths outside the rules never reach a replica, though every replica serves them.
        assert http.get("/metrics", headers={"Host": stack.api_host}).status_code == 404
        assert http.get("/health/ready", headers={"Host": stack.auth_host}).status_code == 404
        assert http.get("/api/v1/items", headers={"Host": stack.auth_host}).status_code == 404
        # A Prefix rule matches whole path elements only.
        assert http.get("/oauthx", headers={"Host": stack.auth_host}).status_code == 404
        assert http.get(JWKS, headers={"Host": "unknown.example.com"}).status_code == 404


def test_a_token_from_auth_opens_orders_through_the_ingress(stack: IngressStack) -> None:
    with stack.client("127.0.0.11") as http:
        token = _token(stack, http)
        item_id = _create_item(stack, http, token)
        for _ in range(2 * len(stack.orders)):
            read = http.get(
                f"/api/v1/items/{item_id}",
                headers={"Host": stack.api_host, "Authorization": f"Bearer {token}"},
            )
            assert read.status_code == 200, read.text
            assert read.json()["id"] == item_id
        for _ in range(2 * len(stack.auth)):
            _token(stack, http)
        unauthenticated = http.get("/api/v1/items", headers={"Host": stack.api_host})
        assert unauthenticated.status_code == 401
    # Both replicas of each Service took requests (round robin over the endpoints).
    assert len(_upstreams_served(stack, stack.auth_host)) == len(stack.auth)
    assert len(_upstreams_served(stack, stack.api_host)) == len(stack.orders)


def _spend(http: httpx.Client, stack: IngressStack, limit: int, **headers: str) -> list[int]:
    """Junk token requests until `limit`, or until the budget is gone on every replica
    (one 429 per replica in a row: nginx sends each request to the next replica)."""
    statuses: list[int] = []
    while len(statuses) < limit:
        response = http.post(
            "/oauth/token",
            headers={"Host": stack.auth_host, **headers},
            data={"grant_type": "client_credentials", "client_id": "junk", "client_secret": "x"},
        )
        statuses.append(response.status_code)
        if statuses[-len(stack.auth) :] == [429] * len(stack.auth):
            break
    return statuses


def test_each_client_behind_the_proxy_has_its_own_token_budget(stack: IngressStack) -> None:
    """auth sees the client nginx names in X-Forwarded-For (the proxy's address is trusted),
    not the proxy: one client spending its budget leaves the others theirs. A client cannot
    pick a new address by sending X-Forwarded-For itself: the proxy replaces it."""
    # Each replica keeps its own budget: a client gets between one and all replicas' worth.
    most = TOKEN_BURST_PER_IP * len(stack.auth) + 10
    with stack.client("127.0.0.21") as first, stack.client("127.0.0.22") as second:
        spent = _spend(first, stack, 2 * most)
        accepted = [s for s in spent if s != 429]
        assert spent[-1] == 429, f"no 429 after {len(spent)} requests"
        assert TOKEN_BURST_PER_IP <= len(accepted) <= most, Counter(spent)
        assert set(accepted) == {401}  # the junk was refused for what it is

        spoofed = _spend(first, stack, len(stack.auth), **{"X-Forwarded-For": "198.51.100.7"})
        assert spoofed == [429] * len(stack.auth)

        others = _spend(second, stack, TOKEN_BURST_PER_IP)
        assert 429 not in others, Counter(others)


PACE_S = 0.01  # per worker between requests


@dataclass
class Load:
    """A bounded loop of requests through the ingress, from a few client addresses: token
    issuance (POST), JWKS and item reads (GET), item creation (POST, never retried by nginx)."""

    stack: IngressStack
    token: str
    item_id: str
    kinds: tuple[str, ...] = ("token", "jwks", "read", "read", "create")
    max_rounds: int = 100_000  # the bound; `stop` ends it once the restarts are done
    stop: threading.Event = field(default_factory=threading.Event)
    started: threading.Event = field(default_factory=threading.Event)
    results: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, worker: int) -> None:
        # Token requests spread over addresses so no per-address budget runs out. A connection
        # per request: this stand-in reloads nginx when endpoints change, and a reload closes
        # idle client keep-alive connections (ingress-nginx changes endpoints without one).
        no_reuse = httpx.Limits(max_keepalive_connections=0)
        clients = [
            self.stack.client(f"127.0.{worker + 1}.{i + 1}", limits=no_reuse) for i in range(10)
        ]
        auth, api = self.stack.auth_host, self.stack.api_host
        bearer = {"Authorization": f"Bearer {self.token}"}
        try:
            for n in range(self.max_rounds):
                # Steady, not flat out: a paced loop keeps the replicas (and the shared cores)
                # busy enough to catch a lost request without starving their restarts.
                if self.stop.wait(PACE_S):
                    return
                http = clients[n % len(clients)]
                kind = self.kinds[n % len(self.kinds)]
                try:
                    if kind == "token":
                        response = http.post(
                            "/oauth/token",
                            headers={"Host": auth},
                            data={
                                "grant_type": "client_credentials",
                                "client_id": self.stack.client_id,
                                "client_secret": self.stack.client_secret,
                            },
                        )
                    elif kind == "jwks":
                        response = http.get(JWKS, headers={"Host": auth})
                    elif kind == "read":
                        response = http.get(
                            f"/api/v1/items/{self.item_id}", headers={"Host": api, **bearer}
                        )
                    else:
                        response = http.post(
                            "/api/v1/items", headers={"Host": api, **bearer}, json=_item()
                        )
                    ok = response.status_code < 300
                    outcome = f"{kind} {response.status_code}"
                except httpx.HTTPError as exc:
                    ok, outcome = False, f"{kind} {type(exc).__name__}: {exc}"
                with self.lock:
                    self.results[kind] += 1
                    if not ok:
                        self.failures.append(outcome)
                if sum(self.results.values()) >= 20:
                    self.started.set()
        finally:
            for http in clients:
                http.close()

    def progress(self) -> int:
        with self.lock:
            return sum(self.results.values())


def _wait_for_traffic(load: Load, requests: int, timeout_s: float) -> None:
    target = load.progress() + requests
    deadline = time.monotonic() + timeout_s
    while load.progress() < target:
        assert time.monotonic() < deadline, "the load stopped making progress"
        assert not load.stop.is_set()
        time.sleep(0.02)


def _restart(stack: IngressStack, replica: ServiceProcess) -> float:
    """One step of a rolling restart, as Kubernetes and ingress-nginx take it: the pod leaves
    the endpoints (the proxy reloads), gets SIGTERM, drains and exits 0; its successor
    starts, turns ready and joins the endpoints. Returns the seconds the replica was away."""
    began = time.monotonic()
    stack.publish_endpoints(without=replica)
    status = replica.stop(timeout_s=DRAIN_WINDOW_S + 35)
    assert status == 0, replica.read_log()[-3000:]
    replica.start(ready_path="/health/ready", timeout_s=START_TIMEOUT_S)
    stack.publish_endpoints()
    return time.monotonic() - began


def _under_load(stack: IngressStack, load: Load, *steps: Callable[[], float]) -> list[float]:
    """Run `steps` while `load` runs in two workers; after each, wait for traffic to flow on."""
    workers = [threading.Thread(target=load.run, args=(w,)) for w in range(2)]
    for worker in workers:
        worker.start()
    took: list[float] = []
    try:
        assert load.started.wait(60), "no traffic through the ingress"
        for step in steps:
            took.append(step())
            _wait_for_traffic(load, 50, timeout_s=60)
    finally:
        load.stop.set()
        for worker in workers:
            worker.join(timeout=60)
    assert load.failures == [], (Counter(load.failures), stack.nginx.error_log()[-3000:])
    return took


def _token_and_item(stack: IngressStack, source_ip: str) -> tuple[str, str]:
    with stack.client(source_ip) as http:
        token = _token(stack, http)
        return token, _create_item(stack, http, token)


def test_a_rolling_restart_under_steady_load_fails_no_request(stack: IngressStack) -> None:
    load = Load(stack, *_token_and_item(stack, "127.0.0.30"))
    away = _under_load(
        stack,
        load,
        lambda: _restart(stack, stack.auth[0]),
        lambda: _restart(stack, stack.orders[0]),
    )
    assert load.progress() >= 200, load.results
    assert all(load.results[k] > 0 for k in ("token", "jwks", "read", "create")), load.results
    print(f"rolling restart: {dict(load.results)}, replicas away {away} s, 0 failed")  # noqa: T201


def _stop_and_start(replica: ServiceProcess) -> float:
    """SIGTERM while the replica is still an endpoint, wait for exit 0, start it again."""
    began = time.monotonic()
    status = replica.stop(timeout_s=DRAIN_WINDOW_S + 35)
    assert status == 0, replica.read_log()[-3000:]
    replica.start(ready_path="/health/ready", timeout_s=START_TIMEOUT_S)
    return time.monotonic() - began


def test_a_replica_stopping_before_it_leaves_the_endpoints_fails_no_read(
    stack: IngressStack,
) -> None:
    """The race a preStop sleep narrows: the pod gets SIGTERM while the proxy still sends to
    it. It keeps serving through the drain window; once it stops listening, nginx meets a
    refused connection and retries the request on the next endpoint (proxy_next_upstream)."""
    load = Load(stack, *_token_and_item(stack, "127.0.0.31"), kinds=("jwks", "read"))
    away = _under_load(
        stack,
        load,
        # One replica shows the retry; the rolling restart above covers both services.
        lambda: _stop_and_start(stack.orders[1]),
    )
    assert load.progress() >= 200, load.results
    retried = stack.nginx.access_log().count(", 127.0.0.1:")  # several upstreams for one request
    print(f"stop without endpoint change: {dict(load.results)}, away {away} s, {retried} retried")  # noqa: T201


def _rotate(stack: IngressStack) -> str:
    """`auth-service keys rotate --force --purpose access`, retried until the next key has
    been published long enough to be promoted (auth says when: `promotable at <time>`)."""
    deadline = time.monotonic() + JWKS_MAX_AGE_S + KEY_RELOAD_INTERVAL_S + 30
    while True:
        out = stack.cli("keys", "rotate", "--force", "--purpose", "access")
        rotated = re.search(r"rotated (\S+)", out)
        if rotated:
            return rotated.group(1)
        waiting = re.search(r"promotable at ([^)\s]+)", out)  # "...; promotable at T)"
        assert waiting, out
        assert time.monotonic() < deadline, out
        wait_s = (
            datetime.fromisoformat(waiting.group(1)) - datetime.now().astimezone()
        ).total_seconds()
        time.sleep(min(max(wait_s, 0.05), JWKS_MAX_AGE_S + KEY_RELOAD_INTERVAL_S))


def _kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def test_a_key_rotation_on_one_replica_reaches_the_other_and_orders(stack: IngressStack) -> None:
    with stack.client("127.0.0.40") as http:
        old_token = _token(stack, http)
        item_id = _create_item(stack, http, old_token)
    new_kid = _rotate(stack)
    assert new_kid != _kid(old_token)

    # Every replica signs with the new key within its reload interval (LISTEN/NOTIFY, polling
    # as the fallback); asked directly, each replica in turn.
    deadline = time.monotonic() + KEY_RELOAD_INTERVAL_S + 5
    for replica in stack.auth:
        with httpx.Client(base_url=replica.base_url, timeout=10) as direct:
            while _kid(_token(stack, direct)) != new_kid:
                assert time.monotonic() < deadline, f"{replica.base_url} still signs the old key"
                time.sleep(0.05)

    # orders verifies both: the new key was published (as `next`) before it signed, and the
    # retired one stays published for its grace period. Its JWKS cache follows within max-age.
    deadline = time.monotonic() + JWKS_MAX_AGE_S + 5
    with stack.client("127.0.0.41") as http:
        new_token = _token(stack, http)
        assert _kid(new_token) == new_kid
        for token in (new_token, old_token):
            for _ in stack.orders:  # each orders replica in turn
                while True:
                    read = http.get(
                        f"/api/v1/items/{item_id}",
                        headers={"Host": stack.api_host, "Authorization": f"Bearer {token}"},
                    )
                    if read.status_code == 200:
                        break
                    assert read.status_code == 401, read.text
                    assert time.monotonic() < deadline, f"orders refuses kid {_kid(token)}"
                    time.sleep(0.1)
