"""Generated requests (schemathesis) against the live sidecar's own OpenAPI document.

For every operation in `/openapi.json`, schema-valid (positive) and schema-violating (negative)
requests are generated and sent, authenticated as alice so they reach the handlers and, where
valid, Vault. Every response must be no 5xx, a documented status, with the documented content
type and the documented schema for that status; a schema-valid request must never be refused as
schema-invalid (422), or the document misleads its readers — REST clients and the MCP tools'
input schemas alike. The cases are counted per operation and mode, so an empty or truncated
run fails instead of passing quietly.

The default run is derandomized (the same cases every time: `make test` must not be flaky);
`ADVERSARIAL_LONG=1` multiplies the cases and draws fresh ones on every run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given
from schemathesis import Case, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.schemas import OpenApiSchema

from devkit.openbao import OpenBao
from devkit.sidecar import SidecarProcess
from tests.adversarial.conftest import ALICE_KEY, Audit, long_run
from vault_mcp_sidecar.operations import OPERATION_SCOPES

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Examples per (operation, mode): 8 operations with inputs x 2 modes x 70 = 1,120 cases in the
# default run, plus `whoami`, which has no input to vary (one positive case).
DEFAULT_EXAMPLES = 70
EXAMPLES = DEFAULT_EXAMPLES * (10 if long_run() else 1)
MIN_DEFAULT_CASES = 1000
NO_INPUT = {"whoami"}
POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
RUNS = [
    (operation, mode)
    for operation in sorted(OPERATION_SCOPES)
    for mode in (POSITIVE, NEGATIVE)
    if not (operation in NO_INPUT and mode is NEGATIVE)
]


def floor(operation_id: str, examples: int = EXAMPLES) -> int:
    """The fewest cases that count as a real run. Hypothesis may stop short of max_examples
    when it runs out of distinct inputs; `whoami` has exactly one."""
    return 1 if operation_id in NO_INPUT else int(examples * 0.9)


@pytest.fixture(scope="module")
def api_schema(hs_sidecar: SidecarProcess) -> OpenApiSchema:
    """The sidecar's OpenAPI document, as served, loaded by schemathesis."""
    return schemathesis.openapi.from_url(
        f"{hs_sidecar.url}/openapi.json", config=schemathesis.Config()
    )


@pytest.fixture(scope="module")
def alice_http() -> Iterator[requests.Session]:
    """The HTTP session the cases are sent on (schemathesis sends with requests)."""
    with requests.Session() as http:
        http.headers["X-API-Key"] = ALICE_KEY
        yield http


def as_sent(case: Case[Any]) -> Case[Any]:
    """`{path}` is a multi-segment secret path (`{path:path}`), which OpenAPI cannot express:
    schemathesis percent-encodes the whole value, and the sidecar refuses any percent-encoding
    in a path (DESIGN §5). Send its `/` as a separator, so valid paths reach the handlers."""
    if case.path_parameters and "path" in case.path_parameters:
        value = str(case.path_parameters["path"])
        case.path_parameters = {**case.path_parameters, "path": value.replace("%2F", "/")}
    return case


def run_operation(
    schema: OpenApiSchema, operation_id: str, mode: GenerationMode, http: requests.Session
) -> Counter[int]:
    """Send generated cases for one operation in one mode; how many got each status."""
    operation = schema.find_operation_by_id(operation_id)
    statuses: Counter[int] = Counter()

    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=not long_run(),
        database=None,
        # Schemathesis' strategies filter heavily in negative mode; that is not a problem here.
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def send(case: Case[Any]) -> None:
        response = as_sent(case).call_and_validate(session=http, checks=CHECKS)
        statuses[response.status_code] += 1
        if mode is POSITIVE:
            assert response.status_code != 422, f"schema-valid request refused: {response.text}"

    send()
    return statuses


@pytest.mark.parametrize(
    ("operation_id", "mode"), [pytest.param(o, m, id=f"{o}-{m.value}") for o, m in RUNS]
)
def test_generated_requests_conform(
    api_schema: OpenApiSchema,
    adv_bao: OpenBao,
    alice_http: requests.Session,
    operation_id: str,
    mode: GenerationMode,
) -> None:
    audit = Audit.mark(adv_bao)
    statuses = run_operation(api_schema, operation_id, mode, alice_http)
    sent = sum(statuses.values())
    assert sent >= floor(operation_id), f"only {sent} cases generated: {dict(statuses)}"
    if mode is POSITIVE and operation_id not in NO_INPUT:
        # Authenticated, schema-valid cases get past the sidecar's checks to Vault.
        assert audit.requests(), f"no case reached Vault: {dict(statuses)}"


def test_every_served_operation_is_generated(api_schema: OpenApiSchema) -> None:
    """The runs above cover exactly what the sidecar serves, and the default run adds up to
    at least 1,000 cases (each run asserts its own share)."""
    served = set()
    for result in api_schema.get_all_operations():
        assert isinstance(result, Ok), result  # the document itself is valid OpenAPI
        served.add(api_schema.get_operation_id(result.ok()))
    assert served == set(OPERATION_SCOPES)
    assert sum(floor(operation, DEFAULT_EXAMPLES) for operation, _ in RUNS) >= MIN_DEFAULT_CASES
