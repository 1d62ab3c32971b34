"""VaultAdmin's two kinds of failure against a real OpenBao: unavailable (down, sealed) is
worth a retry, refused (403) is not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devkit.openbao import OpenBao
from devkit.ports import free_port
from tests.integration.operator.conftest import install_prerequisites
from tests.parts import openbao_server
from vault_mcp_operator.config import load_settings
from vault_mcp_operator.login import LoginError, login
from vault_mcp_operator.names import agent_names
from vault_mcp_operator.vault_admin import VaultAdmin, VaultRefused, VaultUnavailable


@pytest.fixture(scope="module")
def sealable() -> Iterator[OpenBao]:
    """A raft-backed OpenBao whose unseal key the harness knows."""
    with openbao_server(dev=False) as bao:
        bao.api("POST", "sys/mounts/secret", {"type": "kv", "options": {"version": "2"}})
        install_prerequisites(bao)
        yield bao


def test_sealed_is_unavailable_and_recovers(sealable: OpenBao) -> None:
    settings = load_settings(vault_addr=sealable.addr, vault_token=sealable.token)
    admin = VaultAdmin(login(settings), settings)
    names = agent_names("ns", "sealed", settings)
    admin.read_actual(names)
    sealable.api("PUT", "sys/seal")
    try:
        with pytest.raises(VaultUnavailable, match="Vault unavailable"):
            admin.read_actual(names)
    finally:
        sealable._unauthenticated("PUT", "sys/unseal", {"key": sealable.unseal_key})
        sealable._wait_until_active()
    assert admin.read_actual(names).empty


def test_down_is_unavailable(sealable: OpenBao) -> None:
    settings = load_settings(vault_addr=f"http://127.0.0.1:{free_port()}", vault_token="x")
    with pytest.raises(LoginError, match="Vault unavailable"):
        login(settings)


def test_permission_denied_is_refused(sealable: OpenBao) -> None:
    weak = sealable.api("POST", "auth/token/create", {"policies": ["default"]})["auth"]
    settings = load_settings(vault_addr=sealable.addr, vault_token=weak["client_token"])
    admin = VaultAdmin(login(settings), settings)
    with pytest.raises(VaultRefused, match="Forbidden"):
        admin.read_actual(agent_names("ns", "denied", settings))


def test_bad_token_is_a_login_error(sealable: OpenBao) -> None:
    settings = load_settings(vault_addr=sealable.addr, vault_token="not-a-token")
    with pytest.raises(LoginError, match="refused"):
        login(settings)


def test_approle_login(sealable: OpenBao, tmp_path: object) -> None:
    sealable.write_policy("op", 'path "auth/token/lookup-self" { capabilities = ["read"] }')
    sealable.api("POST", "auth/approle/role/operator", {"token_policies": ["op"]})
    role_id = sealable.api("GET", "auth/approle/role/operator/role-id")["data"]["role_id"]
    secret_id = sealable.api("POST", "auth/approle/role/operator/secret-id", {})["data"]
    settings = load_settings(
        vault_addr=sealable.addr, vault_role_id=role_id, vault_secret_id=secret_id["secret_id"]
    )
    client = login(settings)
    assert client.lookup_token()["data"]["policies"] == ["default", "op"]
    wrong = settings.model_copy(update={"vault_secret_id": None})
    with pytest.raises(LoginError, match="VAULT_SECRET_ID"):
        login(wrong)


def test_kubernetes_login_needs_its_token_file(sealable: OpenBao) -> None:
    settings = load_settings(
        vault_addr=sealable.addr,
        vault_auth_method="kubernetes",
        vault_k8s_role="operator",
        vault_k8s_token_file="/nonexistent/token",
    )
    with pytest.raises(LoginError, match="VAULT_K8S_TOKEN_FILE: cannot read /nonexistent/token"):
        login(settings)
