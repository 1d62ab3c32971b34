"""Bound mode's pure parts: scope intersection, allowlists, the key directory, the one
operation->scope table, the tool list and the bound authenticators."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from starlette.datastructures import Headers

from vault_mcp_sidecar.auth import api_keys as api_keys_module
from vault_mcp_sidecar.auth.api_keys import ApiKeyAuthenticator, KeyDir
from vault_mcp_sidecar.auth.authenticator import Authenticator
from vault_mcp_sidecar.auth.binding import (
    BindingError,
    check_caller_name,
    check_identities,
    check_subjects,
    dir_signature,
    effective_scopes,
    identity_allowed,
    parse_list,
    read_key_dir,
)
from vault_mcp_sidecar.auth.jwt_bearer import JwtAuthenticator, JwtConfig
from vault_mcp_sidecar.auth.mtls import MtlsAuthenticator, MtlsConfig
from vault_mcp_sidecar.auth.principal import AuthError, AuthMode, ForbiddenError
from vault_mcp_sidecar.config import ConfigError, load_settings
from vault_mcp_sidecar.operations import (
    OPERATION_SCOPES,
    required_scope,
    visible_operations,
)
from vault_mcp_sidecar.scopes import ALL_SCOPES, Scope

AGENT = "team-a.alice"
SECRET = "unit-test-hmac-secret-" + "0123456789abcdef" * 3
KEY = "alice-dir-key-0123456789abcdef"
READ = frozenset({Scope.READ})
SPIFFE = "spiffe://cluster.local/ns/team-a/sa/caller"
XFCC = {"x-forwarded-client-cert": f"Hash=ab;URI={SPIFFE}"}
DN = {"x-ssl-client-s-dn": "CN=billing,O=Example", "x-ssl-client-verify": "SUCCESS"}


# -- Pure rules -----------------------------------------------------------------------------


def test_effective_scopes_is_the_intersection() -> None:
    assert effective_scopes(ALL_SCOPES, READ) == READ
    assert effective_scopes(frozenset({Scope.WRITE}), READ) == frozenset()
    assert effective_scopes(READ, None) == READ


@pytest.mark.parametrize(("raw", "expected"), [(None, None), ("", None), (" , ", None)])
def test_empty_lists_mean_no_restriction(raw: str | None, expected: None) -> None:
    assert parse_list(raw) is expected


def test_parse_list_strips() -> None:
    assert parse_list(" a@example.com, spiffe://td/x ,") == frozenset(
        {"a@example.com", "spiffe://td/x"}
    )


@pytest.mark.parametrize("name", ["a@example.com", SPIFFE, "x" * 256, "agent one"])
def test_caller_names(name: str) -> None:
    assert check_caller_name(name) == name


@pytest.mark.parametrize("name", ["", "x" * 257, "tab\there", "nl\n", None, 7])
def test_bad_caller_names(name: object) -> None:
    with pytest.raises(BindingError):
        check_caller_name(name)


def test_check_subjects_refuses_overlong_entries() -> None:
    with pytest.raises(BindingError):
        check_subjects("ok," + "x" * 300)


def test_identity_entries_normalised() -> None:
    assert check_identities(f"{SPIFFE}, cn=billing") == frozenset({SPIFFE, "CN=billing"})


@pytest.mark.parametrize("raw", ["billing", "spiffe://", "CN=", "O=Example"])
def test_bad_identity_entries(raw: str) -> None:
    with pytest.raises(BindingError):
        check_identities(raw)


def test_identity_allowed() -> None:
    allowed = frozenset({SPIFFE, "CN=billing"})
    assert identity_allowed(allowed, uri=SPIFFE)
    assert identity_allowed(allowed, cn="billing")
    assert not identity_allowed(allowed, uri="spiffe://cluster.local/ns/team-a/sa/other")
    assert not identity_allowed(allowed, cn="CN=billing")  # a CN is not matched as a URI
    assert not identity_allowed(allowed, uri="CN=billing")
    assert identity_allowed(None, cn="anyone")


# -- The key directory ----------------------------------------------------------------------


def kubelet_secret(root: Path, files: dict[str, str], generation: str = "..2026_1") -> Path:
    """A directory laid out as the kubelet mounts a Secret: `..data` -> `..<ts>/`, and one
    symlink per key through `..data`."""
    data = root / generation
    data.mkdir()
    for name, value in files.items():
        (data / name).write_text(value)
    link = root / "..data"
    tmp = root / "..data_tmp"
    tmp.symlink_to(generation)
    os.replace(tmp, link)
    for name in files:
        if not (root / name).is_symlink():
            (root / name).symlink_to(Path("..data") / name)
    return root


def test_read_key_dir_skips_kubelet_entries(tmp_path: Path) -> None:
    kubelet_secret(tmp_path, {"key": f"  {KEY}\n", "second": KEY + "2"})
    (tmp_path / ".hidden").write_text("x" * 40)
    keys, problems = read_key_dir(tmp_path)
    assert (sorted(keys), problems) == ([KEY, KEY + "2"], [])


def test_read_key_dir_reports_short_keys_without_their_value(tmp_path: Path) -> None:
    (tmp_path / "short").write_text("tiny-key")
    keys, problems = read_key_dir(tmp_path)
    assert keys == []
    assert problems == ["file 'short': API keys must be at least 16 characters"]
    assert "tiny-key" not in problems[0]


def test_dir_signature_sees_a_rewrite(tmp_path: Path) -> None:
    (tmp_path / "key").write_text(KEY)
    before = dir_signature(tmp_path)
    tmp = tmp_path / ".tmp"
    tmp.write_text(KEY + "-rotated")
    os.replace(tmp, tmp_path / "key")
    assert dir_signature(tmp_path) != before


async def test_api_key_dir_rotation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kubelet_secret(tmp_path, {"key": KEY})
    monkeypatch.setattr(api_keys_module, "KEY_DIR_CHECK_SECONDS", 0.0)
    auth = ApiKeyAuthenticator({}, ALL_SCOPES, KeyDir(tmp_path, AGENT))
    principal = auth.authenticate(KEY)
    assert (principal.subject, principal.scopes, principal.mode) == (
        AGENT,
        ALL_SCOPES,
        AuthMode.API_KEY,
    )
    # The kubelet's atomic swap: a new generation directory, then `..data` re-pointed.
    new = "rotated-key-0123456789abcdef"
    kubelet_secret(tmp_path, {"key": new}, generation="..2026_2")
    assert auth.authenticate(new).subject == AGENT
    with pytest.raises(AuthError):
        auth.authenticate(KEY)


async def test_api_key_dir_checked_at_most_once_per_interval(tmp_path: Path) -> None:
    (tmp_path / "key").write_text(KEY)
    auth = ApiKeyAuthenticator({}, ALL_SCOPES, KeyDir(tmp_path, AGENT))
    assert auth.authenticate(KEY).subject == AGENT
    (tmp_path / "key2").write_text(KEY + "-second")
    # Within the interval the directory is not looked at again.
    with pytest.raises(AuthError):
        auth.authenticate(KEY + "-second")


def test_api_key_dir_and_json_combine(tmp_path: Path) -> None:
    (tmp_path / "key").write_text(KEY)
    other = "bob-json-key-0123456789abcdef"
    auth = ApiKeyAuthenticator({other: ("team-a.bob", READ)}, ALL_SCOPES, KeyDir(tmp_path, AGENT))
    assert auth.authenticate(KEY).subject == AGENT
    assert auth.authenticate(other).subject == "team-a.bob"


# -- Operations and MCP tools ---------------------------------------------------------------


def test_read_only_agent_sees_no_write_tools() -> None:
    visible = visible_operations(frozenset({Scope.READ, Scope.LIST}))
    assert visible == ["read_secret", "list_secrets", "transit_decrypt", "whoami"]
    assert visible_operations(None) == list(OPERATION_SCOPES)


def test_required_scope() -> None:
    assert required_scope("transit_encrypt") is Scope.WRITE
    with pytest.raises(ValueError, match="needs no scope"):
        required_scope("whoami")


# -- Bound authenticators -------------------------------------------------------------------


def jwt_auth(**overrides: Any) -> JwtAuthenticator:
    config: dict[str, Any] = {
        "algorithms": ("HS256",),
        "hs256_secret": SECRET,
        "jwks_url": None,
        "issuer": None,
        "audience": None,
        "leeway_seconds": 0,
        "default_scopes": ALL_SCOPES,
        "bound_agent": AGENT,
    }
    return JwtAuthenticator(JwtConfig(**(config | overrides)))


def token(sub: str, **claims: Any) -> str:
    body = {"sub": sub, "exp": int(time.time()) + 300, **claims}
    return jwt.encode(body, SECRET, algorithm="HS256")


async def test_bound_jwt_sub_is_the_caller() -> None:
    principal = await jwt_auth().authenticate(token("billing@example.com"))
    assert (principal.subject, principal.identity) == (AGENT, "jwt:billing@example.com")


async def test_bound_jwt_allowed_subjects() -> None:
    auth = jwt_auth(allowed_subjects=frozenset({SPIFFE}))
    assert (await auth.authenticate(token(SPIFFE))).subject == AGENT
    with pytest.raises(ForbiddenError, match="JWT_ALLOWED_SUBJECTS"):
        await auth.authenticate(token("mallory"))


async def test_bound_jwt_refuses_unprintable_sub() -> None:
    with pytest.raises(AuthError, match="printable"):
        await jwt_auth().authenticate(token("x" * 300))


async def test_standalone_jwt_allowed_subjects() -> None:
    auth = jwt_auth(bound_agent=None, allowed_subjects=frozenset({"alice"}))
    assert (await auth.authenticate(token("alice"))).subject == "alice"
    with pytest.raises(ForbiddenError):
        await auth.authenticate(token("bob"))


def mtls_auth(allowed: frozenset[str] | None, bound: str | None = AGENT) -> MtlsAuthenticator:
    return MtlsAuthenticator(
        MtlsConfig(
            identity_header="x-ssl-client-s-dn",
            verify_header="x-ssl-client-verify",
            cn_prefix="CN=",
            xfcc_header="x-forwarded-client-cert",
            default_scopes=ALL_SCOPES,
            bound_agent=bound,
            allowed_identities=allowed,
        )
    )


@pytest.mark.parametrize("headers", [XFCC, DN])
def test_bound_mtls_allowed(headers: dict[str, str]) -> None:
    auth = mtls_auth(frozenset({SPIFFE, "CN=billing"}))
    assert auth.authenticate(Headers(headers=headers)).subject == AGENT


@pytest.mark.parametrize("headers", [XFCC, DN])
def test_bound_mtls_not_allowed(headers: dict[str, str]) -> None:
    with pytest.raises(ForbiddenError, match="MTLS_ALLOWED_IDENTITIES"):
        mtls_auth(frozenset({"CN=someone"})).authenticate(Headers(headers=headers))


def test_bound_mtls_without_list_accepts_any_verified_identity() -> None:
    assert mtls_auth(None).authenticate(Headers(headers=DN)).identity.startswith("dn:")
    unverified = DN | {"x-ssl-client-verify": "FAILED"}
    with pytest.raises(AuthError):
        mtls_auth(None).authenticate(Headers(headers=unverified))


async def test_agent_scopes_cap_explicit_key_scopes() -> None:
    auth = Authenticator(
        api_keys=ApiKeyAuthenticator({KEY: (AGENT, ALL_SCOPES)}, READ),
        jwt=None,
        mtls=None,
        agent_id=AGENT,
        agent_scopes=READ,
    )
    principal = await auth.authenticate(Headers(headers={"x-api-key": KEY}))
    assert principal.scopes == READ


async def test_bound_refusal_says_why() -> None:
    auth = Authenticator(
        api_keys=ApiKeyAuthenticator({KEY: ("team-a.bob", None)}, ALL_SCOPES),
        jwt=None,
        mtls=None,
        agent_id=AGENT,
    )
    with pytest.raises(ForbiddenError, match=r"serves only agent 'team-a\.alice'"):
        await auth.authenticate(Headers(headers={"x-api-key": KEY}))


# -- Configuration --------------------------------------------------------------------------

BASE: dict[str, Any] = {"vault_token": "root-token", "jwt_hs256_secret": SECRET}


def config_error(**overrides: Any) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(**(BASE | overrides))
    message = str(info.value)
    assert "\n" not in message
    return message


def test_bound_settings(tmp_path: Path) -> None:
    (tmp_path / "key").write_text(KEY)
    settings = load_settings(
        **BASE,
        agent_id=AGENT,
        agent_scopes="read,list",
        api_keys_dir=str(tmp_path),
        jwt_allowed_subjects="a@example.com, b",
        mtls_allowed_identities=f"{SPIFFE},CN=billing",
    )
    assert settings.agent_scope_set == frozenset({Scope.READ, Scope.LIST})
    assert settings.caller_default_scopes == {Scope.READ, Scope.LIST}
    assert settings.jwt_allowed_subject_set == frozenset({"a@example.com", "b"})
    assert settings.mtls_allowed_identity_set == frozenset({SPIFFE, "CN=billing"})


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"agent_scopes": "read,admin"}, "AGENT_SCOPES"),
        ({"api_keys_dir": "/nonexistent/keys", "agent_id": AGENT}, "API_KEYS_DIR"),
        ({"jwt_allowed_subjects": "x" * 300}, "JWT_ALLOWED_SUBJECTS"),
        ({"mtls_allowed_identities": "billing"}, "MTLS_ALLOWED_IDENTITIES"),
    ],
)
def test_bound_config_errors(overrides: dict[str, Any], variable: str) -> None:
    assert variable in config_error(**overrides)


def test_key_dir_needs_agent_id(tmp_path: Path) -> None:
    assert "API_KEYS_DIR: needs AGENT_ID" in config_error(api_keys_dir=str(tmp_path))


def test_key_dir_short_key_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("short-secret")
    message = config_error(api_keys_dir=str(tmp_path), agent_id=AGENT)
    assert "API_KEYS_DIR" in message
    assert "short-secret" not in message
