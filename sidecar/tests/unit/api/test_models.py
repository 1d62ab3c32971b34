"""api.models: request bodies hold plain JSON only (no NaN or Infinity for Vault to choke on)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from vault_mcp_sidecar.api.models import WriteSecretRequest


@pytest.mark.parametrize(
    "body",
    [
        '{"data": {"x": NaN}}',
        '{"data": {"x": Infinity}}',
        '{"data": {"x": -Infinity}}',
        '{"data": {"x": 1e999}}',
        '{"data": {"x": [1, {"y": [NaN]}]}}',
    ],
)
def test_non_finite_numbers_are_refused(body: str) -> None:
    # json.loads, as the request body is parsed, takes these; JSON (and Vault) does not.
    with pytest.raises(ValidationError, match="NaN and Infinity"):
        WriteSecretRequest.model_validate(json.loads(body))


@pytest.mark.parametrize(
    "data", [{"x": 1.5}, {"x": [1, 2.0, {"y": -0.0}]}, {"x": None}, {}, {"x": {"y": {"z": "w"}}}]
)
def test_plain_json_passes(data: dict[str, Any]) -> None:
    assert WriteSecretRequest.model_validate({"data": data}).data == data


def test_deep_nesting_does_not_recurse() -> None:
    deep: Any = 1.0
    for _ in range(5000):
        deep = [deep]
    assert WriteSecretRequest.model_validate({"data": {"x": deep}}).data["x"] is deep
