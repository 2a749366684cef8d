"""The NetworkPolicies of all three charts, installed together with their defaults, let through
exactly the traffic the architecture names: orders reaches auth, PostgreSQL and Redis; auth
reaches PostgreSQL; the ingress controller reaches both services; nothing else gets in."""

from __future__ import annotations

import pytest

from tests.support.k8s import (
    CASE_IDS,
    NAMESPACE,
    Manifest,
    PodRef,
    containers,
    pod_labels,
    rendered_case,
    selector_matches,
    traffic_allowed,
)


def _pod(workload: Manifest, name: str) -> PodRef:
    ports = {
        p["name"]: int(p["containerPort"])
        for c in containers(workload)
        for p in c.get("ports", [])
        if "name" in p
    }
    return PodRef(name=name, namespace=NAMESPACE, labels=pod_labels(workload), ports=ports)


def _system() -> tuple[list[Manifest], dict[str, PodRef]]:
    policies: list[Manifest] = []
    pods: dict[str, PodRef] = {}
    for chart in ("stack", "auth", "orders"):
        rendered = rendered_case(chart, "defaults")
        policies += rendered.of_kind("NetworkPolicy")
        for workload in rendered.of_kind("Deployment", "StatefulSet", "Job", "CronJob", "Pod"):
            component = pod_labels(workload).get("app.kubernetes.io/component", "")
            pods[f"{chart}/{component}"] = _pod(workload, f"{chart}/{component}")
    pods["ingress-controller"] = PodRef(
        "ingress-controller",
        "ingress-nginx",
        {"app.kubernetes.io/name": "ingress-nginx"},
        {"http": 80},
    )
    pods["kube-dns"] = PodRef("kube-dns", "kube-system", {"k8s-app": "kube-dns"}, {"dns": 53})
    pods["stranger"] = PodRef("stranger", NAMESPACE, {"app": "something-else"}, {})
    return policies, pods


POLICIES, PODS = _system()

# (source, target, port, allowed)
EXPECTED = [
    ("orders/server", "auth/server", 8000, True),
    ("orders/server", "stack/postgresql", 5432, True),
    ("orders/server", "stack/redis", 6379, True),
    ("orders/server", "kube-dns", 53, True),
    ("auth/server", "stack/postgresql", 5432, True),
    ("auth/server", "kube-dns", 53, True),
    ("auth/migrations", "stack/postgresql", 5432, True),
    ("orders/migrations", "stack/postgresql", 5432, True),
    ("auth/keys-rotate", "stack/postgresql", 5432, True),
    ("auth/keys-prune", "stack/postgresql", 5432, True),
    ("ingress-controller", "auth/server", 8000, True),
    ("ingress-controller", "orders/server", 8000, True),
    ("auth/test", "auth/server", 8000, True),
    ("orders/test", "orders/server", 8000, True),
    ("stack/test", "stack/postgresql", 5432, True),
    ("stack/test", "stack/redis", 6379, True),
    # what must stay closed
    ("auth/server", "stack/redis", 6379, False),
    ("auth/server", "orders/server", 8000, False),
    ("auth/server", "stack/postgresql", 6379, False),
    ("orders/server", "auth/server", 5432, False),
    ("stranger", "auth/server", 8000, False),
    ("stranger", "orders/server", 8000, False),
    ("stranger", "stack/postgresql", 5432, False),
    ("stranger", "stack/redis", 6379, False),
    ("ingress-controller", "stack/postgresql", 5432, False),
    ("ingress-controller", "stack/redis", 6379, False),
    ("orders/server", "ingress-controller", 80, False),
    ("stack/postgresql", "auth/server", 8000, False),
]


@pytest.mark.parametrize(
    ("source", "target", "port", "allowed"),
    [pytest.param(*e, id=f"{e[0]}->{e[1]}:{e[2]}") for e in EXPECTED],
)
def test_traffic_between_the_components(source: str, target: str, port: int, allowed: bool) -> None:
    assert traffic_allowed(POLICIES, PODS[source], PODS[target], port) is allowed


@pytest.mark.parametrize(
    ("chart", "case"), [pytest.param(c, k, id=f"{c}-{k}") for c, k in CASE_IDS]
)
def test_every_policy_selects_pods_of_its_chart(chart: str, case: str) -> None:
    rendered = rendered_case(chart, case)
    workloads = rendered.of_kind("Deployment", "StatefulSet", "Job", "CronJob", "Pod")
    for policy in rendered.of_kind("NetworkPolicy"):
        selected = [
            w for w in workloads if selector_matches(policy["spec"]["podSelector"], pod_labels(w))
        ]
        assert selected, f"NetworkPolicy/{policy['metadata']['name']} selects no pod"
        assert {"Ingress", "Egress"} <= set(policy["spec"]["policyTypes"])


def test_every_pod_selector_in_a_peer_finds_a_pod() -> None:
    """A peer that selects nothing is a typo waiting to block traffic (same-namespace peers)."""
    in_namespace = [p for p in PODS.values() if p.namespace == NAMESPACE]
    for policy in POLICIES:
        spec = policy["spec"]
        rules = [*(spec.get("ingress") or []), *(spec.get("egress") or [])]
        for rule in rules:
            for peer in [*(rule.get("from") or []), *(rule.get("to") or [])]:
                if "namespaceSelector" in peer or "ipBlock" in peer:
                    continue
                assert any(selector_matches(peer["podSelector"], p.labels) for p in in_namespace), (
                    policy["metadata"]["name"],
                    peer,
                )


def test_production_reaches_managed_servers_by_ip_block() -> None:
    rendered = rendered_case("orders", "production")
    policies = rendered.of_kind("NetworkPolicy")
    orders = PodRef("orders", NAMESPACE, pod_labels(rendered.deployment()), {"http": 8000})
    database = PodRef("db", "external", {}, {}, ip="10.20.3.4")
    cache = PodRef("cache", "external", {}, {}, ip="10.30.0.9")
    elsewhere = PodRef("elsewhere", "external", {}, {}, ip="192.168.1.1")
    assert traffic_allowed(policies, orders, database, 5432)
    assert traffic_allowed(policies, orders, cache, 6380)
    assert not traffic_allowed(policies, orders, elsewhere, 5432)
