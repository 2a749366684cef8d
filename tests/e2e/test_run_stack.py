"""`make run`'s script brings both services up on embedded servers and leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from servicekit.embedded import free_port
from tests.support.processes import REPO_ROOT


def _leftovers(marker: str, *, wait_s: float = 10) -> list[str]:
    """Processes whose command line holds `marker`, after giving exiting ones `wait_s`."""
    deadline = time.monotonic() + wait_s
    while True:
        found = []
        for proc in psutil.process_iter(["cmdline", "status"]):
            cmd = " ".join(proc.info["cmdline"] or [])
            if marker in cmd and proc.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(cmd)
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_run_stack_serves_both_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    auth_port, orders_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH_", "ORDERS_", "TEST_"))}
    env |= {
        "STACK_DATA_DIR": str(tmp_path / "data"),
        "AUTH_PORT": str(auth_port),
        "ORDERS_PORT": str(orders_port),
    }
    log = (tmp_path / "stack.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "scripts/run_stack.py"],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        up = False
        while time.monotonic() < deadline and not up:
            assert proc.poll() is None, (tmp_path / "stack.log").read_text()
            try:
                up = all(
                    httpx.get(f"http://127.0.0.1:{p}/health/live").status_code == 200
                    for p in (auth_port, orders_port)
                )
            except httpx.TransportError:
                time.sleep(0.2)
        assert up, (tmp_path / "stack.log").read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=90) == 0
    output = (tmp_path / "stack.log").read_text()
    assert f"http://127.0.0.1:{auth_port}" in output
    assert _leftovers(str(tmp_path)) == []
    assert _leftovers(f"--port {auth_port}") == []
    assert _leftovers(f"--port {orders_port}") == []
    assert (tmp_path / "data" / "postgres" / "PG_VERSION").exists()
