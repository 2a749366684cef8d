"""Every chart renders for every value set, lints clean, and yields valid Kubernetes objects."""

from __future__ import annotations

import copy
from typing import Any

import helm_python
import kubernetes_validate
import pytest
from scripts.chart_docs import value_docs, values_table

from tests.support.k8s import (
    CASE_IDS,
    CASES,
    CHARTS_DIR,
    KUBE_VERSION,
    chart_defaults,
    render,
    rendered_case,
    validate_values,
    walk_paths,
)

CASE_PARAMS = [pytest.param(chart, case, id=f"{chart}-{case}") for chart, case in CASE_IDS]
CHARTS = sorted(CASES)


@pytest.mark.parametrize(("chart", "case"), CASE_PARAMS)
def test_chart_lints_without_warnings(chart: str, case: str) -> None:
    report = helm_python.lint(
        str(CHARTS_DIR / chart), CASES[chart][case], strict=True, kube_version=f"v{KUBE_VERSION}"
    )
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert problems == [], problems
    assert report["errors"] == []


@pytest.mark.parametrize(("chart", "case"), CASE_PARAMS)
def test_every_manifest_is_valid_for_current_kubernetes(chart: str, case: str) -> None:
    rendered = rendered_case(chart, case)
    assert rendered.manifests, "the chart rendered nothing"
    for manifest in rendered.manifests:
        kind_name = f"{manifest['kind']}/{manifest['metadata']['name']}"
        try:
            kubernetes_validate.validate(manifest, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{kind_name} ({'.'.join(map(str, exc.path))}): {exc.message}")


def test_the_validator_is_strict_about_unknown_fields() -> None:
    """The check above can fail: a misspelled field in a rendered Deployment is rejected."""
    deployment = copy.deepcopy(rendered_case("auth", "defaults").deployment())
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinessprobe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSION, strict=True)


# Maps whose content is a Kubernetes object or free-form (their fields are checked by the
# Kubernetes validation of the rendered manifests, not by the chart schema).
FREE_FORM = {
    "podSecurityContext",
    "securityContext",
    "strategy",
    "affinity",
    "nodeSelector",
    "podAnnotations",
    "podLabels",
    "extraEnv",
    "annotations",
    "global",
}


def _misspell(key: str) -> str:
    """A typo a person makes: the last two letters swapped (or a letter doubled)."""
    if len(key) >= 2 and key[-1] != key[-2]:
        return key[:-2] + key[-1] + key[-2]
    return key + key[-1]


def _typo_cases() -> list[Any]:
    cases = []
    for chart in CHARTS:
        for path in walk_paths(chart_defaults(chart)):
            if any(part in FREE_FORM for part in path) or any("." in p or "/" in p for p in path):
                continue
            cases.append(pytest.param(chart, path, id=f"{chart}:{'.'.join(path) or '<top>'}"))
    return cases


@pytest.mark.parametrize(("chart", "path"), _typo_cases())
def test_values_schema_rejects_a_misspelled_key(chart: str, path: tuple[str, ...]) -> None:
    """Law: at every level of a chart's values, a misspelled copy of a real key is an error."""
    node: Any = chart_defaults(chart)
    for part in path:
        node = node[part]
    real_key = next(iter(node)) if node else "enabled"
    overrides: dict[str, Any] = {}
    target = overrides
    for part in path:
        target = target.setdefault(part, {})
    target[_misspell(real_key)] = node.get(real_key, True)
    with pytest.raises(helm_python.HelmValuesError, match="additional propert"):
        validate_values(chart, overrides)
    with pytest.raises(helm_python.HelmValuesError):
        render(chart, overrides)


@pytest.mark.parametrize(("chart", "case"), CASE_PARAMS)
def test_every_value_set_passes_the_schema(chart: str, case: str) -> None:
    validate_values(chart, CASES[chart][case])


@pytest.mark.parametrize(
    ("chart", "values", "message"),
    [
        ("auth", {"podDisruptionBudget": {"maxUnavailable": 0}}, "maxUnavailable"),
        ("orders", {"podDisruptionBudget": {"maxUnavailable": "0%"}}, "maxUnavailable"),
        ("auth", {"secrets": {"keyEncryptionKey": "too-short"}}, "keyEncryptionKey"),
        ("auth", {"config": {"accessTokenTtlSeconds": 60}}, "accessTokenTtlSeconds"),
        ("orders", {"secrets": {"redisUrl": "http://not-redis"}}, "redisUrl"),
        ("stack", {"postgresql": {"databases": [{"name": "Auth DB", "password": "x"}]}}, "name"),
    ],
)
def test_values_schema_rejects_bad_values(chart: str, values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm_python.HelmValuesError, match=message):
        validate_values(chart, values)


@pytest.mark.parametrize("chart", ["auth", "orders"])
def test_production_refuses_secrets_rendered_from_values(chart: str) -> None:
    with pytest.raises(helm_python.HelmRenderError, match="existingSecret"):
        render(chart, {"config": {"environment": "production"}})


@pytest.mark.parametrize("chart", CHARTS)
def test_readme_documents_every_value(chart: str) -> None:
    """Every value has a description (value_docs raises otherwise) and the README table is the
    one generated from values.yaml (`python scripts/chart_docs.py` refreshes it)."""
    docs = value_docs(CHARTS_DIR / chart)
    assert docs
    readme = (CHARTS_DIR / chart / "README.md").read_text()
    assert values_table(CHARTS_DIR / chart) in readme, "run: python scripts/chart_docs.py"
    top_level = {d.path.split(".")[0] for d in docs}
    assert top_level == set(chart_defaults(chart)), "a top-level value is missing from the docs"
