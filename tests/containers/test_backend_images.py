"""TEST_BACKEND=containers picks images that exist here: the configured ones, else the official
ones when present or pullable, else the local ones `make images` built from Debian packages."""

from __future__ import annotations

import pytest
from docker import DockerClient

from tests.containers.engine import Engine
from tests.support.backends import LOCAL_IMAGES, OFFICIAL_IMAGES, container_image


@pytest.mark.parametrize("kind", ["postgres", "redis"])
def test_backend_image_falls_back_to_the_local_one(
    engine: Engine, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(f"TEST_{kind.upper()}_IMAGE", raising=False)
    client = DockerClient(base_url=engine.host)
    try:
        if engine.has_image(OFFICIAL_IMAGES[kind]):
            expected = OFFICIAL_IMAGES[kind]
        else:
            pulled = engine.run("pull", OFFICIAL_IMAGES[kind], check=False, timeout=120)
            expected = OFFICIAL_IMAGES[kind] if pulled.returncode == 0 else LOCAL_IMAGES[kind]
        assert container_image(client, kind) == expected
        assert engine.has_image(expected)
        monkeypatch.setenv(f"TEST_{kind.upper()}_IMAGE", "example/configured:1")
        assert container_image(client, kind) == "example/configured:1"
    finally:
        client.close()
