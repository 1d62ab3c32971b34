"""auth.api_keys: X-API-Key against the API_KEYS_JSON map."""

from __future__ import annotations

import pytest

from vault_mcp_sidecar.auth.api_keys import ApiKeyAuthenticator, fingerprint
from vault_mcp_sidecar.auth.principal import AuthError, AuthMode
from vault_mcp_sidecar.scopes import ALL_SCOPES, Scope

KEY_A = "alice-key-0123456789abcdef"
KEY_B = "bob-key-0123456789abcdef"
READ_ONLY = frozenset({Scope.READ})


@pytest.fixture
def authenticator() -> ApiKeyAuthenticator:
    return ApiKeyAuthenticator(
        {KEY_A: ("alice", None), KEY_B: ("bob", READ_ONLY)},
        default_scopes=ALL_SCOPES,
    )


def test_known_key_with_default_scopes(authenticator: ApiKeyAuthenticator) -> None:
    principal = authenticator.authenticate(KEY_A)
    assert principal.subject == "alice"
    assert principal.scopes == ALL_SCOPES
    assert principal.mode is AuthMode.API_KEY


def test_known_key_with_its_own_scopes(authenticator: ApiKeyAuthenticator) -> None:
    principal = authenticator.authenticate(KEY_B)
    assert principal.subject == "bob"
    assert principal.scopes == READ_ONLY
    assert principal.allows(Scope.READ)
    assert not principal.allows(Scope.WRITE)


def test_empty_scope_set_is_kept_not_defaulted() -> None:
    auth = ApiKeyAuthenticator({KEY_A: ("alice", frozenset())}, default_scopes=ALL_SCOPES)
    assert auth.authenticate(KEY_A).scopes == frozenset()


def test_identity_is_a_fingerprint_not_the_key(authenticator: ApiKeyAuthenticator) -> None:
    principal = authenticator.authenticate(KEY_A)
    assert principal.identity == fingerprint(KEY_A)
    assert principal.identity.startswith("key:")
    assert KEY_A not in principal.identity
    assert KEY_A[:8] not in principal.identity
    assert fingerprint(KEY_A) != fingerprint(KEY_B)
    assert KEY_A not in repr(principal)


@pytest.mark.parametrize(
    "presented",
    [
        "",
        "wrong-key-0123456789abcdef",
        KEY_A[:-1],
        KEY_A + "x",
        KEY_A.upper(),
        f" {KEY_A}",
        "alice",
        "\udcff",  # not encodable as UTF-8: still just an unknown key
    ],
)
def test_unknown_key_is_an_auth_error(authenticator: ApiKeyAuthenticator, presented: str) -> None:
    with pytest.raises(AuthError) as info:
        authenticator.authenticate(presented)
    assert str(info.value) == "invalid API key"


def test_no_keys_configured_refuses_everything() -> None:
    auth = ApiKeyAuthenticator({}, default_scopes=ALL_SCOPES)
    with pytest.raises(AuthError):
        auth.authenticate(KEY_A)
