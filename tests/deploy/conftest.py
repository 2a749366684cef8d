"""Each service's image, built once per session by replaying its Dockerfile locally."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.dockerfile import REPO_ROOT, EmulatedImage, emulate_build

ImageFactory = Callable[[str], EmulatedImage]


@pytest.fixture(scope="session")
def service_image(tmp_path_factory: pytest.TempPathFactory) -> ImageFactory:
    built: dict[str, EmulatedImage] = {}

    def build(service: str) -> EmulatedImage:
        if service not in built:
            root = tmp_path_factory.mktemp(f"image-{service}")
            built[service] = emulate_build(
                REPO_ROOT / "Dockerfile", REPO_ROOT, root, {"SERVICE": service}
            )
        return built[service]

    return build
