"""Stateful flows over orders' API, as an editor and as an admin, against the real process."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, Phase, settings

from tests.fuzz.conftest import issuer_headers
from tests.fuzz.harness import profile, schema_from_document
from tests.fuzz.stateful import (
    ORDERS_LINKS,
    HardenedFlows,
    run_tolerating_changed_data,
    with_links,
)
from tests.fuzz.test_fuzz_services import ORDERS_DOCUMENT
from tests.support.processes import ServiceProcess
from tests.support.tokens import JwksServer, TestIssuer

# Stateful walks over a running service: minutes, not seconds.
pytestmark = pytest.mark.slow

ORDERS_FLOWS = schema_from_document(with_links(ORDERS_DOCUMENT, ORDERS_LINKS), infer_links=False)
# Suites per test: Hypothesis ends a suite when a walk meets data an earlier walk changed.
SUITES = 3


@pytest.mark.parametrize("caller", ["editor", "admin"])
def test_orders_flows_hold(
    caller: str, orders_process: ServiceProcess, fuzz_issuer: tuple[TestIssuer, JwksServer]
) -> None:
    """For any walk along the links (create an item, then read, patch, delete or order it; create
    a pedido, then extend, confirm, process, ship, deliver or cancel it): every answer passes
    every check, and the walks do reach created items and pedidos."""
    machine = ORDERS_FLOWS.as_state_machine()
    flows: type[HardenedFlows] = type(
        "OrdersFlows",
        (HardenedFlows, machine),
        {
            "base_url": orders_process.base_url,
            "headers": issuer_headers(fuzz_issuer[0], caller),
            "seen": Counter(),
            "failures": [],
        },
    )
    chosen = profile()
    suite = settings(
        max_examples=chosen.stateful_examples,
        stateful_step_count=chosen.stateful_steps,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        # No shrinking: a shorter walk meets a server whose data the first one changed.
        phases=[Phase.explicit, Phase.generate],
    )
    for _ in range(SUITES):
        # A suite Hypothesis ends on changed data still had its check failures collected.
        run_tolerating_changed_data(lambda: flows.run(settings=suite))
    if flows.failures:
        raise flows.failures[0]
    assert flows.seen[("POST /api/v1/items", 201)] > 0, flows.seen
    assert flows.seen[("POST /api/v1/pedidos", 201)] > 0, flows.seen
