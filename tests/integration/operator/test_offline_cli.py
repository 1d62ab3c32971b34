"""`vault-mcp-operator apply/delete -f` against a real OpenBao: the Vault state is exactly
DESIGN §3, a re-apply writes nothing (proven from the audit log), a change writes only what
changed, a bad file writes nothing, and delete leaves nothing behind."""

from __future__ import annotations

import json
import stat
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from devkit.openbao import OpenBao
from devkit.ports import free_port
from tests.integration.operator.conftest import (
    OperatorCli,
    audit_mark,
    requests_since,
    vault_agent,
    writes_since,
)
from vault_mcp_sidecar.policy import agent_policy_hcl, minter_policy_hcl
from vault_mcp_sidecar.scopes import Scope

POLICY = "mcp-agent-team-a.alice"
MINTER = "mcp-minter-team-a.alice"
KEY = "mcp__team-a.alice__payments"
ALICE = vault_agent(
    "alice",
    scopes=["read", "write", "list", "delete"],
    transit={"keys": ["payments"]},
    token={"ttl": "20m", "maxTTL": "2h", "childTTL": "60s", "boundCIDRs": ["127.0.0.1/32"]},
    secretID={"ttl": "12h"},
)


def manifest(tmp_path: Path, *agents: dict[str, Any], name: str = "agents.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump_all(agents))
    return path


def denied(bao: OpenBao, method: str, path: str, token: str, body: Any = None) -> bool:
    try:
        bao.api(method, path, body, token=token)
    except urllib.error.HTTPError as exc:
        return exc.code in (400, 403)
    return False


def absent(bao: OpenBao, path: str) -> bool:
    try:
        bao.api("GET", path)
    except urllib.error.HTTPError as exc:
        return exc.code == 404
    return False


@pytest.fixture
def alice(vault: OpenBao, operator_cli: OperatorCli, tmp_path: Path) -> Iterator[Path]:
    """alice applied with credentials in tmp_path/creds; removed (Delete) afterwards."""
    path = manifest(tmp_path, ALICE)
    result = operator_cli("apply", "-f", path, "--credentials-dir", tmp_path / "creds")
    assert result.code == 0, result.err
    assert result.out.startswith("team-a/alice: created ("), result.out
    yield path
    doomed = manifest(tmp_path, {**ALICE, "spec": {**ALICE["spec"], "deletionPolicy": "Delete"}})
    assert operator_cli("delete", "-f", doomed).code == 0


def test_apply_writes_exactly_the_design_state(vault: OpenBao, alice: Path) -> None:
    policy = vault.api("GET", f"sys/policies/acl/{POLICY}")["data"]["policy"]
    assert policy == agent_policy_hcl("team-a.alice", transit_keys=["payments"])
    minter = vault.api("GET", f"sys/policies/acl/{MINTER}")["data"]["policy"]
    assert minter == minter_policy_hcl([POLICY])
    role = vault.api("GET", f"auth/token/roles/{POLICY}")["data"]
    assert role["allowed_policies"] == [POLICY]
    assert (role["renewable"], role["orphan"], role["token_no_default_policy"]) == (
        False,
        False,
        True,
    )
    assert (role["token_type"], role["token_explicit_max_ttl"]) == ("service", 60)
    approle = vault.api("GET", f"auth/approle/role/{POLICY}")["data"]
    assert approle["token_policies"] == [POLICY, MINTER]
    assert (approle["token_type"], approle["token_num_uses"]) == ("service", 0)
    assert (approle["token_ttl"], approle["token_max_ttl"], approle["secret_id_ttl"]) == (
        1200,
        7200,
        43200,
    )
    assert approle["secret_id_bound_cidrs"] == ["127.0.0.1/32"]
    assert approle["token_bound_cidrs"] == ["127.0.0.1"]  # how Vault spells a /32
    assert vault.api("GET", f"transit/keys/{KEY}")["data"]["name"] == KEY


def test_credentials_log_in_and_mint_a_child_with_exactly_the_agent_policy(
    vault: OpenBao, alice: Path, tmp_path: Path
) -> None:
    creds_file = tmp_path / "creds" / "team-a.alice.json"
    assert stat.S_IMODE(creds_file.stat().st_mode) == 0o600
    creds = json.loads(creds_file.read_text())
    login = {"role_id": creds["role_id"], "secret_id": creds["secret_id"]}
    parent = vault.api("POST", "auth/approle/login", login)["auth"]
    assert sorted(parent["policies"]) == [POLICY, MINTER]
    token = parent["client_token"]
    body = {"policies": [POLICY], "ttl": "60s", "no_default_policy": True}
    child = vault.api("POST", f"auth/token/create/{POLICY}", body, token=token)["auth"]
    assert child["policies"] == [POLICY]
    assert not child["renewable"]
    child_token = child["client_token"]
    secret = {"data": {"x": "1"}}
    vault.api("POST", "secret/data/mcp/team-a.alice/app/db", secret, token=child_token)
    encrypted = vault.api(
        "POST", f"transit/encrypt/{KEY}", {"plaintext": "aGk="}, token=child_token
    )
    assert encrypted["data"]["ciphertext"].startswith("vault:v1:")
    assert denied(vault, "POST", "secret/data/mcp/team-a.bob/x", child_token, secret)
    assert denied(vault, "POST", "transit/encrypt/mcp__team-a.alice__other", child_token, {})
    root_body = {"policies": ["root"]}
    assert denied(vault, "POST", f"auth/token/create/{POLICY}", token, root_body)
    assert denied(vault, "POST", "auth/token/create", token, body)


def test_reapply_makes_zero_writes(
    vault: OpenBao, operator_cli: OperatorCli, alice: Path, tmp_path: Path
) -> None:
    mark = audit_mark(vault)
    result = operator_cli("apply", "-f", alice, "--credentials-dir", tmp_path / "creds")
    assert result.code == 0, result.err
    assert result.out == "team-a/alice: unchanged (0 Vault writes)\n"
    assert writes_since(vault, mark) == []
    assert requests_since(vault, mark), "the re-apply did read Vault"


def test_changed_scopes_rewrite_only_the_policy(
    vault: OpenBao, operator_cli: OperatorCli, alice: Path, tmp_path: Path
) -> None:
    narrower = manifest(tmp_path, {**ALICE, "spec": {**ALICE["spec"], "scopes": ["read"]}})
    mark = audit_mark(vault)
    result = operator_cli("apply", "-f", narrower, "--credentials-dir", tmp_path / "creds")
    assert result.out == "team-a/alice: updated (1 Vault writes)\n", result.err
    assert writes_since(vault, mark) == [("update", f"sys/policies/acl/{POLICY}")]
    policy = vault.api("GET", f"sys/policies/acl/{POLICY}")["data"]["policy"]
    assert policy == agent_policy_hcl(
        "team-a.alice", scopes=[Scope.READ], transit_keys=["payments"]
    )


def test_batch_children_rewrite_only_the_token_role_and_then_stay_put(
    vault: OpenBao, operator_cli: OperatorCli, alice: Path, tmp_path: Path
) -> None:
    token = {**ALICE["spec"]["token"], "childType": "batch"}
    batch = manifest(tmp_path, {**ALICE, "spec": {**ALICE["spec"], "token": token}})
    mark = audit_mark(vault)
    assert operator_cli("apply", "-f", batch).out == "team-a/alice: updated (1 Vault writes)\n"
    assert writes_since(vault, mark) == [("update", f"auth/token/roles/{POLICY}")]
    mark = audit_mark(vault)
    assert operator_cli("apply", "-f", batch).out == "team-a/alice: unchanged (0 Vault writes)\n"
    assert writes_since(vault, mark) == []

    creds = json.loads((tmp_path / "creds" / "team-a.alice.json").read_text())
    login = {"role_id": creds["role_id"], "secret_id": creds["secret_id"]}
    parent = vault.api("POST", "auth/approle/login", login)["auth"]["client_token"]
    body = {"policies": [POLICY], "ttl": "60s", "no_default_policy": True, "type": "batch"}
    child = vault.api("POST", f"auth/token/create/{POLICY}", body, token=parent)["auth"]
    assert child["client_token"].startswith("b.")
    assert child["policies"] == [POLICY]


def test_drift_is_repaired_with_one_write(
    vault: OpenBao, operator_cli: OperatorCli, alice: Path
) -> None:
    vault.api("POST", f"auth/token/roles/{POLICY}", {"allowed_policies": [POLICY, "root"]})
    mark = audit_mark(vault)
    assert operator_cli("apply", "-f", alice).out == "team-a/alice: updated (1 Vault writes)\n"
    assert writes_since(vault, mark) == [("update", f"auth/token/roles/{POLICY}")]
    assert vault.api("GET", f"auth/token/roles/{POLICY}")["data"]["allowed_policies"] == [POLICY]


def test_bad_spec_fails_naming_the_field_and_writes_nothing(
    vault: OpenBao, operator_cli: OperatorCli, tmp_path: Path
) -> None:
    good = manifest(tmp_path, vault_agent("good"), name="good.yaml")
    bad = manifest(
        tmp_path, vault_agent("bad", token={"ttl": "2h", "maxTTL": "1h"}), name="bad.yaml"
    )
    mark = audit_mark(vault)
    result = operator_cli("apply", "-f", good, "-f", bad)
    assert result.code != 0
    assert result.err == (
        f"vault-mcp-operator: {bad}: team-a/bad: spec.token.ttl: must not be longer than maxTTL\n"
    )
    assert result.out == ""
    assert requests_since(vault, mark) == []  # validated before even logging in
    assert absent(vault, "sys/policies/acl/mcp-agent-team-a.good")


def test_delete_with_retain_keeps_data(
    vault: OpenBao, operator_cli: OperatorCli, tmp_path: Path
) -> None:
    path = manifest(tmp_path, vault_agent("carol", transit={"keys": ["k"]}))
    assert operator_cli("apply", "-f", path, "--credentials-dir", tmp_path).code == 0
    vault.api("POST", "secret/data/mcp/team-a.carol/keep", {"data": {"v": "1"}})
    result = operator_cli("delete", "-f", path, "--credentials-dir", tmp_path)
    assert result.out.startswith("team-a/carol: deleted, deletionPolicy Retain (4 Vault writes)")
    _assert_access_gone(vault, "mcp-agent-team-a.carol", "mcp-minter-team-a.carol")
    assert not (tmp_path / "team-a.carol.json").exists()
    assert vault.api("GET", "secret/data/mcp/team-a.carol/keep")["data"]["data"] == {"v": "1"}
    assert vault.api("GET", "transit/keys/mcp__team-a.carol__k")["data"]
    again = operator_cli("delete", "-f", path)
    assert (again.code, again.err) == (0, "")


def test_delete_with_delete_removes_data_and_keys(
    vault: OpenBao, operator_cli: OperatorCli, tmp_path: Path
) -> None:
    dave = vault_agent("dave", transit={"keys": ["k1", "k2"]}, deletionPolicy="Delete")
    path = manifest(tmp_path, dave)
    assert operator_cli("apply", "-f", path).code == 0
    for secret in ("a", "dir/b", "dir/sub/c"):
        vault.api("POST", f"secret/data/mcp/team-a.dave/{secret}", {"data": {"v": "1"}})
    vault.api("POST", "secret/data/mcp/team-a.dave-2/other", {"data": {"v": "1"}})  # a neighbour
    result = operator_cli("delete", "-f", path)
    # 2 policies + 2 roles + 3 secrets + 2 keys x (allow deletion + delete)
    assert result.out == "team-a/dave: deleted, deletionPolicy Delete (11 Vault writes)\n"
    _assert_access_gone(vault, "mcp-agent-team-a.dave", "mcp-minter-team-a.dave")
    assert absent(vault, "secret/metadata/mcp/team-a.dave/a")
    assert absent(vault, "secret/metadata/mcp/team-a.dave/dir/sub/c")
    assert absent(vault, "transit/keys/mcp__team-a.dave__k1")
    assert absent(vault, "transit/keys/mcp__team-a.dave__k2")
    assert vault.api("GET", "secret/data/mcp/team-a.dave-2/other")["data"]["data"] == {"v": "1"}
    again = operator_cli("delete", "-f", path)
    assert again.out == "team-a/dave: deleted, deletionPolicy Delete (4 Vault writes)\n"


def _assert_access_gone(vault: OpenBao, policy: str, minter: str) -> None:
    for path in (
        f"sys/policies/acl/{policy}",
        f"sys/policies/acl/{minter}",
        f"auth/token/roles/{policy}",
        f"auth/approle/role/{policy}",
    ):
        assert absent(vault, path), path


def test_vault_down_is_one_line(operator_cli: OperatorCli, tmp_path: Path) -> None:
    path = manifest(tmp_path, vault_agent("erin"))
    result = operator_cli("apply", "-f", path, VAULT_ADDR=f"http://127.0.0.1:{free_port()}")
    assert result.code == 2
    assert result.err.startswith("vault-mcp-operator: POST login (token): Vault unavailable")
    assert result.err.count("\n") == 1


def test_policy_prints_the_shipped_policy(operator_cli: OperatorCli) -> None:
    from vault_mcp_operator.operator_policy import shipped_policy

    result = operator_cli("policy")
    assert (result.code, result.out) == (0, shipped_policy())


@pytest.fixture
def operator_token(vault: OpenBao) -> str:
    """A token holding only the shipped operator policy (no default policy)."""
    from vault_mcp_operator.operator_policy import shipped_policy

    vault.write_policy("vault-mcp-operator", shipped_policy())
    body = {"policies": ["vault-mcp-operator"], "no_default_policy": True, "ttl": "1h"}
    token: str = vault.api("POST", "auth/token/create", body)["auth"]["client_token"]
    return token


def test_shipped_least_privilege_policy_is_enough(
    vault: OpenBao, operator_cli: OperatorCli, operator_token: str, tmp_path: Path
) -> None:
    frank = vault_agent("frank", transit={"keys": ["k"]}, deletionPolicy="Delete")
    path = manifest(tmp_path, frank)
    creds = tmp_path / "creds"
    first = operator_cli("apply", "-f", path, "--credentials-dir", creds, token=operator_token)
    assert first.out.startswith("team-a/frank: created (6 Vault writes); secret_id issued")
    again = operator_cli("apply", "-f", path, "--credentials-dir", creds, token=operator_token)
    assert again.out == "team-a/frank: unchanged (0 Vault writes)\n", again.err
    wider = manifest(tmp_path, {**frank, "spec": {**frank["spec"], "scopes": ["read", "write"]}})
    changed = operator_cli("apply", "-f", wider, token=operator_token)
    assert changed.out == "team-a/frank: updated (1 Vault writes)\n", changed.err
    vault.api("POST", "secret/data/mcp/team-a.frank/x", {"data": {"v": "1"}})
    gone = operator_cli("delete", "-f", path, "--credentials-dir", creds, token=operator_token)
    assert gone.code == 0, gone.err
    _assert_access_gone(vault, "mcp-agent-team-a.frank", "mcp-minter-team-a.frank")
    assert absent(vault, "secret/metadata/mcp/team-a.frank/x")
    assert absent(vault, "transit/keys/mcp__team-a.frank__k")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "sys/policies/acl/default", None),
        ("GET", "sys/policies/acl/root", None),
        ("PUT", "sys/policies/acl/evil", {"policy": 'path "*" { capabilities = ["sudo"] }'}),
        ("GET", "sys/policies/acl", None),
        ("POST", "sys/mounts/elsewhere", {"type": "kv"}),
        ("POST", "sys/auth/userpass", {"type": "userpass"}),
        ("POST", "auth/approle/role/mcp-sidecar", {"token_policies": ["root"]}),
        ("POST", "auth/token/roles/other", {"allowed_policies": ["root"]}),
        ("POST", "auth/token/create", {"policies": ["mcp-agent-team-a.x"]}),
        ("POST", "transit/keys/other", {}),
        ("GET", "secret/data/mcp/team-a.alice/x", None),
        ("POST", "secret/data/mcp/team-a.alice/x", {"data": {"v": "1"}}),
        ("GET", "secret/metadata/other/x", None),
        ("DELETE", "secret/metadata/other/x", None),
        ("POST", "cubbyhole/x", {"v": "1"}),
    ],
)
def test_operator_policy_refuses_everything_else(
    vault: OpenBao, operator_token: str, method: str, path: str, body: Any
) -> None:
    assert denied(vault, method, path, operator_token, body), path


def test_console_script(vault: OpenBao, tmp_path: Path) -> None:
    """The installed `vault-mcp-operator` and `python -m vault_mcp_operator` entry points."""
    import os
    import subprocess
    import sys

    path = manifest(tmp_path, vault_agent("gina", namespace="scripts"))
    env = {**os.environ, "VAULT_ADDR": vault.addr, "VAULT_TOKEN": vault.token}
    script = Path(sys.executable).parent / "vault-mcp-operator"
    applied = subprocess.run(
        [str(script), "apply", "-f", str(path)], env=env, capture_output=True, text=True
    )
    assert (applied.returncode, applied.stdout) == (0, "scripts/gina: created (4 Vault writes)\n")
    deleted = subprocess.run(
        [sys.executable, "-m", "vault_mcp_operator", "delete", "-f", str(path)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout.startswith("scripts/gina: deleted")
