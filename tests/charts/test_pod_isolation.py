"""Every pod of the charts is isolated by a NetworkPolicy, Jobs and CronJobs included:
migration hooks and key CronJobs reach PostgreSQL and DNS and nothing else, and nothing reaches
them; helm test pods reach their own server. Evaluated with the NetworkPolicy semantics of
tests/support/k8s.py over the three charts rendered together."""

from __future__ import annotations

import pytest

from tests.support.k8s import (
    CASE_IDS,
    NAMESPACE,
    SERVICE_CHARTS,
    Manifest,
    PodRef,
    Rendered,
    containers,
    pod_labels,
    rendered_case,
    selector_matches,
    traffic_allowed,
)

POD_KINDS = ("Deployment", "StatefulSet", "Job", "CronJob", "Pod")
SERVER_COMPONENTS = {"server"}


def _pod(workload: Manifest, name: str, ip: str = "10.1.0.10") -> PodRef:
    ports = {
        p["name"]: int(p["containerPort"])
        for c in containers(workload)
        for p in c.get("ports", [])
        if "name" in p
    }
    return PodRef(name=name, namespace=NAMESPACE, labels=pod_labels(workload), ports=ports, ip=ip)


def _component(workload: Manifest) -> str:
    return pod_labels(workload).get("app.kubernetes.io/component", "")


def _isolating(rendered: Rendered, workload: Manifest, direction: str) -> list[str]:
    labels = pod_labels(workload)
    return [
        p["metadata"]["name"]
        for p in rendered.of_kind("NetworkPolicy")
        if selector_matches(p["spec"]["podSelector"], labels)
        and direction in p["spec"].get("policyTypes", [])
    ]


ENABLED_CASES = [
    pytest.param(c, k, id=f"{c}-{k}")
    for c, k in CASE_IDS
    if rendered_case(c, k).of_kind("NetworkPolicy")
]


@pytest.mark.parametrize(("chart", "case"), ENABLED_CASES)
def test_every_pod_is_isolated_in_both_directions(chart: str, case: str) -> None:
    rendered = rendered_case(chart, case)
    workloads = rendered.of_kind(*POD_KINDS)
    assert "test" in {_component(w) for w in workloads}
    for workload in workloads:
        name = f"{workload['kind']}/{workload['metadata']['name']}"
        assert _isolating(rendered, workload, "Ingress"), f"{name}: ingress not isolated"
        assert _isolating(rendered, workload, "Egress"), f"{name}: egress not isolated"


def _system() -> tuple[list[Manifest], dict[str, PodRef]]:
    policies: list[Manifest] = []
    pods: dict[str, PodRef] = {}
    for chart in ("stack", *SERVICE_CHARTS):
        rendered = rendered_case(chart, "defaults")
        policies += rendered.of_kind("NetworkPolicy")
        for workload in rendered.of_kind(*POD_KINDS):
            key = f"{chart}/{_component(workload)}"
            pods[key] = _pod(workload, key)
    pods["ingress-controller"] = PodRef(
        "ingress-controller", "ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"}, {}
    )
    pods["kube-dns"] = PodRef("kube-dns", "kube-system", {"k8s-app": "kube-dns"}, {"dns": 53})
    pods["internet"] = PodRef("internet", "external", {}, {}, ip="93.184.216.34")
    pods["stranger"] = PodRef("stranger", NAMESPACE, {"app": "something-else"}, {})
    return policies, pods


POLICIES, PODS = _system()
JOBS = sorted(
    k for k in PODS if "/" in k and k.split("/")[1] not in {"server", "test", "postgresql", "redis"}
)


def test_the_jobs_are_the_migration_hooks_and_key_cronjobs() -> None:
    """Guards the matrix below against passing vacuously over an empty list."""
    assert {"auth/migrations", "auth/keys-rotate", "auth/keys-prune", "orders/migrations"} <= set(
        JOBS
    )


OUT_OF_JOBS = [
    ("stack/postgresql", 5432, True),
    ("kube-dns", 53, True),
    ("stack/redis", 6379, False),
    ("auth/server", 8000, False),
    ("orders/server", 8000, False),
    ("internet", 443, False),
    ("stack/postgresql", 6379, False),
]


@pytest.mark.parametrize("job", JOBS)
@pytest.mark.parametrize(
    ("target", "port", "allowed"), [pytest.param(*o, id=f"{o[0]}:{o[1]}") for o in OUT_OF_JOBS]
)
def test_jobs_reach_postgres_and_dns_only(job: str, target: str, port: int, allowed: bool) -> None:
    assert traffic_allowed(POLICIES, PODS[job], PODS[target], port) is allowed


@pytest.mark.parametrize("job", JOBS)
@pytest.mark.parametrize("source", ["stranger", "ingress-controller", "orders/server"])
def test_nothing_connects_to_a_job(job: str, source: str) -> None:
    assert not traffic_allowed(POLICIES, PODS[source], PODS[job], 8000)


@pytest.mark.parametrize("chart", SERVICE_CHARTS)
def test_a_job_added_later_is_isolated_without_touching_the_policies(chart: str) -> None:
    """The jobs policy selects every pod of the release but the servers and the helm test, so
    a CronJob a chart adds with its own component label is covered from the start."""
    server = PODS[f"{chart}/server"]
    labels = {k: v for k, v in server.labels.items() if k != "app.kubernetes.io/component"} | {
        "app.kubernetes.io/component": "events-prune"
    }
    newcomer = PodRef("newcomer", NAMESPACE, labels, {})
    assert traffic_allowed(POLICIES, newcomer, PODS["stack/postgresql"], 5432)
    assert not traffic_allowed(POLICIES, newcomer, PODS["stack/redis"], 6379)
    assert not traffic_allowed(POLICIES, newcomer, PODS["internet"], 443)
    assert not traffic_allowed(POLICIES, PODS["stranger"], newcomer, 8000)


@pytest.mark.parametrize("chart", SERVICE_CHARTS)
def test_helm_test_pods_reach_their_server_only(chart: str) -> None:
    test_pod = PODS[f"{chart}/test"]
    assert traffic_allowed(POLICIES, test_pod, PODS[f"{chart}/server"], 8000)
    assert traffic_allowed(POLICIES, test_pod, PODS["kube-dns"], 53)
    assert not traffic_allowed(POLICIES, test_pod, PODS["stack/postgresql"], 5432)
    assert not traffic_allowed(POLICIES, test_pod, PODS["internet"], 443)
    assert not traffic_allowed(POLICIES, PODS["stranger"], test_pod, 8000)


@pytest.mark.parametrize("chart", SERVICE_CHARTS)
def test_production_jobs_reach_the_managed_database_by_ip_block(chart: str) -> None:
    rendered = rendered_case(chart, "production")
    policies = rendered.of_kind("NetworkPolicy")
    database = PodRef("db", "external", {}, {}, ip="10.20.3.4")
    elsewhere = PodRef("elsewhere", "external", {}, {}, ip="192.168.1.1")
    jobs = [w for w in rendered.of_kind("Job", "CronJob") if _component(w) not in SERVER_COMPONENTS]
    assert jobs
    for workload in jobs:
        pod = _pod(workload, workload["metadata"]["name"])
        assert traffic_allowed(policies, pod, database, 5432)
        assert not traffic_allowed(policies, pod, elsewhere, 5432)


def test_the_stack_test_pod_reaches_its_servers_only() -> None:
    test_pod = PODS["stack/test"]
    assert traffic_allowed(POLICIES, test_pod, PODS["stack/postgresql"], 5432)
    assert traffic_allowed(POLICIES, test_pod, PODS["stack/redis"], 6379)
    assert traffic_allowed(POLICIES, test_pod, PODS["kube-dns"], 53)
    assert not traffic_allowed(POLICIES, test_pod, PODS["auth/server"], 8000)
    assert not traffic_allowed(POLICIES, test_pod, PODS["internet"], 443)
    assert not traffic_allowed(POLICIES, PODS["stranger"], test_pod, 5432)
