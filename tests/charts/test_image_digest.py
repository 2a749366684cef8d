"""Image digests are accepted wherever a tag is: `image.digest` pins every container of a
chart (`repository@sha256:...`, or `repository:tag@sha256:...` beside a tag), and the values
schema refuses anything that is not a sha256 digest."""

from __future__ import annotations

from typing import Any

import helm_python
import pytest

from tests.support.k8s import SERVICE_CHARTS, containers, render, validate_values

DIGEST = "sha256:" + "0123456789abcdef" * 4
POD_KINDS = ("Deployment", "StatefulSet", "Job", "CronJob", "Pod")


def _images(chart: str, values: dict[str, Any]) -> set[str]:
    rendered = render(chart, values)
    return {c["image"] for m in rendered.of_kind(*POD_KINDS) for c in containers(m)}


@pytest.mark.parametrize("chart", SERVICE_CHARTS)
def test_a_digest_pins_every_container_of_a_service_chart(chart: str) -> None:
    repo = f"{chart}-service"
    assert _images(chart, {}) == {f"{repo}:0.1.0"}
    assert _images(chart, {"image": {"digest": DIGEST}}) == {f"{repo}@{DIGEST}"}
    assert _images(chart, {"image": {"tag": "1.2.3", "digest": DIGEST}}) == {
        f"{repo}:1.2.3@{DIGEST}"
    }


def test_a_digest_pins_the_stack_images() -> None:
    values = {"postgresql": {"image": {"digest": DIGEST}}, "redis": {"image": {"digest": DIGEST}}}
    pinned = {f"postgres:17-alpine@{DIGEST}", f"redis:7.4-alpine@{DIGEST}"}
    assert _images("stack", values) == pinned
    assert _images("stack", {}) == {"postgres:17-alpine", "redis:7.4-alpine"}


BAD_DIGESTS = [
    "sha256:abc",  # too short
    "sha256:" + "0123456789ABCDEF" * 4,  # OCI digests are lower-case hex
    "md5:" + "0" * 32,  # another algorithm
    "0123456789abcdef" * 4,  # no algorithm
    "@" + DIGEST,  # the separator belongs to the reference, not the value
]


@pytest.mark.parametrize("digest", BAD_DIGESTS)
@pytest.mark.parametrize("chart", SERVICE_CHARTS)
def test_service_chart_schema_refuses_a_malformed_digest(chart: str, digest: str) -> None:
    with pytest.raises(helm_python.HelmValuesError, match="digest"):
        validate_values(chart, {"image": {"digest": digest}})


@pytest.mark.parametrize("digest", BAD_DIGESTS)
def test_stack_chart_schema_refuses_a_malformed_digest(digest: str) -> None:
    with pytest.raises(helm_python.HelmValuesError, match="digest"):
        validate_values("stack", {"redis": {"image": {"digest": digest}}})
