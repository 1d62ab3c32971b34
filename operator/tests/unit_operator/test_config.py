"""config: the operator's settings; one line naming the variable on a bad value."""

from __future__ import annotations

import pytest

from vault_mcp_operator.config import ConfigError, load_settings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VAULT_ADDR", "SECRET_ID_ROTATE_FRACTION", "SECRET_ID_GRACE_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.vault_addr == "http://localhost:8200"
    assert (settings.kv_mount, settings.default_prefix, settings.transit_mount) == (
        "secret",
        "mcp",
        "transit",
    )
    assert settings.secret_id_rotate_fraction == pytest.approx(1 / 3)
    assert settings.secret_id_grace_seconds == 300


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("VAULT_ADDR", "localhost:8200"),
        ("KV_MOUNT", "secret/../x"),
        ("DEFAULT_PREFIX", "*"),
        ("SECRET_ID_ROTATE_FRACTION", "1.5"),
        ("SECRET_ID_GRACE_SECONDS", "-1"),
        ("VAULT_AUTH_METHOD", "ldap"),
        ("VAULT_CACERT", "/nonexistent/ca.pem"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert f": {variable}: " in str(raised.value)
    assert "\n" not in str(raised.value)


def test_overlapping_policy_prefixes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHILD_TOKEN_POLICY_PREFIX", "mcp-")
    with pytest.raises(ConfigError, match=r"MINTER_POLICY_PREFIX: .* overlap"):
        load_settings()
