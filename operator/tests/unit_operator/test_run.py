"""`vault-mcp-operator run`: bad settings stop it with one line, before anything connects."""

from __future__ import annotations

import pytest

from vault_mcp_operator.run import main


def test_a_bad_timing_setting_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VAULT_TOKEN", "t")
    monkeypatch.setenv("RECONCILE_INTERVAL_SECONDS", "0")
    assert main(["--all-namespaces"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("vault-mcp-operator run: invalid configuration:")
    assert "RECONCILE_INTERVAL_SECONDS" in err
    assert "\n" not in err


def test_no_vault_credentials_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for variable in ("VAULT_TOKEN", "VAULT_ROLE_ID", "VAULT_ROLE_ID_FILE", "VAULT_K8S_ROLE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.delenv("VAULT_AUTH_METHOD", raising=False)
    assert main(["--namespace", "team-a"]) == 2
    assert "no Vault credentials" in capsys.readouterr().err


def test_the_watched_scope_must_be_chosen() -> None:
    with pytest.raises(SystemExit) as exit_:
        main([])
    assert exit_.value.code == 2
