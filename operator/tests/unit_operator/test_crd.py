"""The VaultAgent CRD: valid for current Kubernetes, and in step with the operator's model.

The CRD (crds/vaultagents.vaultmcp.dev.yaml) and `spec.VaultAgentSpec` describe the same
spec twice, once for the API server and once for the operator. These tests keep them from
drifting apart: same fields, enums, limits and defaults, and every value the operator
accepts passes the CRD's patterns (the CRD may only be stricter where the operator would
reject anyway).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args, get_origin

import annotated_types
import jsonschema
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from vault_mcp_operator.durations import DurationError, parse_duration
from vault_mcp_operator.spec import DeletionPolicy, VaultAgentSpec, parse_spec
from vault_mcp_sidecar.naming import InvalidName, agent_id, check_subject, check_transit_key
from vault_mcp_sidecar.scopes import Scope

CRD_PATH = Path(__file__).parents[3] / "crds" / "vaultagents.vaultmcp.dev.yaml"
CRD: dict[str, Any] = yaml.safe_load(CRD_PATH.read_text())
VERSION = CRD["spec"]["versions"][0]
ROOT = VERSION["schema"]["openAPIV3Schema"]
SPEC = ROOT["properties"]["spec"]
# Durations are seconds in the model and Go-style strings in the CRD.
DURATION_PATTERN = re.compile(SPEC["properties"]["token"]["properties"]["ttl"]["pattern"])


def test_crd_is_valid_for_the_latest_kubernetes_schemas() -> None:
    version = kubernetes_validate.latest_version()
    kubernetes_validate.validate(CRD, version, strict=True)


def test_names_and_printer_columns() -> None:
    spec = CRD["spec"]
    assert (spec["group"], spec["scope"], VERSION["name"]) == (
        "vaultmcp.dev",
        "Namespaced",
        "v1alpha1",
    )
    assert spec["names"]["kind"] == "VaultAgent"
    assert spec["names"]["plural"] == "vaultagents"
    assert spec["names"]["shortNames"] == ["va"]
    assert VERSION["subresources"] == {"status": {}}
    columns = [c["name"] for c in VERSION["additionalPrinterColumns"] if "priority" not in c]
    assert columns == ["Ready", "Agent ID", "Policy", "Age"]


# -- the CRD and the pydantic model ------------------------------------------------------


def _model_of(info: FieldInfo) -> type[BaseModel] | None:
    """The nested model of a field (`X`, `X | None`), if any."""
    candidates = [info.annotation, *get_args(info.annotation)]
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _fields(model: type[BaseModel], schema: dict[str, Any], path: str) -> Iterator[Any]:
    """(path, FieldInfo, CRD property) for every field of `model`, depth first."""
    for name, info in model.model_fields.items():
        key = info.alias or name
        prop = schema["properties"].get(key)
        yield f"{path}.{key}", info, prop
        nested = _model_of(info)
        if nested is not None and prop is not None:
            yield from _fields(nested, prop, f"{path}.{key}")


ALL_FIELDS = list(_fields(VaultAgentSpec, SPEC, "spec"))


def _model_keys(model: type[BaseModel]) -> set[str]:
    return {info.alias or name for name, info in model.model_fields.items()}


def test_every_model_field_is_in_the_crd_and_nothing_else() -> None:
    assert [path for path, _, prop in ALL_FIELDS if prop is None] == []
    for path, info, prop in [("spec", None, SPEC), *ALL_FIELDS]:
        model = VaultAgentSpec if info is None else _model_of(info)
        if model is not None:
            assert set(prop["properties"]) == _model_keys(model), path


def test_enums_are_the_models() -> None:
    assert SPEC["properties"]["scopes"]["items"]["enum"] == [scope.value for scope in Scope]
    policy = SPEC["properties"]["deletionPolicy"]
    assert policy["enum"] == [value.value for value in DeletionPolicy]


def _limits(info: FieldInfo) -> dict[str, int]:
    """The model's bounds of a field, named as the CRD names them."""
    is_list = get_origin(info.annotation) is tuple
    names = {
        annotated_types.MaxLen: ("max_length", "maxItems" if is_list else "maxLength"),
        annotated_types.MinLen: ("min_length", "minItems" if is_list else "minLength"),
        annotated_types.Ge: ("ge", "minimum"),
        annotated_types.Le: ("le", "maximum"),
    }
    limits: dict[str, int] = {}
    for item in info.metadata:
        for kind, (attribute, crd_name) in names.items():
            if isinstance(item, kind):
                limits[crd_name] = int(getattr(item, attribute))
    return limits


@pytest.mark.parametrize(("path", "info", "prop"), ALL_FIELDS, ids=[f[0] for f in ALL_FIELDS])
def test_limits_are_the_models(path: str, info: FieldInfo, prop: dict[str, Any]) -> None:
    limits = _limits(info)
    assert {key: prop[key] for key in limits if key in prop} == limits, path


def _defaulted(schema: dict[str, Any], value: dict[str, Any]) -> dict[str, Any]:
    """What the API server stores for `value` after applying the schema's defaults."""
    result = dict(value)
    for key, prop in schema.get("properties", {}).items():
        if key not in result and "default" in prop:
            result[key] = prop["default"]
        if isinstance(result.get(key), dict) and prop.get("type") == "object":
            result[key] = _defaulted(prop, result[key])
    return result


def test_crd_defaults_mean_what_the_model_defaults_mean() -> None:
    stored = _defaulted(SPEC, {})
    assert parse_spec(stored) == parse_spec({})
    # Every leaf default is spelled out, so `kubectl get -o yaml` shows what is in force.
    assert stored["token"] == {
        "ttl": "15m",
        "maxTTL": "1h",
        "childTTL": "90s",
        "childNumUses": 0,
        "childType": "service",
        "boundCIDRs": [],
    }


# -- what the schema rejects -----------------------------------------------------------


def _errors(spec: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(ROOT)
    document = {"apiVersion": "vaultmcp.dev/v1alpha1", "kind": "VaultAgent", "spec": spec}
    return [error.message for error in validator.iter_errors(document)]


def test_a_full_spec_passes() -> None:
    spec = {
        "scopes": ["read", "write", "list", "delete"],
        "transit": {"keys": ["payments"]},
        "token": {
            "ttl": "15m",
            "maxTTL": "1h",
            "childTTL": "90s",
            "childNumUses": 0,
            "childType": "batch",
            "boundCIDRs": ["10.0.0.0/8"],
        },
        "secretID": {"ttl": "24h"},
        "auth": {
            "apiKeys": {"secretRef": {"name": "alice-api-keys"}},
            "jwt": {
                "issuer": "https://issuer",
                "audience": "vault-mcp",
                "jwksURL": "https://issuer/jwks",
                "subjects": ["alice"],
            },
            "mtls": {"allowedIdentities": ["spiffe://cluster.local/ns/team-a/sa/alice"]},
        },
        "rateLimit": {"requests": 60, "windowSeconds": 60},
        "deletionPolicy": "Retain",
    }
    assert _errors(spec) == []
    parse_spec(spec)


@pytest.mark.parametrize(
    "spec",
    [
        {"scopes": ["admin"]},
        {"scopes": []},
        {"token": {"ttl": "15 minutes"}},
        {"token": {"ttl": ""}},
        {"secretID": {"ttl": "1d"}},
        {"transit": {"keys": ["../etc"]}},
        {"transit": {"keys": [f"k{i}" for i in range(33)]}},
        {"token": {"boundCIDRs": ["10.0.0.0/8"] * 33}},
        {"token": {"childNumUses": -1}},
        {"token": {"childType": "periodic"}},
        {"rateLimit": {"requests": 0}},
        {"deletionPolicy": "Purge"},
        {"auth": {"apiKeys": {"secretRef": {"name": "Not_A_Name"}}}},
        {"auth": {"jwt": {"jwksURL": "ftp://x"}}},
    ],
    ids=lambda spec: str(spec)[:40],
)
def test_schema_rejects_what_can_never_work(spec: dict[str, Any]) -> None:
    assert _errors(spec), spec
    with pytest.raises(ValueError, match="spec"):
        parse_spec(spec)  # the operator agrees, for a cluster without the CRD's checks


def test_cidrs_are_checked_by_format_and_cel() -> None:
    item = SPEC["properties"]["token"]["properties"]["boundCIDRs"]["items"]
    assert item["format"] == "cidr"
    assert "isCIDR(self)" in item["x-kubernetes-validations"][0]["rule"]


# -- patterns: the CRD never refuses what the operator accepts ----------------------------

_NAME_CHARS = st.text(alphabet="abcxyzABC0129._-/ :", min_size=0, max_size=70)


def _accepted(check: Any, value: str) -> bool:
    try:
        check(value)
    except (InvalidName, DurationError, ValueError):
        return False
    return True


@given(_NAME_CHARS)
def test_transit_key_pattern_is_the_operators_rule(key: str) -> None:
    pattern = SPEC["properties"]["transit"]["properties"]["keys"]["items"]["pattern"]
    assert bool(re.fullmatch(pattern, key)) == _accepted(check_transit_key, key)


@given(_NAME_CHARS)
def test_jwt_subject_pattern_is_the_operators_rule(subject: str) -> None:
    jwt = SPEC["properties"]["auth"]["properties"]["jwt"]["properties"]
    pattern = jwt["subjects"]["items"]["pattern"]
    assert bool(re.fullmatch(pattern, subject)) == _accepted(check_subject, subject)


@given(st.text(alphabet="0123456789hms d", min_size=0, max_size=12))
def test_duration_pattern_admits_every_duration_the_operator_accepts(text: str) -> None:
    if _accepted(parse_duration, text):
        assert DURATION_PATTERN.fullmatch(text)


def test_name_rule_is_a_dns_label() -> None:
    rule = ROOT["x-kubernetes-validations"][0]["rule"]
    pattern = re.search(r"matches\('(.+)'\)", rule)
    assert pattern is not None
    for name, ok in [
        ("alice", True),
        ("a" * 63, True),
        ("a" * 64, False),
        ("a.b", False),
        ("Alice", False),
        ("-a", False),
        ("a-", False),
        ("a-1", True),
    ]:
        assert bool(re.fullmatch(pattern.group(1), name)) is ok, name
        if ok:
            agent_id("team-a", name)  # the operator derives an id from every accepted name
