"""spec: the VaultAgent spec, its least-privilege defaults, and errors naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from vault_mcp_operator.spec import DeletionPolicy, SpecError, parse_spec
from vault_mcp_sidecar.scopes import Scope

FULL: dict[str, Any] = {
    "scopes": ["read", "write", "list", "delete"],
    "transit": {"keys": ["payments", "audit.v2"]},
    "token": {
        "ttl": "30m",
        "maxTTL": "2h",
        "childTTL": "1m30s",
        "childNumUses": 5,
        "boundCIDRs": ["10.0.0.0/8", "fd00::/8"],
    },
    "secretID": {"ttl": "48h"},
    "auth": {
        "apiKeys": {"secretRef": {"name": "alice-api-keys"}},
        "jwt": {
            "issuer": "https://issuer.example",
            "audience": "vault-mcp",
            "jwksURL": "https://issuer.example/jwks.json",
            "subjects": ["team-a.alice"],
        },
        "mtls": {"allowedIdentities": ["spiffe://cluster.local/ns/team-a/sa/alice"]},
    },
    "rateLimit": {"requests": 100, "windowSeconds": 30},
    "deletionPolicy": "Delete",
}


def test_defaults_are_least_privilege() -> None:
    spec = parse_spec({})
    assert spec.scopes == (Scope.READ, Scope.LIST)
    assert (spec.token.ttl, spec.token.max_ttl, spec.token.child_ttl) == (900, 3600, 90)
    assert (spec.token.child_num_uses, spec.token.bound_cidrs) == (0, ())
    assert spec.secret_id.ttl == 86400
    assert spec.transit.keys == ()
    assert spec.deletion_policy is DeletionPolicy.RETAIN
    assert parse_spec(None) == spec


def test_full_spec_in_camel_case() -> None:
    spec = parse_spec(FULL)
    assert set(spec.scopes) == set(Scope)
    assert spec.transit.keys == ("payments", "audit.v2")
    assert (spec.token.ttl, spec.token.max_ttl, spec.token.child_ttl) == (1800, 7200, 90)
    assert spec.token.child_num_uses == 5
    assert spec.token.bound_cidrs == ("10.0.0.0/8", "fd00::/8")
    assert spec.secret_id.ttl == 48 * 3600
    assert spec.auth.api_keys is not None
    assert spec.auth.api_keys.secret_ref.name == "alice-api-keys"
    assert spec.auth.jwt is not None
    assert spec.auth.jwt.jwks_url == "https://issuer.example/jwks.json"
    assert spec.auth.mtls is not None
    assert spec.rate_limit.window_seconds == 30
    assert spec.deletion_policy is DeletionPolicy.DELETE


def _with(path: str, value: object) -> dict[str, Any]:
    """FULL with one field (dotted path) replaced."""
    spec: dict[str, Any] = dict(FULL)
    node = spec
    parts = path.split(".")
    for part in parts[:-1]:
        node[part] = dict(node[part])
        node = node[part]
    node[parts[-1]] = value
    return spec


@pytest.mark.parametrize(
    ("path", "value", "error"),
    [
        ("scopes", [], "spec.scopes: must not be empty"),
        ("scopes", ["read", "admin"], "spec.scopes[1]: must be one of read, write, list, delete"),
        ("scopes", ["read", "read"], "spec.scopes: scope 'read' is listed twice"),
        ("transit.keys", ["ok", "../x"], "spec.transit.keys: '../x': transit key must be"),
        ("transit.keys", ["k", "k"], "spec.transit.keys: transit key 'k' is listed twice"),
        ("transit.keys", [f"k{i}" for i in range(33)], "spec.transit.keys: "),
        ("token.ttl", "2h1h", "spec.token.ttl: must be a duration"),
        ("token.ttl", "0s", "spec.token.ttl: must be greater than zero"),
        ("token.ttl", "3h", "spec.token.ttl: must not be longer than maxTTL"),
        ("token.childTTL", "45m", "spec.token.childTTL: must not be longer than ttl"),
        ("token.childNumUses", -1, "spec.token.childNumUses: "),
        ("token.childType", "periodic", "spec.token.childType: "),
        ("token.boundCIDRs", ["10.0.0.1/8"], "spec.token.boundCIDRs[0]: '10.0.0.1/8' is not a"),
        ("token.boundCIDRs", ["nonsense"], "spec.token.boundCIDRs[0]: "),
        ("token.maxTtl", "1h", "spec.token.maxTtl: unknown field"),
        ("secretID.ttl", "soon", "spec.secretID.ttl: must be a duration"),
        ("auth.apiKeys", {}, "spec.auth.apiKeys.secretRef: Field required"),
        ("auth.apiKeys.secretRef", {"name": "Bad_Name"}, "spec.auth.apiKeys.secretRef.name: "),
        ("auth.jwt.jwksURL", "file:///etc/passwd", "spec.auth.jwt.jwksURL: must be an http"),
        ("auth.jwt.subjects", ["../bob"], "spec.auth.jwt.subjects: '../bob': agent id"),
        ("auth.mtls.allowedIdentities", ["a b"], "spec.auth.mtls.allowedIdentities: "),
        ("rateLimit.requests", 0, "spec.rateLimit.requests: "),
        ("deletionPolicy", "Orphan", "spec.deletionPolicy: "),
        ("agentId", "someone.else", "spec.agentId: unknown field"),
    ],
)
def test_errors_name_the_field(path: str, value: object, error: str) -> None:
    with pytest.raises(SpecError) as raised:
        parse_spec(_with(path, value))
    assert str(raised.value).startswith(error), str(raised.value)
    assert "\n" not in str(raised.value)


def test_the_subject_cannot_be_set_from_the_spec() -> None:
    """DESIGN §3: the agent id is always derived from namespace and name."""
    for field in ("subject", "agentId", "policy"):
        with pytest.raises(SpecError, match="unknown field"):
            parse_spec({field: "other-ns.victim"})
