"""auth and orders take their shared templates from one library chart (charts/servicelib)
instead of keeping copies: the dependency resolves the way Helm resolves it, the library
renders nothing of its own, and what is left in the service charts is their own."""

from __future__ import annotations

import re
import tarfile
from pathlib import Path

import helm_python
import yaml

from tests.support.k8s import CHARTS_DIR, SERVICE_CHARTS, containers, pod_spec, render

LIBRARY = CHARTS_DIR / "servicelib"


def _chart_yaml(path: Path) -> dict[str, object]:
    loaded = yaml.safe_load((path / "Chart.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_the_library_is_a_library_chart() -> None:
    assert _chart_yaml(LIBRARY)["type"] == "library"
    assert not (LIBRARY / "values.yaml").exists(), "a library chart's values would be ignored"
    templates = [p.name for p in (LIBRARY / "templates").iterdir()]
    assert templates
    assert all(name.startswith("_") for name in templates), templates


def test_service_charts_depend_on_the_library_through_a_file_repository() -> None:
    library_version = _chart_yaml(LIBRARY)["version"]
    for chart in SERVICE_CHARTS:
        meta = _chart_yaml(CHARTS_DIR / chart)
        assert meta["dependencies"] == [
            {"name": "servicelib", "version": library_version, "repository": "file://../servicelib"}
        ]
        # Vendored as a link, so Helm (and helm-python-sdk) load the library's own files:
        # there is no second copy to fall out of date.
        vendored = CHARTS_DIR / chart / "charts" / "servicelib"
        assert vendored.is_symlink()
        assert vendored.resolve() == LIBRARY.resolve()
        loaded = helm_python.Chart.load(str(CHARTS_DIR / chart))
        assert [(d["name"], d["type"]) for d in loaded.dependencies] == [("servicelib", "library")]


def test_the_library_renders_nothing_of_its_own() -> None:
    for chart in SERVICE_CHARTS:
        rendered = render(chart)
        assert all(s.startswith(f"{chart}/templates/") for s in rendered.sources), rendered.sources


def _normalised(text: str, chart: str) -> str:
    """A template with its chart's name taken out (what a copy-and-rename leaves behind)."""
    return re.sub(rf"\b{chart}\b", "<chart>", text, flags=re.IGNORECASE).strip()


def test_no_template_of_one_service_chart_is_a_renamed_copy_of_the_others() -> None:
    """Law: a template found under the same path in auth and orders, with each chart's name
    replaced by a placeholder, differs - or is a one-line include of the library."""
    auth_dir, orders_dir = (CHARTS_DIR / c / "templates" for c in SERVICE_CHARTS)
    for auth_file in auth_dir.rglob("*"):
        orders_file = orders_dir / auth_file.relative_to(auth_dir)
        if not auth_file.is_file() or not orders_file.is_file():
            continue
        a = _normalised(auth_file.read_text(), "auth")
        o = _normalised(orders_file.read_text(), "orders")
        if a == o:
            assert len(a.splitlines()) == 1, auth_file.name
            assert '"servicelib.' in a, auth_file.name


def test_library_templates_take_names_from_the_including_chart() -> None:
    for chart in SERVICE_CHARTS:
        rendered = render(chart, {"fullnameOverride": "renamed"}, release="r1")
        for manifest in rendered.manifests:
            assert manifest["metadata"]["name"].startswith("renamed"), manifest["metadata"]
            labels = manifest["metadata"].get("labels", {})
            assert labels.get("app.kubernetes.io/name") == chart
            assert labels.get("helm.sh/chart") == f"{chart}-0.1.0"
        (deployment,) = rendered.of_kind("Deployment")
        assert [c["name"] for c in containers(deployment)] == [chart]
        env_names = {e["name"] for c in containers(deployment) for e in c.get("env", [])}
        assert f"{chart.upper()}_DATABASE_URL" in env_names
        (job,) = rendered.of_kind("Job")
        (migrate,) = pod_spec(job)["containers"]
        assert migrate["command"][-4:] == ["-n", chart, "upgrade", "head"]
        assert [e["name"] for e in migrate["env"]] == [f"{chart.upper()}_DATABASE_URL"]


def test_a_packaged_service_chart_carries_the_library(tmp_path: Path) -> None:
    """`helm package` (what a registry push ships) follows the vendored link: the archive holds
    the library's files and renders the same objects as the chart directory."""
    for chart in SERVICE_CHARTS:
        archive = helm_python.package(str(CHARTS_DIR / chart), destination=str(tmp_path))
        with tarfile.open(archive) as packed:
            names = set(packed.getnames())
        assert f"{chart}/charts/servicelib/templates/_deployment.tpl" in names
        # Fixed secrets: left empty, each render draws a random key-encryption / cursor key.
        values = (
            {"secrets": {"keyEncryptionKey": "A" * 43 + "="}}
            if chart == "auth"
            else {"secrets": {"cursorSecret": "a-fixed-cursor-key"}}
        )
        renders = [
            helm_python.Chart.load(source).render(
                values, name=chart, namespace="apps", is_install=True
            )
            for source in (archive, str(CHARTS_DIR / chart))
        ]
        assert renders[0] == renders[1]
