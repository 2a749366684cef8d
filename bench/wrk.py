"""Drive one URL with wrk (pinned to its own core) and parse requests/s and latency percentiles."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not match:
        raise ValueError(f"unparsable wrk latency {text!r}")
    return float(match[1]) * _UNITS[match[2]]


def parse(output: str) -> WrkResult:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])  # type: ignore[index]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M)[1])  # type: ignore[index]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M)[1])  # type: ignore[index]
    errors = 0
    if m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output):
        errors += int(m[1])
    if m := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    ):
        errors += sum(int(x) for x in m.groups())
    return WrkResult(rps, p50, p99, errors)


def lua_script(
    method: str, headers: dict[str, str], body: bytes | None, *, delay_ms: float | None = None
) -> str:
    lines = [f'wrk.method = "{method}"']
    if delay_ms is not None:
        # Each connection waits a random, exponentially distributed time (mean `delay_ms`)
        # before its next request, so arrivals are close to a Poisson process of about
        # connections / delay, as from independent clients. A fixed delay kept the connections
        # in step: they fired in bursts of all 64 and measured the burst's queue, not the load
        # (measured on one server at the same 500 req/s: p50 18 ms fixed, 4 ms random).
        # Latency is measured from the send (wrk excludes the delay).
        lines.append(
            f"function delay() return math.floor(-math.log(1 - math.random()) * {delay_ms:.3f}) end"
        )
    for name, value in headers.items():
        lines.append(f'wrk.headers["{name}"] = "{value}"')
    if body is not None:
        escaped = body.decode().replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'wrk.body = "{escaped}"')
    return "\n".join(lines) + "\n"


def run_wrk(
    url: str,
    *,
    core: int,
    seconds: int,
    connections: int,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    rate: float | None = None,
) -> WrkResult:
    """One wrk run; with `rate`, each connection is paced to offer about `rate` req/s in all
    (wrk has no open-loop mode; the pacing is per connection, so measure what it achieved)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed: apt-get install wrk")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        delay_ms = connections / rate * 1000 if rate else None
        script.write(lua_script(method, headers or {}, body, delay_ms=delay_ms))
    try:
        out = subprocess.run(
            [
                "taskset",
                "-c",
                str(core),
                wrk,
                "-t1",
                f"-c{connections}",
                f"-d{seconds}s",
                "--latency",
                # wrk's default (2 s) counts a slower answer as a socket error and leaves it
                # out of the percentiles; at saturation a few answers take that long, and
                # they belong in the p99 (an answer that never comes still fails the run).
                "--timeout",
                "30s",
                "-s",
                script.name,
                url,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=seconds + 30,
        ).stdout
    finally:
        Path(script.name).unlink(missing_ok=True)
    return parse(out)
