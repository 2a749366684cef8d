"""Every operation of both OpenAPI documents, fuzzed as every caller against real processes.

The documents are built in-process at collection time (one pytest item per operation and
caller); the `test_the_fuzzed_*_document_is_the_served_one` tests prove they are exactly
what the running processes serve, so nothing the processes expose escapes the fuzzer.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from schemathesis import Case

from auth_service.main import create_app as create_auth_app
from auth_service.settings import AuthSettings
from orders_service.main import create_app as create_orders_app
from orders_service.settings import OrdersSettings
from tests.fuzz.conftest import CALLERS, AuthUnderFuzz, issuer_headers
from tests.fuzz.harness import call_and_validate, schema_from_document
from tests.support.processes import ServiceProcess
from tests.support.tokens import JwksServer, TestIssuer

# Schema fuzzing of both running services: minutes, not seconds.
pytestmark = pytest.mark.slow

AUTH_DOCUMENT: dict[str, Any] = create_auth_app(AuthSettings(environment="test")).openapi()
ORDERS_DOCUMENT: dict[str, Any] = create_orders_app(OrdersSettings(environment="test")).openapi()

auth_api = schema_from_document(AUTH_DOCUMENT)
orders_api = schema_from_document(ORDERS_DOCUMENT)


def _served(proc: ServiceProcess) -> dict[str, Any]:
    response = httpx.get(proc.base_url + "/openapi.json", timeout=10)
    assert response.status_code == 200
    served: dict[str, Any] = response.json()
    return served


def test_the_fuzzed_auth_document_is_the_served_one(auth_process: ServiceProcess) -> None:
    assert _served(auth_process) == AUTH_DOCUMENT


def test_the_fuzzed_orders_document_is_the_served_one(orders_process: ServiceProcess) -> None:
    assert _served(orders_process) == ORDERS_DOCUMENT


@pytest.mark.parametrize("caller", CALLERS)
@auth_api.parametrize()
def test_auth_api_holds_against_generated_input(
    case: Case[Any], caller: str, fuzz_auth: AuthUnderFuzz
) -> None:
    """For any request the auth document allows (and many it forbids), as any caller: no 5xx,
    answers as documented, every error problem+json, protective headers on every answer."""
    call_and_validate(case, fuzz_auth.process.base_url, fuzz_auth.headers(caller))


@pytest.mark.parametrize("caller", CALLERS)
@orders_api.parametrize()
def test_orders_api_holds_against_generated_input(
    case: Case[Any],
    caller: str,
    orders_process: ServiceProcess,
    fuzz_issuer: tuple[TestIssuer, JwksServer],
) -> None:
    """The same laws for every operation of the orders document."""
    call_and_validate(case, orders_process.base_url, issuer_headers(fuzz_issuer[0], caller))
