"""The paths the charts send Kubernetes to (probes, `helm test`) are routes the app serves.

These fail, on purpose, while an app lacks a route its chart relies on (e.g. until the health
endpoints of ARCHITECTURE.md section 6 exist): a probe on a missing path restarts pods forever.
"""

from __future__ import annotations

import pytest
from _pytest.mark import ParameterSet

from tests.support.dockerfile import REPO_ROOT, image_stages
from tests.support.k8s import SERVICE_CHARTS, container_port, pod_spec, rendered_case
from tests.support.routes import serves_get

PROBES = ("startupProbe", "livenessProbe", "readinessProbe")


def _probe_cases() -> list[ParameterSet]:
    cases = []
    for service in SERVICE_CHARTS:
        (c,) = pod_spec(rendered_case(service, "defaults").deployment())["containers"]
        for probe in PROBES:
            cases.append(
                pytest.param(service, probe, c[probe]["httpGet"]["path"], id=f"{service}-{probe}")
            )
    return cases


@pytest.mark.parametrize(("service", "probe", "path"), _probe_cases())
def test_probe_path_is_a_route_of_the_app(service: str, probe: str, path: str) -> None:
    assert serves_get(service, path), f"{service} has no GET {path} for its {probe}"


@pytest.mark.parametrize("service", SERVICE_CHARTS)
def test_probe_port_is_the_port_the_container_listens_on(service: str) -> None:
    (c,) = pod_spec(rendered_case(service, "defaults").deployment())["containers"]
    # The image's command: the last CMD of the stages a build of this service goes through
    # (its final stage inherits it from the service's own stage).
    stages = image_stages(REPO_ROOT / "Dockerfile", {"SERVICE": service})
    cmd = [stage for stage in stages if stage.all("CMD")][-1].all("CMD")[-1].exec_form()
    listen_port = int(cmd[cmd.index("--port") + 1])
    for probe in PROBES:
        assert container_port(c, c[probe]["httpGet"]["port"]) == listen_port


def _helm_test_cases() -> list[ParameterSet]:
    cases = []
    for service in SERVICE_CHARTS:
        rendered = rendered_case(service, "defaults")
        (test_pod,) = rendered.of_kind("Pod")
        for url in pod_spec(test_pod)["containers"][0]["args"]:
            cases.append(pytest.param(service, url, id=f"{service}-{url.split('/', 3)[-1]}"))
    return cases


@pytest.mark.parametrize(("service", "url"), _helm_test_cases())
def test_helm_test_url_is_a_route_of_the_app(service: str, url: str) -> None:
    assert serves_get(service, url), f"{service} has no GET {url}"


def test_route_check_can_fail() -> None:
    assert serves_get("auth", "/health/live")
    assert not serves_get("auth", "/health/nope")
