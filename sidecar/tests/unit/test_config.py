"""config: the seed's defaults, one-line errors naming the variable, no secret in any error."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest

from vault_mcp_sidecar.config import ConfigError, Settings, load_settings
from vault_mcp_sidecar.scopes import ALL_SCOPES, Scope

HS_SECRET = "unit-test-hs256-secret-0123456789abcdef"
KEY_A = "alice-key-0123456789abcdef"
KEY_B = "bob-key-0123456789abcdef"


def settings(**overrides: Any) -> Settings:
    """Minimal valid settings plus overrides (the seed's defaults need a Vault credential and a
    JWT secret, because AUTH_JWT_ENABLED defaults to true)."""
    base: dict[str, Any] = {"vault_token": "root-token", "jwt_hs256_secret": HS_SECRET}
    return load_settings(**(base | overrides))


def config_error(**overrides: Any) -> str:
    base: dict[str, Any] = {"vault_token": "root-token", "jwt_hs256_secret": HS_SECRET}
    with pytest.raises(ConfigError) as info:
        load_settings(**(base | overrides))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("invalid configuration: ")
    return message


# -- Defaults -------------------------------------------------------------------------------


def test_defaults_equal_the_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_TOKEN", "root-token")
    monkeypatch.setenv("JWT_HS256_SECRET", HS_SECRET)
    s = load_settings()
    assert s.vault_addr == "http://localhost:8200"
    assert s.vault_namespace is None
    assert s.kv_mount == "secret"
    assert s.default_prefix == "mcp"
    assert s.transit_mount == "transit"
    assert (s.host, s.port) == ("127.0.0.1", 8089)
    assert s.child_token_enabled is False
    assert s.child_token_ttl == "90s"
    assert s.child_token_policy_prefix == "mcp-agent-"
    assert s.rate_limit_enabled is True
    assert (s.rate_limit_requests, s.rate_limit_window_seconds) == (60, 60)
    assert (s.auth_api_key_enabled, s.auth_jwt_enabled, s.auth_mtls_enabled) == (
        True,
        True,
        False,
    )
    assert s.mtls_identity_header == "x-ssl-client-s-dn"
    assert s.mtls_verify_header == "x-ssl-client-verify"
    assert s.mtls_subject_cn_prefix == "CN="
    assert s.mtls_xfcc_header == "x-forwarded-client-cert"
    assert s.jwt_algorithm_list == ("HS256",)
    assert s.log_level == "info"
    assert s.agent_id is None
    assert s.api_keys == {}
    assert s.default_scope_set == ALL_SCOPES
    assert s.debug_endpoints_enabled is False
    assert s.trusted_proxies == (
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("::1/128"),
    )


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "VAULT_ADDR": "https://vault.example:8200/",
        "VAULT_TOKEN": "root-token",
        "AUTH_JWT_ENABLED": "false",
        "AUTH_MTLS_ENABLED": "true",
        "KV_MOUNT": "kv",
        "DEFAULT_PREFIX": "agents/v1",
        "CHILD_TOKEN_ENABLED": "1",
        "CHILD_TOKEN_TTL": "15m",
        "RATE_LIMIT_REQUESTS": "5",
        "PORT": "9000",
        "LOG_LEVEL": "DEBUG",
        "AGENT_ID": "team-a.alice",
        "MTLS_TRUSTED_PROXIES": "10.0.0.0/8, fd00::/8",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    s = load_settings()
    assert s.vault_addr == "https://vault.example:8200"  # trailing slash dropped
    assert s.auth_jwt_enabled is False
    assert s.auth_mtls_enabled is True
    assert (s.kv_mount, s.default_prefix) == ("kv", "agents/v1")
    assert s.child_token_enabled is True
    assert s.child_token_ttl == "15m"
    assert s.rate_limit_requests == 5
    assert s.port == 9000
    assert s.log_level == "debug"
    assert s.agent_id == "team-a.alice"
    assert s.trusted_proxies == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("fd00::/8"),
    )


def test_approle_credentials_instead_of_a_token() -> None:
    s = load_settings(vault_role_id="role", vault_secret_id="sid", auth_jwt_enabled=False)
    assert s.vault_token is None
    assert s.vault_role_id is not None


def test_approle_credential_files(tmp_path: Path) -> None:
    s = load_settings(
        vault_role_id_file=tmp_path / "role_id",
        vault_secret_id_file=tmp_path / "secret_id",
        auth_jwt_enabled=False,
    )
    assert s.vault_role_id_file == tmp_path / "role_id"


def test_jwks_url_alone_enables_jwt() -> None:
    s = load_settings(vault_token="t", jwt_jwks_url="https://idp.example/jwks.json")
    assert s.jwt_jwks_url == "https://idp.example/jwks.json"


# -- One line naming the variable -----------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"vault_addr": "localhost:8200"}, "VAULT_ADDR"),
        ({"vault_addr": "ftp://vault"}, "VAULT_ADDR"),
        ({"vault_addr": "http://vault example"}, "VAULT_ADDR"),
        ({"jwt_jwks_url": "file:///etc/passwd"}, "JWT_JWKS_URL"),
        ({"kv_mount": "/secret"}, "KV_MOUNT"),
        ({"kv_mount": ""}, "KV_MOUNT"),
        ({"default_prefix": "../other"}, "DEFAULT_PREFIX"),
        ({"default_prefix": "mcp/"}, "DEFAULT_PREFIX"),
        ({"transit_mount": "transit/*"}, "TRANSIT_MOUNT"),
        ({"vault_approle_mount": "app role"}, "VAULT_APPROLE_MOUNT"),
        ({"port": 0}, "PORT"),
        ({"port": 65536}, "PORT"),
        ({"port": "http"}, "PORT"),
        ({"rate_limit_requests": 0}, "RATE_LIMIT_REQUESTS"),
        ({"rate_limit_window_seconds": -1}, "RATE_LIMIT_WINDOW_SECONDS"),
        ({"child_token_ttl": "0s"}, "CHILD_TOKEN_TTL"),
        ({"child_token_ttl": "1d"}, "CHILD_TOKEN_TTL"),
        ({"child_token_ttl": "-5s"}, "CHILD_TOKEN_TTL"),
        ({"child_token_ttl": "90 s"}, "CHILD_TOKEN_TTL"),
        ({"child_token_num_uses": -1}, "CHILD_TOKEN_NUM_USES"),
        ({"child_token_type": "periodic"}, "CHILD_TOKEN_TYPE"),
        ({"child_token_type": "batch", "child_token_num_uses": 2}, "CHILD_TOKEN_NUM_USES"),
        ({"log_level": "trace"}, "LOG_LEVEL"),
        ({"auth_mtls_enabled": "maybe"}, "AUTH_MTLS_ENABLED"),
        ({"agent_id": "../bob"}, "AGENT_ID"),
        ({"agent_id": "a/b"}, "AGENT_ID"),
        ({"max_body_bytes": 10}, "MAX_BODY_BYTES"),
        ({"jwt_leeway_seconds": 3600}, "JWT_LEEWAY_SECONDS"),
        ({"mtls_trusted_proxies": "10.0.0.0/33"}, "MTLS_TRUSTED_PROXIES"),
        ({"mtls_trusted_proxies": "localhost"}, "MTLS_TRUSTED_PROXIES"),
        ({"default_scopes": "read,admin"}, "DEFAULT_SCOPES"),
        ({"jwt_algorithms": "none"}, "JWT_ALGORITHMS"),
        ({"jwt_algorithms": ""}, "JWT_ALGORITHMS"),
        ({"jwt_algorithms": " , "}, "JWT_ALGORITHMS"),
        ({"jwt_algorithms": "hs256"}, "JWT_ALGORITHMS"),
        ({"jwt_algorithms": "HS256,none"}, "JWT_ALGORITHMS"),
        ({"api_keys_json": "not json"}, "API_KEYS_JSON"),
        ({"api_keys_json": '["a", "b"]'}, "API_KEYS_JSON"),
        ({"api_keys_json": json.dumps({KEY_A: "../x"})}, "API_KEYS_JSON"),
        ({"api_keys_json": json.dumps({KEY_A: 5})}, "API_KEYS_JSON"),
        ({"api_keys_json": json.dumps({KEY_A: {"scopes": ["read"]}})}, "API_KEYS_JSON"),
        ({"api_keys_json": json.dumps({KEY_A: {"agent": "a", "scopes": "x"}})}, "API_KEYS_JSON"),
        ({"api_keys_json": json.dumps({KEY_A: {"agent": "a", "scopes": 5}})}, "API_KEYS_JSON"),
    ],
)
def test_bad_value_names_the_variable(overrides: dict[str, Any], variable: str) -> None:
    message = config_error(**overrides)
    assert f": {variable}: " in message


@pytest.mark.parametrize(
    ("overrides", "mentions"),
    [
        ({"vault_token": None}, "VAULT_TOKEN"),
        ({"vault_token": None, "vault_role_id": "role"}, "VAULT_SECRET_ID"),
        (
            {"auth_api_key_enabled": False, "auth_jwt_enabled": False},
            "AUTH_API_KEY_ENABLED",
        ),
        ({"jwt_hs256_secret": None}, "JWT_HS256_SECRET"),
    ],
)
def test_incoherent_settings_name_what_to_set(overrides: dict[str, Any], mentions: str) -> None:
    assert mentions in config_error(**overrides)


def test_bad_environment_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_TOKEN", "root-token")
    monkeypatch.setenv("AUTH_JWT_ENABLED", "false")
    monkeypatch.setenv("RATE_LIMIT_WINDOW_SECONDS", "a minute")
    with pytest.raises(ConfigError, match=r"^invalid configuration: RATE_LIMIT_WINDOW_SECONDS: "):
        load_settings()


# -- Secrets never in errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"api_keys_json": json.dumps({"SHORT-XYZZY": "alice"})},
        {"api_keys_json": '{"LONG-ENOUGH-KEY-XYZZY-0123": '},
        {"api_keys_json": json.dumps({"LONG-ENOUGH-KEY-XYZZY-0123": "../bad"})},
        {"api_keys_json": json.dumps({"LONG-ENOUGH-KEY-XYZZY-0123": ["alice"]})},
        {"api_keys_json": json.dumps({KEY_A: "alice", "XYZZY": "bob"})},
        {"jwt_hs256_secret": "short-XYZZY"},
        {"jwt_hs256_secret": "changeme"},
        {"vault_token": "XYZZY-token", "port": "XYZZY"},
        {"vault_addr": "http://user:XYZZY@vault example"},
    ],
)
def test_secrets_never_appear_in_errors(overrides: dict[str, Any]) -> None:
    message = config_error(**overrides)
    assert "XYZZY" not in message
    assert "changeme" not in message


def test_config_error_has_no_chained_cause_carrying_the_input() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(vault_token="t", jwt_hs256_secret="short-XYZZY")
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_repr_never_shows_secrets() -> None:
    s = settings(api_keys_json=json.dumps({KEY_A: "alice"}), vault_secret_id="sid-XYZZY")
    assert s.api_keys  # cached, and still not in the repr
    text = repr(s) + str(s)
    assert KEY_A not in text
    assert HS_SECRET not in text
    assert "root-token" not in text
    assert "XYZZY" not in text


# -- API keys -------------------------------------------------------------------------------


def test_api_keys_plain_map_uses_default_scopes() -> None:
    s = settings(api_keys_json=json.dumps({KEY_A: "alice", KEY_B: "team-a.bob"}))
    assert s.api_keys == {KEY_A: ("alice", None), KEY_B: ("team-a.bob", None)}


def test_api_keys_with_scopes_objects() -> None:
    raw = {
        KEY_A: {"agent": "alice", "scopes": ["read", "list"]},
        KEY_B: {"agent": "bob", "scopes": "write delete"},
        "carol-key-0123456789abcdef": {"agent": "carol"},
    }
    s = settings(api_keys_json=json.dumps(raw))
    assert s.api_keys == {
        KEY_A: ("alice", frozenset({Scope.READ, Scope.LIST})),
        KEY_B: ("bob", frozenset({Scope.WRITE, Scope.DELETE})),
        "carol-key-0123456789abcdef": ("carol", None),
    }


def test_default_scopes_setting() -> None:
    assert settings(default_scopes="read list").default_scope_set == {Scope.READ, Scope.LIST}


# -- JWT algorithms -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "algorithms"),
    [
        ("HS256", ("HS256",)),
        ("HS256,RS256", ("HS256", "RS256")),
        (" RS256 , ES256 ,", ("RS256", "ES256")),
        ("HS512", ("HS512",)),
    ],
)
def test_jwt_algorithms_parsing(raw: str, algorithms: tuple[str, ...]) -> None:
    assert settings(jwt_algorithms=raw).jwt_algorithm_list == algorithms


@pytest.mark.parametrize(("raw", "level"), [("DEBUG", "debug"), ("Warning", "warning")])
def test_log_level_is_case_insensitive(raw: str, level: str) -> None:
    assert settings(log_level=raw).log_level == level


@pytest.mark.parametrize("ttl", ["90", "90s", "15m", "1h"])
def test_child_token_ttl_durations(ttl: str) -> None:
    assert settings(child_token_ttl=ttl).child_token_ttl == ttl


def test_settings_are_frozen() -> None:
    s = settings()
    with pytest.raises(ValueError, match="frozen"):
        s.port = 1
