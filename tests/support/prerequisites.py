"""What a test needs from the machine: skipped on a laptop, a failure under CI.

A skip that CI tolerates hides a broken run (chromium not installed, no PID namespaces), so
`require` is the one way a test states a prerequisite. The cluster tier is the only allowed CI
skip; `ALLOWED_CI_SKIPS` names it so the terminal summary can say why it did not run.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

# Reasons the summary reports for tiers that never run on CI, keyed by marker.
ALLOWED_CI_SKIPS = {
    "cluster": "needs KUBECONFIG pointing at a Kubernetes cluster (CI has none)",
}


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def missing(reason: str, *, allow_module_level: bool = False) -> NoReturn:
    """Skip locally; fail under CI, naming what is missing."""
    if under_ci():
        pytest.fail(f"missing prerequisite under CI: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=allow_module_level)


def require(condition: object, reason: str, *, allow_module_level: bool = False) -> None:
    """Continue when `condition` holds; otherwise `missing(reason)`."""
    if not condition:
        missing(reason, allow_module_level=allow_module_level)
