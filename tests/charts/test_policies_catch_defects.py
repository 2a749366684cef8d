"""Planted defects: each chart policy that used to pass vacuously fails on a broken render.

A check that loops over manifests of a kind passes when the kind is missing or when the check
itself is wrong; each case here feeds a real render with one defect planted and requires the
check to fail (`RENDERED_IN` keeps the policy tests away from the value sets without the kind).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable

import pytest

from tests.charts.test_policies import (
    RENDERED_IN,
    check_autoscaler,
    check_disruption_budget,
    check_ingress_routes,
)
from tests.support.k8s import Manifest, Rendered, rendered_case

Plant = Callable[[Manifest], None]


def planted(chart: str, case: str, kind: str, plant: Plant) -> Rendered:
    """The render of `case` with `plant` applied to (a copy of) every manifest of `kind`."""
    rendered = rendered_case(chart, case)
    manifests = copy.deepcopy(rendered.manifests)
    for m in manifests:
        if m["kind"] == kind:
            plant(m)
    return dataclasses.replace(rendered, manifests=manifests)


def _ingress_port(m: Manifest) -> None:
    m["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"] = {"name": "nope"}


def _ingress_no_rules(m: Manifest) -> None:
    m["spec"]["rules"] = []


def _pdb_min_available(m: Manifest) -> None:
    m["spec"]["minAvailable"] = 1


def _pdb_blocks(m: Manifest) -> None:
    m["spec"]["maxUnavailable"] = 0


def _pdb_selects_nothing(m: Manifest) -> None:
    m["spec"]["selector"] = {"matchLabels": {"app.kubernetes.io/name": "nobody"}}


def _replicas_pinned(m: Manifest) -> None:
    m["spec"]["replicas"] = 3


def _one_replica(m: Manifest) -> None:
    m["spec"]["minReplicas"] = 1


DEFECTS = [
    pytest.param(check_ingress_routes, "Ingress", _ingress_port, id="ingress-unknown-port"),
    pytest.param(check_ingress_routes, "Ingress", _ingress_no_rules, id="ingress-no-rules"),
    pytest.param(check_disruption_budget, "PodDisruptionBudget", _pdb_min_available, id="pdb-min"),
    pytest.param(check_disruption_budget, "PodDisruptionBudget", _pdb_blocks, id="pdb-zero"),
    pytest.param(
        check_disruption_budget, "PodDisruptionBudget", _pdb_selects_nothing, id="pdb-no-pods"
    ),
    pytest.param(check_autoscaler, "Deployment", _replicas_pinned, id="hpa-replicas-pinned"),
    pytest.param(check_autoscaler, "HorizontalPodAutoscaler", _one_replica, id="hpa-min-1"),
]
CHECKED_KIND: dict[Callable[[Rendered], None], str] = {
    check_ingress_routes: "Ingress",
    check_disruption_budget: "PodDisruptionBudget",
    check_autoscaler: "HorizontalPodAutoscaler",
}


@pytest.mark.parametrize("chart", ["auth", "orders"])
@pytest.mark.parametrize(("check", "kind", "plant"), DEFECTS)
def test_the_policy_fails_on_a_planted_defect(
    chart: str, check: Callable[[Rendered], None], kind: str, plant: Plant
) -> None:
    # "production" renders every optional kind, so each defect lands on a real manifest.
    check(rendered_case(chart, "production"))  # the clean render passes
    with pytest.raises(AssertionError):
        check(planted(chart, "production", kind, plant))


@pytest.mark.parametrize("chart", ["auth", "orders"])
@pytest.mark.parametrize("check", list(CHECKED_KIND), ids=list(CHECKED_KIND.values()))
def test_the_policy_fails_where_its_kind_is_not_rendered(
    chart: str, check: Callable[[Rendered], None]
) -> None:
    """The vacuous pass itself, planted: the value set that renders no optional kind."""
    assert "minimal" not in RENDERED_IN[CHECKED_KIND[check]]
    with pytest.raises(AssertionError, match=r"no \w+ rendered"):
        check(rendered_case(chart, "minimal"))
