"""Policies every rendered manifest must meet, checked on each chart's every value set."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.k8s import (
    CASE_IDS,
    SERVICE_CHARTS,
    Manifest,
    Rendered,
    UnresolvedReferenceError,
    container_env,
    container_port,
    containers,
    hook_events,
    hook_weight,
    merged_values,
    pod_labels,
    pod_spec,
    render,
    rendered_case,
    secret_values,
    selector_matches,
)

CASE_PARAMS = [pytest.param(chart, case, id=f"{chart}-{case}") for chart, case in CASE_IDS]
SERVICE_CASES = [p for p in CASE_PARAMS if p.values[0] in SERVICE_CHARTS]
LONG_RUNNING = ("Deployment", "StatefulSet", "DaemonSet")
POD_BEARING = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod")
PROBE_PATHS = {
    "startupProbe": "/health/startup",
    "livenessProbe": "/health/live",
    "readinessProbe": "/health/ready",
}
# Settings that carry credentials: only ever from a Secret.
SECRET_SETTING = re.compile(r"(DATABASE_URL|REDIS_URL|KEY_ENCRYPTION_KEY|PASSWORD|SECRET|TOKEN)$")


def _rendered(chart: str, case: str) -> Rendered:
    return rendered_case(chart, case)


def _name(m: Manifest) -> str:
    return f"{m['kind']}/{m['metadata']['name']}"


def _prefix(chart: str) -> str:
    return chart.upper() + "_"


@pytest.mark.parametrize(("chart", "case"), CASE_PARAMS)
def test_every_pod_runs_restricted(chart: str, case: str) -> None:
    """The restricted Pod Security Standard, plus no API token and no service-link variables
    (a Service named `auth` would otherwise inject AUTH_PORT=tcp://... into every pod)."""
    for workload in _rendered(chart, case).of_kind(*POD_BEARING):
        spec = pod_spec(workload)
        pod_sc = spec.get("securityContext", {})
        where = _name(workload)
        assert pod_sc.get("runAsNonRoot") is True, where
        assert spec.get("automountServiceAccountToken") is False, where
        assert spec.get("enableServiceLinks") is False, where
        assert not spec.get("hostNetwork"), where
        assert not spec.get("hostPID"), where
        for c in containers(workload):
            sc = c.get("securityContext", {})
            seccomp = sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}
            assert seccomp.get("type") == "RuntimeDefault", (where, c["name"])
            assert sc.get("allowPrivilegeEscalation") is False, (where, c["name"])
            assert sc.get("readOnlyRootFilesystem") is True, (where, c["name"])
            assert sc.get("privileged") is not True, (where, c["name"])
            assert "ALL" in sc.get("capabilities", {}).get("drop", []), (where, c["name"])
            assert not sc.get("capabilities", {}).get("add"), (where, c["name"])
            run_as = sc.get("runAsUser", pod_sc.get("runAsUser"))
            assert run_as is None or run_as != 0, (where, c["name"])


@pytest.mark.parametrize(("chart", "case"), CASE_PARAMS)
def test_every_container_has_resources(chart: str, case: str) -> None:
    for workload in _rendered(chart, case).of_kind(*POD_BEARING):
        for c in containers(workload):
            resources = c.get("resources", {})
            assert {"cpu", "memory"} <= set(resources.get("requests", {})), (_name(workload), c)
            assert "memory" in resources.get("limits", {}), (_name(workload), c["name"])


@pytest.mark.parametrize(("chart", "case"), SERVICE_CASES)
def test_service_pods_write_only_to_an_emptydir_tmp(chart: str, case: str) -> None:
    for workload in _rendered(chart, case).of_kind(*POD_BEARING):
        spec = pod_spec(workload)
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for c in containers(workload):
            mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
            assert "/tmp" in mounts, (_name(workload), c["name"])
            assert "emptyDir" in volumes[mounts["/tmp"]], _name(workload)


@pytest.mark.parametrize(("chart", "case"), CASE_PARAMS)
def test_long_running_containers_have_three_probes(chart: str, case: str) -> None:
    for workload in _rendered(chart, case).of_kind(*LONG_RUNNING):
        for c in pod_spec(workload)["containers"]:
            for probe in PROBE_PATHS:
                assert probe in c, (_name(workload), c["name"], probe)
            # readiness is split from liveness: a dependency outage must not restart the pod
            assert c["readinessProbe"] != c["livenessProbe"], _name(workload)
            startup = c["startupProbe"]
            assert startup["failureThreshold"] * startup["periodSeconds"] >= 30, _name(workload)


@pytest.mark.parametrize(("chart", "case"), SERVICE_CASES)
def test_service_probes_use_the_health_paths_on_a_declared_port(chart: str, case: str) -> None:
    deployment = _rendered(chart, case).deployment()
    (c,) = pod_spec(deployment)["containers"]
    for probe, path in PROBE_PATHS.items():
        http = c[probe]["httpGet"]
        assert http["path"] == path
        assert container_port(c, http["port"]) == 8000


@pytest.mark.parametrize(("chart", "case"), SERVICE_CASES)
def test_grace_period_covers_prestop_drain_and_graceful_timeout(chart: str, case: str) -> None:
    """The kubelet must never kill a draining pod: the grace period covers the preStop sleep
    plus the drain window and the graceful timeout the app itself is given (read back from the
    pod's resolved environment, not from the chart's values)."""
    rendered = _rendered(chart, case)
    deployment = rendered.deployment()
    spec = pod_spec(deployment)
    (c,) = spec["containers"]
    env = container_env(rendered, c, external_secrets=_external_secrets(rendered))
    prestop = c["lifecycle"]["preStop"]["sleep"]["seconds"]
    drain = float(env[f"{_prefix(chart)}DRAIN_WINDOW_S"])
    graceful = float(env[f"{_prefix(chart)}GRACEFUL_TIMEOUT_S"])
    assert prestop >= 1
    assert spec["terminationGracePeriodSeconds"] > prestop + drain + graceful
    shutdown = _values(rendered)["shutdown"]
    assert drain == shutdown["drainWindowSeconds"]
    assert graceful == shutdown["gracefulTimeoutSeconds"]


def test_grace_period_follows_the_shutdown_values() -> None:
    rendered = render(
        "auth",
        {
            "shutdown": {
                "preStopSleepSeconds": 10,
                "drainWindowSeconds": 7,
                "gracefulTimeoutSeconds": 60,
                "marginSeconds": 3,
            }
        },
    )
    spec = pod_spec(rendered.deployment())
    assert spec["terminationGracePeriodSeconds"] == 80
    env = container_env(rendered, spec["containers"][0])
    assert env["AUTH_DRAIN_WINDOW_S"] == "7"
    assert env["AUTH_GRACEFUL_TIMEOUT_S"] == "60"


def _values(rendered: Rendered) -> dict[str, Any]:
    return merged_values(rendered.chart, rendered.values)


def _external_secrets(rendered: Rendered) -> dict[str, dict[str, str]]:
    """A stand-in for the Secret an operator creates when the chart uses existingSecret."""
    name = _values(rendered).get("secrets", {}).get("existingSecret")
    if not name:
        return {}
    secrets = _values(rendered)["secrets"]
    keys = [v for k, v in secrets.items() if k.endswith("Key") and isinstance(v, str)]
    return {name: {key: f"external-{key}" for key in keys}}


@pytest.mark.parametrize(("chart", "case"), SERVICE_CASES)
def test_deployment_runs_the_image_command(chart: str, case: str) -> None:
    """The server command lives in one place, the Dockerfile's CMD."""
    (c,) = pod_spec(_rendered(chart, case).deployment())["containers"]
    assert "command" not in c
    assert "args" not in c


@pytest.mark.parametrize(("chart", "case"), SERVICE_CASES)
def test_migration_job_is_a_pre_install_pre_upgrade_hook(chart: str, case: str) -> None:
    rendered = _rendered(chart, case)
    jobs = [j for j in rendered.of_kind("Job") if "migrations" in j["metadata"]["name"]]
    if not _values(rendered)["migrations"]["enabled"]:
        assert jobs == []
        return
    (job,) = jobs
    assert hook_events(job) == {"pre-install", "pre-upgrade"}
    (c,) = pod_spec(job)["containers"]
    assert c["command"][:2] == ["alembic", "-c"]
    assert c["command"][-4:] == ["-n", chart, "upgrade", "head"]
    assert pod_spec(job)["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] >= 1


@pytest.mark.parametrize(("chart", "case"), SERVICE_CASES)
def test_migration_hook_needs_nothing_created_after_it(chart: str, case: str) -> None:
    """Pre-install hooks run before the release's ordinary objects exist: every Secret and the
    ServiceAccount the Job uses is either created by the operator (existingSecret, an existing
    ServiceAccount) or is itself a hook of the same events with a lower weight."""
    rendered = _rendered(chart, case)
    jobs = [j for j in rendered.of_kind("Job") if "migrations" in j["metadata"]["name"]]
    for job in jobs:
        spec = pod_spec(job)
        needed = [("ServiceAccount", spec.get("serviceAccountName", "default"))]
        for c in containers(job):
            assert "envFrom" not in c
            for item in c.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    needed.append(("Secret", ref["name"]))
                assert "configMapKeyRef" not in item.get("valueFrom", {})
        for kind, name in needed:
            obj = rendered.find(kind, name)
            if obj is None:
                continue  # made outside the release (existingSecret, `default` account)
            assert hook_events(obj) >= hook_events(job), f"{kind}/{name} is not a hook"
            assert hook_weight(obj) < hook_weight(job), f"{kind}/{name} is created too late"
        # the database URL reaches the hook
        env = container_env(
            rendered, containers(job)[0], external_secrets=_external_secrets(rendered)
        )
        assert f"{_prefix(chart)}DATABASE_URL" in env


@pytest.mark.parametrize(("chart", "case"), [p for p in SERVICE_CASES if p.values[0] == "auth"])
def test_key_rotation_cronjobs_run_rotate_and_prune(chart: str, case: str) -> None:
    rendered = _rendered(chart, case)
    cronjobs = rendered.of_kind("CronJob")
    if not _values(rendered)["keyRotation"]["enabled"]:
        assert cronjobs == []
        return
    commands = sorted(tuple(containers(cj)[0]["command"]) for cj in cronjobs)
    assert commands == [("auth-service", "keys", "prune"), ("auth-service", "keys", "rotate")]
    for cj in cronjobs:
        assert cj["spec"]["concurrencyPolicy"] == "Forbid"
        env = container_env(
            rendered, containers(cj)[0], external_secrets=_external_secrets(rendered)
        )
        assert {"AUTH_DATABASE_URL", "AUTH_KEY_ENCRYPTION_KEY", "AUTH_ENVIRONMENT"} <= set(env)


@pytest.mark.parametrize(("chart", "case"), CASE_PARAMS)
def test_no_secret_value_in_a_configmap_or_an_env_value(chart: str, case: str) -> None:
    rendered = _rendered(chart, case)
    secrets = {v for v in secret_values(rendered).values() if len(v) >= 6}
    plain: list[tuple[str, str]] = []
    for cm in rendered.of_kind("ConfigMap"):
        plain += [(f"{_name(cm)}:{k}", str(v)) for k, v in (cm.get("data") or {}).items()]
    for workload in rendered.of_kind(*POD_BEARING):
        for c in containers(workload):
            for item in c.get("env", []):
                where = f"{_name(workload)}:{c['name']}:{item['name']}"
                if SECRET_SETTING.search(item["name"]):
                    assert "secretKeyRef" in item.get("valueFrom", {}), where
                if "value" in item:
                    plain.append((where, str(item["value"])))
            for arg in [*c.get("command", []), *c.get("args", [])]:
                plain.append((f"{_name(workload)}:{c['name']}:argv", arg))
    for m in rendered.manifests:
        for key, value in (m["metadata"].get("annotations") or {}).items():
            plain.append((f"{_name(m)}:annotation {key}", str(value)))
    for where, text in plain:
        for secret in secrets:
            assert secret not in text, f"a secret value appears in {where}"


# The value sets of the service charts that render each optional kind (the stack chart renders
# none). A policy test of that kind runs only on these cases and first asserts the kind is
# there, so it cannot pass by looping over nothing; the test below keeps the table true.
RENDERED_IN = {
    "Ingress": {"ingress", "production"},
    "PodDisruptionBudget": {"defaults", "autoscaling", "ingress", "production"},
    "HorizontalPodAutoscaler": {"autoscaling", "production"},
}


def cases_rendering(kind: str) -> list[Any]:
    return [p for p in SERVICE_CASES if p.values[1] in RENDERED_IN[kind]]


def rendered_of_kind(rendered: Rendered, kind: str) -> list[Manifest]:
    """The manifests of `kind`, failing when there are none (a vacuous check)."""
    found = rendered.of_kind(kind)
    assert found, f"{rendered.chart}: no {kind} rendered, so its policy would check nothing"
    return found


@pytest.mark.parametrize(("chart", "case"), CASE_PARAMS)
def test_optional_kinds_render_exactly_where_declared(chart: str, case: str) -> None:
    rendered = _rendered(chart, case)
    for kind, cases in RENDERED_IN.items():
        expected = chart in SERVICE_CHARTS and case in cases
        assert bool(rendered.of_kind(kind)) == expected, (kind, chart, case)


def check_disruption_budget(rendered: Rendered) -> None:
    for pdb in rendered_of_kind(rendered, "PodDisruptionBudget"):
        spec = pdb["spec"]
        assert "minAvailable" not in spec
        assert spec["maxUnavailable"] not in (0, "0%")
        pods = [
            w
            for w in rendered.of_kind(*LONG_RUNNING)
            if selector_matches(spec["selector"], pod_labels(w))
        ]
        assert pods, f"{_name(pdb)} selects no pods"


@pytest.mark.parametrize(("chart", "case"), cases_rendering("PodDisruptionBudget"))
def test_disruption_budget_never_blocks_a_drain(chart: str, case: str) -> None:
    check_disruption_budget(_rendered(chart, case))


@pytest.mark.parametrize(("chart", "case"), CASE_PARAMS)
def test_selectors_match_their_pods(chart: str, case: str) -> None:
    """Services, topology spread and a workload's own selector all find its pods."""
    rendered = _rendered(chart, case)
    workloads = rendered.of_kind(*LONG_RUNNING)
    assert workloads, "every value set runs something"
    for w in workloads:
        labels = pod_labels(w)
        assert selector_matches(w["spec"]["selector"], labels), _name(w)
        for constraint in pod_spec(w).get("topologySpreadConstraints", []):
            assert selector_matches(constraint["labelSelector"], labels), _name(w)
    services = rendered.of_kind("Service")
    assert services, "every value set serves something"
    for svc in services:
        selected = [
            w
            for w in workloads
            if selector_matches({"matchLabels": svc["spec"]["selector"]}, pod_labels(w))
        ]
        assert len(selected) == 1, _name(svc)
        (c,) = pod_spec(selected[0])["containers"]
        for port in svc["spec"]["ports"]:
            container_port(c, port["targetPort"])


def check_autoscaler(rendered: Rendered) -> None:
    for hpa in rendered_of_kind(rendered, "HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]
        deployment = rendered.get(target["kind"], target["name"])
        assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
        assert hpa["spec"]["minReplicas"] >= 2


@pytest.mark.parametrize(("chart", "case"), cases_rendering("HorizontalPodAutoscaler"))
def test_autoscaler_owns_the_replicas_of_its_deployment(chart: str, case: str) -> None:
    check_autoscaler(_rendered(chart, case))


def check_ingress_routes(rendered: Rendered) -> None:
    for ingress in rendered_of_kind(rendered, "Ingress"):
        rules = ingress["spec"]["rules"]
        assert rules, _name(ingress)
        for rule in rules:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                svc = rendered.get("Service", backend["name"])
                port_names = {p.get("name") for p in svc["spec"]["ports"]}
                assert backend["port"].get("name") in port_names


@pytest.mark.parametrize(("chart", "case"), cases_rendering("Ingress"))
def test_ingress_routes_to_a_service_port(chart: str, case: str) -> None:
    check_ingress_routes(_rendered(chart, case))


@pytest.mark.parametrize(("chart", "case"), CASE_PARAMS)
def test_service_accounts_mount_no_token(chart: str, case: str) -> None:
    for sa in _rendered(chart, case).of_kind("ServiceAccount"):
        assert sa.get("automountServiceAccountToken") is False, _name(sa)


@pytest.mark.parametrize(("chart", "case"), CASE_PARAMS)
def test_helm_test_hook_checks_the_service(chart: str, case: str) -> None:
    rendered = _rendered(chart, case)
    tests = [p for p in rendered.of_kind("Pod") if "test" in hook_events(p)]
    assert len(tests) == 1
    assert pod_spec(tests[0])["restartPolicy"] == "Never"
    if chart in SERVICE_CHARTS:
        (c,) = pod_spec(tests[0])["containers"]
        service = rendered.get("Service", rendered.deployment()["metadata"]["name"])
        port = service["spec"]["ports"][0]["port"]
        for url in c["args"]:
            assert url.startswith(f"http://{service['metadata']['name']}:{port}/")


@pytest.mark.parametrize(("chart", "case"), CASE_PARAMS)
def test_every_env_reference_resolves(chart: str, case: str) -> None:
    """Each ConfigMap and Secret a pod names is in the release, or is the existingSecret."""
    rendered = _rendered(chart, case)
    external = _external_secrets(rendered) if chart in SERVICE_CHARTS else {}
    for workload in rendered.of_kind(*POD_BEARING):
        for c in containers(workload):
            try:
                container_env(rendered, c, external_secrets=external)
            except (UnresolvedReferenceError, KeyError) as exc:
                pytest.fail(f"{_name(workload)}:{c['name']}: {exc!r}")
