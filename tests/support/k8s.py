"""Render the Helm charts offline and answer questions about the manifests.

Rendering uses Helm's own engine (helm-python-sdk: values merged with the chart's defaults and
checked against values.schema.json exactly as `helm install` does). The helpers below do what the
kubelet and the network plugin would do with the result: resolve a container's environment from
the rendered ConfigMaps and Secrets, match label selectors, and evaluate NetworkPolicies.
"""

from __future__ import annotations

import base64
import functools
import ipaddress
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python
import yaml
from kubernetes_validate.utils import latest_version

REPO_ROOT = Path(__file__).resolve().parents[2]
CHARTS_DIR = REPO_ROOT / "charts"
NAMESPACE = "apps"
# The newest Kubernetes the validator carries: "a current Kubernetes version".
KUBE_VERSION = latest_version()

Manifest = dict[str, Any]
POD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod"}
SERVICE_CHARTS = ("auth", "orders")


@dataclass(frozen=True)
class Rendered:
    chart: str
    release: str
    values: Mapping[str, Any]  # the user-supplied values of this render
    manifests: tuple[Manifest, ...]
    sources: tuple[str, ...]  # template path of each manifest

    def of_kind(self, *kinds: str) -> list[Manifest]:
        return [m for m in self.manifests if m["kind"] in kinds]

    def get(self, kind: str, name: str) -> Manifest:
        for m in self.manifests:
            if m["kind"] == kind and m["metadata"]["name"] == name:
                return m
        raise KeyError(f"{self.chart}: no {kind}/{name}")

    def find(self, kind: str, name: str) -> Manifest | None:
        try:
            return self.get(kind, name)
        except KeyError:
            return None

    def deployment(self) -> Manifest:
        (found,) = self.of_kind("Deployment")
        return found


def load_values_file(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text())
    assert isinstance(loaded, dict)
    return loaded


@functools.cache
def _chart(name: str) -> helm_python.Chart:
    return helm_python.Chart.load(str(CHARTS_DIR / name))


def render(
    chart: str, values: Mapping[str, Any] | None = None, *, release: str | None = None
) -> Rendered:
    """`helm install --dry-run` without a cluster: every manifest, hooks and tests included."""
    release = release or chart
    output = _chart(chart).render(
        dict(values or {}), name=release, namespace=NAMESPACE, is_install=True
    )
    manifests: list[Manifest] = []
    sources: list[str] = []
    for template, text in sorted(output.items()):
        if not template.endswith((".yaml", ".yml")):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                manifests.append(doc)
                sources.append(template)
    return Rendered(chart, release, dict(values or {}), tuple(manifests), tuple(sources))


def validate_values(chart: str, values: Mapping[str, Any]) -> None:
    """Raise HelmValuesError when the merged values break the chart's values.schema.json."""
    loaded = _chart(chart)
    loaded.validate_schema(loaded.merge_values(dict(values)))


def chart_defaults(chart: str) -> dict[str, Any]:
    return _chart(chart).values


def merged_values(chart: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The chart's defaults coalesced with `values`, as an install computes them."""
    return _chart(chart).merge_values(dict(values))


# --- pods, containers, environment ----------------------------------------------------------


def pod_spec(manifest: Manifest) -> dict[str, Any]:
    kind = manifest["kind"]
    if kind == "Pod":
        spec: dict[str, Any] = manifest["spec"]
    elif kind == "CronJob":
        spec = manifest["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    else:
        spec = manifest["spec"]["template"]["spec"]
    return spec


def pod_labels(manifest: Manifest) -> dict[str, str]:
    kind = manifest["kind"]
    if kind == "Pod":
        labels = manifest["metadata"].get("labels", {})
    elif kind == "CronJob":
        labels = manifest["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    else:
        labels = manifest["spec"]["template"]["metadata"]["labels"]
    return dict(labels)


def containers(manifest: Manifest) -> list[dict[str, Any]]:
    spec = pod_spec(manifest)
    return [*spec.get("initContainers", []), *spec["containers"]]


def hook_events(manifest: Manifest) -> set[str]:
    hooks = manifest["metadata"].get("annotations", {}).get("helm.sh/hook", "")
    return {h.strip() for h in hooks.split(",") if h.strip()}


def hook_weight(manifest: Manifest) -> int:
    return int(manifest["metadata"].get("annotations", {}).get("helm.sh/hook-weight", "0"))


def _secret_data(secret: Manifest) -> dict[str, str]:
    data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    data.update(secret.get("stringData") or {})
    return data


def secret_values(rendered: Rendered) -> dict[tuple[str, str], str]:
    """(secret name, key) -> decoded value, for every Secret in the render."""
    found: dict[tuple[str, str], str] = {}
    for secret in rendered.of_kind("Secret"):
        for key, value in _secret_data(secret).items():
            found[(secret["metadata"]["name"], key)] = value
    return found


class UnresolvedReferenceError(LookupError):
    """A container refers to a ConfigMap or Secret that the render does not contain."""


def container_env(
    rendered: Rendered,
    container: Mapping[str, Any],
    *,
    external_secrets: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, str]:
    """The environment the kubelet would give this container (envFrom, then env)."""
    external_secrets = external_secrets or {}

    def config_map(name: str) -> dict[str, str]:
        found = rendered.find("ConfigMap", name)
        if found is None:
            raise UnresolvedReferenceError(f"ConfigMap {name}")
        return {k: str(v) for k, v in (found.get("data") or {}).items()}

    def secret(name: str) -> dict[str, str]:
        found = rendered.find("Secret", name)
        if found is not None:
            return _secret_data(found)
        if name in external_secrets:
            return dict(external_secrets[name])
        raise UnresolvedReferenceError(f"Secret {name}")

    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(config_map(source["configMapRef"]["name"]))
        if "secretRef" in source:
            env.update(secret(source["secretRef"]["name"]))
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
            continue
        ref = item["valueFrom"]
        if "secretKeyRef" in ref:
            env[item["name"]] = secret(ref["secretKeyRef"]["name"])[ref["secretKeyRef"]["key"]]
        elif "configMapKeyRef" in ref:
            cm = ref["configMapKeyRef"]
            env[item["name"]] = config_map(cm["name"])[cm["key"]]
        else:
            raise UnresolvedReferenceError(f"unsupported valueFrom {ref}")
    return env


def container_port(container: Mapping[str, Any], port: int | str) -> int:
    """A probe's or policy's port (number or name) as the container's port number."""
    if isinstance(port, int):
        return port
    for declared in container.get("ports", []):
        if declared.get("name") == port:
            return int(declared["containerPort"])
    raise LookupError(f"container {container['name']} declares no port named {port}")


# --- selectors and network policies ---------------------------------------------------------


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Kubernetes LabelSelector semantics ({} matches everything)."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


@dataclass(frozen=True)
class PodRef:
    """A pod somewhere in the cluster: what a NetworkPolicy can see of it."""

    name: str
    namespace: str
    labels: Mapping[str, str]
    ports: Mapping[str, int]  # container port names -> numbers
    ip: str = "10.1.0.10"

    @property
    def namespace_labels(self) -> dict[str, str]:
        return {"kubernetes.io/metadata.name": self.namespace}


def _peer_matches(peer: Mapping[str, Any], pod: PodRef, policy_namespace: str) -> bool:
    if "ipBlock" in peer:
        return _ip_in_block(pod.ip, peer["ipBlock"])
    ns_selector = peer.get("namespaceSelector")
    if ns_selector is None:
        if pod.namespace != policy_namespace:
            return False
    elif not selector_matches(ns_selector, pod.namespace_labels):
        return False
    return selector_matches(peer.get("podSelector") or {}, pod.labels)


def _ip_in_block(ip: str, block: Mapping[str, Any]) -> bool:
    address = ipaddress.ip_address(ip)
    if address not in ipaddress.ip_network(block["cidr"]):
        return False
    return not any(address in ipaddress.ip_network(c) for c in block.get("except", []))


def _port_matches(rule_ports: list[Mapping[str, Any]] | None, target: PodRef, port: int) -> bool:
    if not rule_ports:
        return True
    for rule_port in rule_ports:
        value = rule_port.get("port")
        if value is None:
            return True
        number = target.ports.get(value) if isinstance(value, str) else value
        if number == port:
            return True
    return False


def _rules_allow(
    policies: list[Manifest], subject: PodRef, peer: PodRef, port: int, direction: str
) -> bool:
    """Whether the policies selecting `subject` let traffic in (from peer) or out (to peer)."""
    policy_type = "Ingress" if direction == "ingress" else "Egress"
    selecting = [
        p
        for p in policies
        if p["metadata"].get("namespace", NAMESPACE) == subject.namespace
        and selector_matches(p["spec"]["podSelector"], subject.labels)
        and policy_type in p["spec"].get("policyTypes", ["Ingress"])
    ]
    if not selecting:
        return True  # not isolated in this direction
    port_owner = subject if direction == "ingress" else peer
    for policy in selecting:
        for rule in policy["spec"].get(direction) or []:
            peers = rule.get("from" if direction == "ingress" else "to")
            namespace = policy["metadata"].get("namespace", NAMESPACE)
            if peers is not None and not any(_peer_matches(p, peer, namespace) for p in peers):
                continue
            if _port_matches(rule.get("ports"), port_owner, port):
                return True
    return False


def traffic_allowed(policies: list[Manifest], source: PodRef, target: PodRef, port: int) -> bool:
    """A TCP connection source -> target:port passes egress at the source and ingress at the
    target (the NetworkPolicy semantics every conformant plugin implements)."""
    return _rules_allow(policies, source, target, port, "egress") and _rules_allow(
        policies, target, source, port, "ingress"
    )


def walk_paths(values: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every path to a map in `values` (the places where a misspelled key could go)."""
    if isinstance(values, dict):
        yield prefix
        for key, value in values.items():
            yield from walk_paths(value, (*prefix, key))


# --- the value sets every chart is rendered with --------------------------------------------

_MINIMAL_SERVICE: dict[str, Any] = {
    "podDisruptionBudget": {"enabled": False},
    "autoscaling": {"enabled": False},
    "ingress": {"enabled": False},
    "networkPolicy": {"enabled": False},
    "migrations": {"enabled": False},
    "topologySpread": {"enabled": False},
    "serviceAccount": {"create": False},
}


def _cases() -> dict[str, dict[str, dict[str, Any]]]:
    service_cases: dict[str, dict[str, Any]] = {
        "defaults": {},
        "autoscaling": {
            "autoscaling": {
                "enabled": True,
                "minReplicas": 2,
                "targetMemoryUtilizationPercentage": 80,
            }
        },
        "ingress": {
            "ingress": {
                "enabled": True,
                "className": "nginx",
                "annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "1m"},
                "tls": [{"secretName": "example-tls", "hosts": ["example.local"]}],
            }
        },
        "minimal": _MINIMAL_SERVICE,
    }
    return {
        "auth": {
            **service_cases,
            "production": load_values_file(CHARTS_DIR / "auth" / "values-production.yaml"),
            "minimal": {**_MINIMAL_SERVICE, "keyRotation": {"enabled": False}},
        },
        "orders": {
            **service_cases,
            "production": load_values_file(CHARTS_DIR / "orders" / "values-production.yaml"),
        },
        "stack": {
            "defaults": {},
            "minimal": {
                "postgresql": {"persistence": {"enabled": False}},
                "networkPolicy": {"enabled": False},
            },
            "postgres-only": {"redis": {"enabled": False}},
        },
    }


CASES = _cases()
CASE_IDS = [(chart, case) for chart, cases in CASES.items() for case in cases]


@functools.cache
def rendered_case(chart: str, case: str) -> Rendered:
    """Each value set is rendered once per test session."""
    return render(chart, CASES[chart][case])


def all_rendered() -> list[Rendered]:
    return [rendered_case(chart, case) for chart, case in CASE_IDS]
