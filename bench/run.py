"""`make bench`: every scenario under wrk, with ratios to a baseline measured in this run.

Server: one uvicorn worker pinned to core 0. Load: wrk pinned to core 1, loopback only.
Settings: BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 64), BENCH_ONLY (substring).
"""

from __future__ import annotations

import os
import sys
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.rsa_sign import pinned_sign_rate
from bench.scenarios import SCENARIOS
from bench.stack import SERVER_CORE, bench_stack
from bench.wrk import WrkResult, run_wrk

LOAD_CORE = 1


def wait_drained(base: str, *, timeout_s: float = 120) -> None:
    """Wait until the server has finished what a saturating run left it (its in-flight gauge
    counts only this scrape). wrk stops sending at the end of a run, not the server serving:
    requests its 64 connections queued are still served after they closed, and a half-load
    run started at once measured that backlog (a 2 ms endpoint: p99 103 ms in the first run
    after its peak, 9 ms in the two after it)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        scrape = httpx.get(base + "/metrics", timeout=timeout_s).text
        in_flight = [
            sample.value
            for family in text_string_to_metric_families(scrape)
            for sample in family.samples
            if sample.name == "http_requests_in_flight"
        ]
        if in_flight and sum(in_flight) <= 1:
            return
    raise TimeoutError(f"{base} still had requests in flight after {timeout_s:.0f} s")


def main() -> int:
    seconds = int(os.environ.get("BENCH_SECONDS", "10"))
    connections = int(os.environ.get("BENCH_CONNECTIONS", "64"))
    only = os.environ.get("BENCH_ONLY", "")
    results: list[tuple[str, WrkResult]] = []
    half: dict[str, WrkResult] = {}
    signing: dict[str, tuple[float, float, float]] = {}
    with bench_stack() as stack:
        for scenario in SCENARIOS:
            if only and only not in scenario.name and scenario.server != "baseline":
                continue
            base = stack.start(scenario.server)
            req = scenario.prepare(stack)
            run_wrk(
                base + req.path,
                core=LOAD_CORE,
                seconds=2,
                connections=connections,
                method=req.method,
                headers=req.headers,
                body=req.body,
            )  # warm-up
            sign_before = pinned_sign_rate(SERVER_CORE) if scenario.signs else 0.0
            result = run_wrk(
                base + req.path,
                core=LOAD_CORE,
                seconds=seconds,
                connections=connections,
                method=req.method,
                headers=req.headers,
                body=req.body,
            )
            results.append((scenario.name, result))
            if scenario.signs:
                signing[scenario.name] = (result.rps, sign_before, pinned_sign_rate(SERVER_CORE))
            print(f"  measured {scenario.name}: {result.rps:,.0f} req/s", flush=True)
            if scenario.half_load:
                wait_drained(base)
                half[scenario.name] = run_wrk(
                    base + req.path,
                    core=LOAD_CORE,
                    seconds=seconds,
                    connections=connections,
                    method=req.method,
                    headers=req.headers,
                    body=req.body,
                    rate=result.rps / 2,
                )
    baseline = results[0][1]
    print()
    print(f"{'scenario':<48} {'req/s':>10} {'ratio':>6} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, r in results:
        print(
            f"{name:<48} {r.rps:>10,.0f} {r.rps / baseline.rps:>6.2f} {r.p50_ms:>8.2f} "
            f"{r.p99_ms:>8.2f} {r.errors:>7}"
        )
    for name, r in half.items():
        print(
            f"{name} at half of its peak: {r.rps:,.0f} req/s, p50 {r.p50_ms:.2f} ms, "
            f"p99 {r.p99_ms:.2f} ms"
        )
    print(f"\n1 uvicorn worker on core 0, wrk -t1 -c{connections} -d{seconds}s on core 1")
    for name, (rps, before, after) in signing.items():
        # The signing limit on the same core, measured just before and just after the run:
        # issuance can never beat one signature per token, and the core's speed drifts.
        limit = (before + after) / 2
        print(
            f"raw RSA-2048 sign (cryptography) on core {SERVER_CORE}: {before:,.0f} sign/s "
            f"before, {after:,.0f} after"
        )
        print(f"{name}: {rps / limit:.0%} of the raw signing rate (their mean)")
    return 1 if any(r.errors for _, r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
