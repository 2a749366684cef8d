"""skaffold.yaml: valid for skaffold/v4beta14, and naming Dockerfiles, charts and values that
exist and that the charts accept."""

from __future__ import annotations

import json
import re
from typing import Any

import helm_python
import jsonschema
import pytest
import yaml

from tests.support.dockerfile import REPO_ROOT
from tests.support.k8s import load_values_file, render, validate_values

SCHEMAS = REPO_ROOT.parent / "shared" / "schemas"


def _skaffold() -> dict[str, Any]:
    loaded = yaml.safe_load((REPO_ROOT / "skaffold.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def _profiles() -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in _skaffold()["profiles"]}


def _releases(profile: str) -> list[dict[str, Any]]:
    releases: list[dict[str, Any]] = _profiles()[profile]["deploy"]["helm"]["releases"]
    return releases


def test_skaffold_validates_against_v4beta14() -> None:
    schema = json.loads((SCHEMAS / "skaffold-v4beta14.json").read_text())
    config = _skaffold()
    assert config["apiVersion"] == "skaffold/v4beta14"
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(config))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]
    config["build"]["artifacts"][0]["docker"]["dockerFile"] = "typo"
    assert list(jsonschema.Draft7Validator(schema).iter_errors(config)), "the check can fail"


def test_one_artifact_per_service_built_from_the_repository_root() -> None:
    artifacts = {a["image"]: a for a in _skaffold()["build"]["artifacts"]}
    assert set(artifacts) == {"auth-service", "orders-service"}
    for image, artifact in artifacts.items():
        service = image.removesuffix("-service")
        assert artifact["context"] == "."
        dockerfile = artifact["docker"]["dockerfile"]
        assert dockerfile == "Dockerfile", "one Dockerfile for both services"
        assert (REPO_ROOT / dockerfile).is_file()
        assert artifact["docker"]["buildArgs"] == {"SERVICE": service}


def test_profiles_dev_and_prod() -> None:
    profiles = _profiles()
    assert set(profiles) == {"dev", "prod"}
    dev = {r["name"]: r for r in _releases("dev")}
    prod = {r["name"]: r for r in _releases("prod")}
    assert list(dev) == ["stack", "auth", "orders"], "dev brings PostgreSQL and Redis first"
    assert dev["stack"]["chartPath"] == "charts/stack"
    assert dev["stack"]["wait"] is True
    assert "stack" in dev["auth"]["dependsOn"]
    assert "stack" in dev["orders"]["dependsOn"]
    assert list(prod) == ["auth", "orders"], "prod runs no in-cluster database"
    for release in [*dev.values(), *prod.values()]:
        for key, value in {
            **release.get("setValues", {}),
            **release.get("setValueTemplates", {}),
        }.items():
            assert isinstance(value, str), f"{release['name']}: {key} must be a string for --set"


def _helm_values(release: dict[str, Any], images: dict[str, str]) -> dict[str, Any]:
    """The values `helm upgrade --install` gets from skaffold: values files, then --set."""
    values: dict[str, Any] = {}
    for path in release.get("valuesFiles", []):
        values = _deep_merge(values, load_values_file(REPO_ROOT / path))
    settings = {**release.get("setValues", {}), **release.get("setValueTemplates", {})}
    for key, template in settings.items():
        rendered = re.sub(r"\{\{\s*\.(\w+)\s*\}\}", lambda m: images[m.group(1)], str(template))
        values = _deep_merge(values, helm_python.parse_set_string(f"{key}={rendered}"))
    return values


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _template_variables() -> dict[str, str]:
    """What skaffold puts in setValueTemplates for each built artifact."""
    variables = {}
    for artifact in _skaffold()["build"]["artifacts"]:
        key = re.sub(r"[^A-Za-z0-9]", "_", artifact["image"])
        variables[f"IMAGE_REPO_{key}"] = f"registry.example/{artifact['image']}"
        variables[f"IMAGE_TAG_{key}"] = "abc123"
        variables[f"IMAGE_DIGEST_{key}"] = "sha256:" + "0" * 64
    return variables


RELEASES = [
    pytest.param(profile, i, id=f"{profile}-{release['name']}")
    for profile in ("dev", "prod")
    for i, release in enumerate(_releases(profile))
]


@pytest.mark.parametrize(("profile", "index"), RELEASES)
def test_release_renders_with_the_images_skaffold_built(profile: str, index: int) -> None:
    release = _releases(profile)[index]
    chart_dir = REPO_ROOT / release["chartPath"]
    assert (chart_dir / "Chart.yaml").is_file()
    for path in release.get("valuesFiles", []):
        assert (REPO_ROOT / path).is_file()
    variables = _template_variables()
    for template in release.get("setValueTemplates", {}).values():
        for used in re.findall(r"\{\{\s*\.(\w+)\s*\}\}", template):
            assert used in variables, f"{used} is not an artifact of this skaffold.yaml"
    values = _helm_values(release, variables)
    validate_values(chart_dir.name, values)
    rendered = render(chart_dir.name, values, release=release["name"])
    if "setValueTemplates" in release:
        image = rendered.deployment()["spec"]["template"]["spec"]["containers"][0]["image"]
        artifact = f"{release['name']}-service"
        assert image == f"registry.example/{artifact}:abc123@sha256:{'0' * 64}"
    if profile == "prod" and release["name"] != "stack":
        assert values["secrets"]["existingSecret"], "prod takes its URLs from an existing Secret"
        assert values["config"]["environment"] == "production"


def test_every_artifact_is_deployed_in_every_profile() -> None:
    images = {a["image"] for a in _skaffold()["build"]["artifacts"]}
    for profile in ("dev", "prod"):
        used = {
            m.group(1)
            for r in _releases(profile)
            for t in r.get("setValueTemplates", {}).values()
            for m in re.finditer(r"IMAGE_REPO_(\w+)", t)
        }
        assert used == {re.sub(r"[^A-Za-z0-9]", "_", i) for i in images}, profile
