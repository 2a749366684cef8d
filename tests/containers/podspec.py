"""`docker run` flags for a container as a chart's pod spec runs it.

The rendered pod's security context (user and group, read-only root, capabilities, privilege
escalation), its resource limits and its emptyDir mounts (as tmpfs) become the equivalent
Docker options, so the containers tier runs the images under the charts' own constraints.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

_BINARY = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30}


def memory_bytes(quantity: str) -> int:
    for suffix, factor in _BINARY.items():
        if quantity.endswith(suffix):
            return int(Decimal(quantity.removesuffix(suffix)) * factor)
    return int(Decimal(quantity))


def cpus(quantity: str) -> Decimal:
    if quantity.endswith("m"):
        return Decimal(quantity[:-1]) / 1000
    return Decimal(quantity)


def run_flags(pod: Mapping[str, Any], container: Mapping[str, Any]) -> list[str]:
    security = {**pod.get("securityContext", {}), **container.get("securityContext", {})}
    user, group = security["runAsUser"], security.get("runAsGroup", security["runAsUser"])
    if security.get("runAsNonRoot"):
        assert user != 0, "runAsNonRoot with user 0"
    flags = ["--user", f"{user}:{group}"]
    if security.get("readOnlyRootFilesystem"):
        flags.append("--read-only")
    if security.get("allowPrivilegeEscalation") is False:
        flags += ["--security-opt", "no-new-privileges"]
    capabilities = security.get("capabilities", {})
    for name in capabilities.get("drop", []):
        flags += ["--cap-drop", name]
    for name in capabilities.get("add", []):
        flags += ["--cap-add", name]
    limits = container.get("resources", {}).get("limits", {})
    if "memory" in limits:
        flags += ["--memory", str(memory_bytes(limits["memory"]))]
    if "cpu" in limits:
        flags += ["--cpus", str(cpus(limits["cpu"]))]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        assert "emptyDir" in volume, f"only emptyDir volumes are run here: {volume}"
        size = volume["emptyDir"].get("sizeLimit")
        options = f"rw,size={memory_bytes(size)}" if size else "rw"
        flags += ["--tmpfs", f"{mount['mountPath']}:{options}"]
    return flags
