"""Run a service as a real process on a free loopback port, for e2e tests.

The process is what a container runs: servicekit's runner around uvicorn (`<service> serve`,
here `python -m servicekit.web.serve <module:factory>`), so SIGTERM drains and exits 0.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from servicekit.data.embedded import free_port
from tests.support.environment import clean_environ
from tests.support.waiting import START_TIMEOUT_S, wait_http_ok

REPO_ROOT = Path(__file__).resolve().parents[2]

# No load balancer drains a test's process: stop at once unless a test sets a drain window.
_FAST_STOP = {"AUTH_DRAIN_WINDOW_S": "0", "ORDERS_DRAIN_WINDOW_S": "0"}


@dataclass
class ServiceProcess:
    """`python -m servicekit.web.serve <app>` with the given env; stdout+stderr kept in a log
    file."""

    app: str
    env: Mapping[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    extra_args: tuple[str, ...] = ()
    # What follows the interpreter instead of `-m servicekit.web.serve <app>`, e.g.
    # `("-m", "auth_service.cli", "serve")`: the console script's own serve command.
    command: tuple[str, ...] | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(
        self, *, ready_path: str = "/health/live", timeout_s: float = START_TIMEOUT_S
    ) -> ServiceProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        cmd = [
            sys.executable,
            *(self.command or ("-m", "servicekit.web.serve", self.app)),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            *self.extra_args,
        ]
        self.process = subprocess.Popen(
            cmd,
            env={**clean_environ(), **_FAST_STOP, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
        )
        process = self.process
        try:
            wait_http_ok(
                self.base_url + ready_path,
                within_s=timeout_s,
                alive=lambda: process.poll() is None,
                describe=lambda: f"{self.app}:\n{self.read_log()[-4000:]}",
            )
        except BaseException:
            self.stop()
            raise
        return self

    def read_log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, *, timeout_s: float = 40) -> int | None:
        proc, self.process = self.process, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode
