"""Opt-in: install the charts on a real cluster and take an orders pod away under load.

Runs only when KUBECONFIG names a kubeconfig file (no cluster exists on the CI machine, so there
the whole module is skipped). The images must already be where the cluster can pull them:

    make images   # auth-service:local and orders-service:local, from the one Dockerfile
    kind load docker-image auth-service:local orders-service:local    # kind; or push to a registry
    KUBECONFIG=~/.kube/config CLUSTER_AUTH_IMAGE=auth-service:local \
        CLUSTER_ORDERS_IMAGE=orders-service:local pytest tests/cluster -m cluster

Everything goes into a fresh namespace that enforces the restricted Pod Security Standard, and
is removed at the end. The load runs inside the cluster through the orders Service (so deleting
a pod exercises endpoints removal, preStop and the drain); the token and the first item are
made through port-forwards to the pods.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python
import pytest
from kubernetes import client, config
from kubernetes.stream import portforward, stream

from tests.support.k8s import CHARTS_DIR

KUBECONFIG = os.environ.get("KUBECONFIG", "")
pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(
        not (KUBECONFIG and Path(KUBECONFIG.split(os.pathsep)[0]).expanduser().is_file()),
        reason="needs KUBECONFIG pointing at a cluster",
    ),
]

AUTH_IMAGE = os.environ.get("CLUSTER_AUTH_IMAGE", "auth-service:local")
ORDERS_IMAGE = os.environ.get("CLUSTER_ORDERS_IMAGE", "orders-service:local")
PULL_POLICY = os.environ.get("CLUSTER_IMAGE_PULL_POLICY", "IfNotPresent")
LOAD_SECONDS = int(os.environ.get("CLUSTER_LOAD_SECONDS", "40"))
INSTALL_TIMEOUT_S = 600

# Runs in the cluster (orders image: Python + httpx); prints one JSON summary line.
LOAD_SCRIPT = """
import asyncio, json, os, sys, time
import httpx

URL = os.environ["TARGET_URL"]
HEADERS = {"Authorization": "Bearer " + os.environ["TOKEN"]}
SECONDS = float(os.environ["SECONDS"])
CONCURRENCY = int(os.environ["CONCURRENCY"])

async def worker(client, stop, counts, errors):
    while time.monotonic() < stop:
        try:
            response = await client.get(URL, headers=HEADERS)
            counts["total"] += 1
            if response.status_code != 200:
                counts["failed"] += 1
                errors.append(f"status {response.status_code}")
        except httpx.HTTPError as exc:
            counts["total"] += 1
            counts["failed"] += 1
            errors.append(repr(exc))

async def main():
    counts = {"total": 0, "failed": 0}
    errors = []
    print("load started", flush=True)
    stop = time.monotonic() + SECONDS
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(timeout=10, limits=limits) as client:
        await asyncio.gather(*(worker(client, stop, counts, errors) for _ in range(CONCURRENCY)))
    print(json.dumps({**counts, "errors": errors[:20]}), flush=True)

asyncio.run(main())
"""


@dataclass
class Cluster:
    namespace: str
    core: Any  # kubernetes.client.CoreV1Api
    apps: Any  # kubernetes.client.AppsV1Api
    helm: Any  # helm_python.Config


def _restricted_container() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    config.load_kube_config()  # type: ignore[no-untyped-call]  # the client leaves it untyped
    core = client.CoreV1Api()
    namespace = f"ao-e2e-{uuid.uuid4().hex[:8]}"
    labels = {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
    }
    core.create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace, labels=labels))
    )
    helm = helm_python.Config(kubeconfig_path=KUBECONFIG.split(os.pathsep)[0], namespace=namespace)
    installed: list[str] = []
    try:
        releases: list[tuple[str, dict[str, Any]]] = [
            ("stack", {"postgresql": {"persistence": {"enabled": False}}}),
            ("auth", {"image": _image(AUTH_IMAGE), "replicaCount": 2}),
            ("orders", {"image": _image(ORDERS_IMAGE), "replicaCount": 2}),
        ]
        for name, values in releases:
            helm.install(
                str(CHARTS_DIR / name),
                name,
                values,
                namespace=namespace,
                wait="watcher",
                timeout=INSTALL_TIMEOUT_S,
            )
            installed.append(name)
        yield Cluster(namespace, core, client.AppsV1Api(), helm)
    finally:
        for name in reversed(installed):
            helm.uninstall(name, wait="watcher", timeout=300, ignore_not_found=True)
        core.delete_namespace(namespace)
        helm.close()


def _image(reference: str) -> dict[str, str]:
    repository, _, tag = reference.rpartition(":")
    return {"repository": repository, "tag": tag, "pullPolicy": PULL_POLICY}


def _ready_pods(c: Cluster, release: str) -> list[str]:
    pods = c.core.list_namespaced_pod(
        c.namespace,
        label_selector=f"app.kubernetes.io/instance={release},app.kubernetes.io/component=server",
    ).items
    return [
        p.metadata.name
        for p in pods
        if p.metadata.deletion_timestamp is None
        and any(
            cond.type == "Ready" and cond.status == "True" for cond in p.status.conditions or []
        )
    ]


def _http(
    c: Cluster,
    pod: str,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    """One HTTP request to port 8000 of a pod through the API server's port-forward."""
    forward = portforward(
        c.core.connect_get_namespaced_pod_portforward, pod, c.namespace, ports="8000"
    )
    sock = forward.socket(8000)
    sock.setblocking(True)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", 8000, timeout=30)
        conn.sock = sock
        conn.request(method, path, body=body, headers={**(headers or {}), "Connection": "close"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        sock.close()
        forward.close()


def _exec(c: Cluster, pod: str, argv: list[str]) -> str:
    output: str = stream(
        c.core.connect_get_namespaced_pod_exec,
        pod,
        c.namespace,
        command=argv,
        stderr=True,
        stdin=False,
        stdout=True,
        tty=False,
    )
    return output


def test_releases_are_ready_and_their_helm_tests_pass(cluster: Cluster) -> None:
    for release in ("auth", "orders"):
        assert len(_ready_pods(cluster, release)) == 2
    for release in ("stack", "auth", "orders"):
        cluster.helm.test(release, timeout=300)


def test_deleting_an_orders_pod_under_load_fails_no_request(cluster: Cluster) -> None:
    auth_pod = _ready_pods(cluster, "auth")[0]
    orders_pod = _ready_pods(cluster, "orders")[0]
    email, password = f"e2e-{uuid.uuid4().hex[:6]}@example.com", secrets.token_urlsafe(16)
    _exec(
        cluster,
        auth_pod,
        [
            "auth-service",
            "users",
            "create",
            "--email",
            email,
            "--role",
            "admin",
            "--tenant",
            "e2e",
            "--password",
            password,
        ],
    )
    form = urllib.parse.urlencode(
        {"grant_type": "password", "username": email, "password": password}
    )
    status, body = _http(
        cluster,
        auth_pod,
        "POST",
        "/oauth/token",
        form.encode(),
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200, body
    token = json.loads(body)["access_token"]
    item = {
        "sku": f"E2E-{uuid.uuid4().hex[:6]}",
        "name": "drain test",
        "description": "cluster suite",
        "price": {"amount": "12.50", "currency": "BRL"},
        "category": "test",
        "tags": [],
        "quantity": 5,
    }
    status, body = _http(
        cluster,
        orders_pod,
        "POST",
        "/api/v1/items",
        json.dumps(item).encode(),
        {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    assert status == 201, body
    item_id = json.loads(body)["id"]

    load_pod = f"load-{uuid.uuid4().hex[:6]}"
    cluster.core.create_namespaced_pod(
        cluster.namespace,
        {
            "metadata": {
                "name": load_pod,
                # pods of the orders release may reach orders (its NetworkPolicy)
                "labels": {
                    "app.kubernetes.io/instance": "orders",
                    "app.kubernetes.io/component": "load",
                },
            },
            "spec": {
                "restartPolicy": "Never",
                "automountServiceAccountToken": False,
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": 10001,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "containers": [
                    {
                        "name": "load",
                        "image": ORDERS_IMAGE,
                        "imagePullPolicy": PULL_POLICY,
                        "command": ["python", "-c", LOAD_SCRIPT],
                        "env": [
                            {
                                "name": "TARGET_URL",
                                "value": f"http://orders:8000/api/v1/items/{item_id}",
                            },
                            {"name": "TOKEN", "value": token},
                            {"name": "SECONDS", "value": str(LOAD_SECONDS)},
                            {"name": "CONCURRENCY", "value": "8"},
                        ],
                        "securityContext": _restricted_container(),
                        "resources": {
                            "requests": {"cpu": "100m", "memory": "64Mi"},
                            "limits": {"memory": "256Mi"},
                        },
                    }
                ],
            },
        },
    )
    deadline = time.monotonic() + 120
    while "load started" not in _logs(cluster, load_pod):
        assert time.monotonic() < deadline, "the load pod did not start"
        time.sleep(1)
    time.sleep(5)
    victim = _ready_pods(cluster, "orders")[0]
    cluster.core.delete_namespaced_pod(victim, cluster.namespace)

    deadline = time.monotonic() + LOAD_SECONDS + 120
    while cluster.core.read_namespaced_pod(load_pod, cluster.namespace).status.phase not in (
        "Succeeded",
        "Failed",
    ):
        assert time.monotonic() < deadline, "the load pod did not finish"
        time.sleep(2)
    summary = json.loads(_logs(cluster, load_pod).strip().splitlines()[-1])
    assert summary["total"] > 0
    assert summary["failed"] == 0, summary["errors"]
    deadline = time.monotonic() + 180
    while len(_ready_pods(cluster, "orders")) < 2:
        assert time.monotonic() < deadline, "no replacement orders pod became ready"
        time.sleep(2)


def _logs(c: Cluster, pod: str) -> str:
    try:
        text: str = c.core.read_namespaced_pod_log(pod, c.namespace)
    except Exception:  # noqa: BLE001 - not started yet: no logs
        return ""
    return text
