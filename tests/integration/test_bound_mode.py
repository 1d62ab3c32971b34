"""A bound sidecar (AGENT_ID) on a real OpenBao, with the environment the injection renders:
agents provisioned by `vault-mcp-operator apply --credentials-dir`, AppRole credentials from
mounted files, API keys from a mounted key directory, JWT and mTLS allowlists, AGENT_SCOPES."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import yaml

from devkit.openbao import OpenBao
from devkit.sidecar import SidecarProcess
from tests.integration.mcp_helpers import IGNORE_DEPRECATION, mcp_session
from tests.integration.vault_support import eventually
from tests.parts import openbao_server

ALICE = "team-a.alice"
READER = "team-a.reader"
JWT_SECRET = "bound-mode-test-hs256-secret-0123456789"
ALICE_KEY = "alice-dir-key-0123456789abcdef"
READER_KEY = "reader-dir-key-0123456789abcdef"
BOB_KEY = "bob-json-key-0123456789abcdef"  # API_KEYS_JSON maps it to another agent
CALLER_SPIFFE = "spiffe://cluster.local/ns/team-a/sa/billing"
WRITE_TOOLS = {
    "write_secret",
    "delete_secret",
    "undelete_secret",
    "destroy_secret",
    "transit_encrypt",
}
# A guard against a hung poll, not a performance assertion.
GUARD_SECONDS = 20


def vault_agent(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "vaultmcp.dev/v1alpha1",
        "kind": "VaultAgent",
        "metadata": {"name": name, "namespace": "team-a"},
        "spec": spec,
    }


@dataclass(frozen=True)
class Agent:
    agent_id: str
    role_id_file: Path
    secret_id_file: Path


@pytest.fixture(scope="module")
def bao() -> Iterator[OpenBao]:
    with openbao_server() as server:
        # The administrator's one-time prerequisites (README: installation).
        server.enable_engine("transit", "transit")
        server.api("POST", "sys/auth/approle", {"type": "approle"})
        yield server


@pytest.fixture(scope="module")
def agents(bao: OpenBao, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Agent]:
    """alice (all scopes) and reader (read, list), applied as the operator does, with their
    AppRole credentials written as the Secret volume mounts them (one file per value)."""
    root = tmp_path_factory.mktemp("bound")
    manifest = root / "agents.yaml"
    manifest.write_text(
        yaml.safe_dump_all(
            [
                vault_agent(
                    "alice", scopes=["read", "write", "list", "delete"], transit={"keys": ["k"]}
                ),
                vault_agent("reader", scopes=["read", "list"]),
            ]
        )
    )
    env = {**os.environ, "VAULT_ADDR": bao.addr, "VAULT_TOKEN": bao.token}
    cmd = [sys.executable, "-m", "vault_mcp_operator", "apply", "-f", str(manifest)]
    cmd += ["--credentials-dir", str(root / "creds")]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    out: dict[str, Agent] = {}
    for agent_id in (ALICE, READER):
        creds = json.loads((root / "creds" / f"{agent_id}.json").read_text())
        mount = root / f"approle-{agent_id}"
        mount.mkdir()
        (mount / "role_id").write_text(creds["role_id"])
        (mount / "secret_id").write_text(creds["secret_id"])
        out[agent_id] = Agent(agent_id, mount / "role_id", mount / "secret_id")
    return out


def key_dir(root: Path, key: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "key").write_text(key + "\n")
    return root


def bound_env(bao: OpenBao, agent: Agent, keys: Path, **overrides: str) -> dict[str, str]:
    """The environment the injection renders for a VaultAgent (README: bound sidecar)."""
    env = {
        "VAULT_ADDR": bao.addr,
        "VAULT_ROLE_ID_FILE": str(agent.role_id_file),
        "VAULT_SECRET_ID_FILE": str(agent.secret_id_file),
        "AGENT_ID": agent.agent_id,
        "API_KEYS_DIR": str(keys),
        "API_KEYS_JSON": json.dumps({BOB_KEY: "team-a.bob"}),
        "AUTH_API_KEY_ENABLED": "true",
        "AUTH_JWT_ENABLED": "true",
        "JWT_HS256_SECRET": JWT_SECRET,
        "JWT_ALLOWED_SUBJECTS": f"billing@example.com,{CALLER_SPIFFE}",
        "AUTH_MTLS_ENABLED": "true",
        "MTLS_ALLOWED_IDENTITIES": f"{CALLER_SPIFFE},CN=billing",
        "CHILD_TOKEN_ENABLED": "true",
        "CHILD_TOKEN_TTL": "60s",
        "RATE_LIMIT_ENABLED": "false",
    }
    return env | overrides


@pytest.fixture(scope="module")
def alice_sidecar(
    bao: OpenBao, agents: dict[str, Agent], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SidecarProcess]:
    keys = key_dir(tmp_path_factory.mktemp("alice-keys"), ALICE_KEY)
    env = bound_env(bao, agents[ALICE], keys, AGENT_SCOPES="read,write,list,delete")
    with SidecarProcess(env) as process:
        yield process


@pytest.fixture(scope="module")
def reader_sidecar(
    bao: OpenBao, agents: dict[str, Agent], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SidecarProcess]:
    keys = key_dir(tmp_path_factory.mktemp("reader-keys"), READER_KEY)
    # A full-scope key in API_KEYS_JSON: AGENT_SCOPES still caps it at read,list.
    full = json.dumps({READER_KEY + "-full": {"agent": READER, "scopes": "read write list"}})
    env = bound_env(bao, agents[READER], keys, AGENT_SCOPES="read,list", API_KEYS_JSON=full)
    with SidecarProcess(env) as process:
        yield process


def bearer(sub: str) -> dict[str, str]:
    token = jwt.encode({"sub": sub, "exp": int(time.time()) + 300}, JWT_SECRET, algorithm="HS256")
    return {"Authorization": f"Bearer {token}"}


def put(url: str, path: str, headers: dict[str, str], value: str = "v") -> httpx.Response:
    return httpx.put(f"{url}/secrets/{path}", json={"data": {"k": value}}, headers=headers)


def test_api_key_from_the_key_dir_lands_under_the_agents_folder(
    bao: OpenBao, alice_sidecar: SidecarProcess
) -> None:
    headers = {"X-API-Key": ALICE_KEY}
    assert put(alice_sidecar.url, "app/db", headers, "s3cret").status_code == 200
    read = httpx.get(f"{alice_sidecar.url}/secrets/app/db", headers=headers)
    assert (read.status_code, read.json()["data"]) == (200, {"k": "s3cret"})
    stored = bao.api("GET", f"secret/data/mcp/{ALICE}/app/db")["data"]["data"]
    assert stored == {"k": "s3cret"}
    me = httpx.get(f"{alice_sidecar.url}/whoami", headers=headers).json()
    assert (me["subject"], me["auth_mode"]) == (ALICE, "api_key")


def test_another_agents_api_key_is_refused_with_a_reason(alice_sidecar: SidecarProcess) -> None:
    response = put(alice_sidecar.url, "app/db", {"X-API-Key": BOB_KEY})
    assert response.status_code == 403
    assert "serves only agent 'team-a.alice'" in response.json()["detail"]
    assert (
        httpx.get(f"{alice_sidecar.url}/whoami", headers={"X-API-Key": "x" * 20}).status_code == 401
    )


@pytest.mark.parametrize("sub", ["billing@example.com", CALLER_SPIFFE])
def test_jwt_of_an_allowed_caller_acts_as_the_agent(
    bao: OpenBao, alice_sidecar: SidecarProcess, sub: str
) -> None:
    assert put(alice_sidecar.url, "jwt/item", bearer(sub), sub).status_code == 200
    assert bao.api("GET", f"secret/data/mcp/{ALICE}/jwt/item")["data"]["data"] == {"k": sub}
    me = httpx.get(f"{alice_sidecar.url}/whoami", headers=bearer(sub)).json()
    assert (me["subject"], me["identity"]) == (ALICE, f"jwt:{sub}")


@pytest.mark.parametrize("sub", ["mallory@example.com", ALICE])
def test_jwt_of_another_caller_is_refused(alice_sidecar: SidecarProcess, sub: str) -> None:
    response = httpx.get(f"{alice_sidecar.url}/secrets/app/db", headers=bearer(sub))
    assert response.status_code == 403
    assert "JWT_ALLOWED_SUBJECTS" in response.json()["detail"]


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Forwarded-Client-Cert": f"Hash=ab;URI={CALLER_SPIFFE}"},
        {"X-SSL-Client-S-DN": "CN=billing,O=Example", "X-SSL-Client-Verify": "SUCCESS"},
    ],
)
def test_mtls_identity_allowed(
    bao: OpenBao, alice_sidecar: SidecarProcess, headers: dict[str, str]
) -> None:
    assert put(alice_sidecar.url, "mtls/item", headers, "m").status_code == 200
    assert bao.api("GET", f"secret/data/mcp/{ALICE}/mtls/item")["data"]["data"] == {"k": "m"}
    assert httpx.get(f"{alice_sidecar.url}/whoami", headers=headers).json()["subject"] == ALICE


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Forwarded-Client-Cert": "Hash=ab;URI=spiffe://cluster.local/ns/team-b/sa/x"},
        {"X-SSL-Client-S-DN": "CN=team-a.alice,O=Example", "X-SSL-Client-Verify": "SUCCESS"},
    ],
)
def test_mtls_identity_not_allowed(alice_sidecar: SidecarProcess, headers: dict[str, str]) -> None:
    response = httpx.get(f"{alice_sidecar.url}/secrets/app/db", headers=headers)
    assert response.status_code == 403
    assert "MTLS_ALLOWED_IDENTITIES" in response.json()["detail"]


def test_agent_scopes_cap_a_full_scope_key(bao: OpenBao, reader_sidecar: SidecarProcess) -> None:
    bao.api("POST", f"secret/data/mcp/{READER}/cfg", {"data": {"k": "ro"}})
    for key in (READER_KEY, READER_KEY + "-full"):
        headers = {"X-API-Key": key}
        denied = put(reader_sidecar.url, "cfg", headers)
        assert denied.status_code == 403, denied.text
        assert "write" in denied.json()["detail"]
        read = httpx.get(f"{reader_sidecar.url}/secrets/cfg", headers=headers)
        assert (read.status_code, read.json()["data"]) == (200, {"k": "ro"})
        me = httpx.get(f"{reader_sidecar.url}/whoami", headers=headers).json()
        assert me["scopes"] == ["list", "read"]
    assert bao.api("GET", f"secret/data/mcp/{READER}/cfg")["data"]["data"] == {"k": "ro"}


@pytest.mark.filterwarnings(IGNORE_DEPRECATION)
async def test_mcp_lists_no_write_tools_for_a_read_only_agent(
    reader_sidecar: SidecarProcess, alice_sidecar: SidecarProcess
) -> None:
    async with mcp_session(reader_sidecar.url, {"X-API-Key": READER_KEY}) as session:
        reader_tools = {tool.name for tool in (await session.list_tools()).tools}
    assert reader_tools == {"read_secret", "list_secrets", "transit_decrypt", "whoami"}
    assert not reader_tools & WRITE_TOOLS
    async with mcp_session(alice_sidecar.url, {"X-API-Key": ALICE_KEY}) as session:
        alice_tools = {tool.name for tool in (await session.list_tools()).tools}
    assert alice_tools >= WRITE_TOOLS


def test_rotated_key_secret_works_without_restart(
    bao: OpenBao, agents: dict[str, Agent], tmp_path: Path
) -> None:
    keys = key_dir(tmp_path / "keys", ALICE_KEY)
    with SidecarProcess(bound_env(bao, agents[ALICE], keys)) as sidecar:
        old = {"X-API-Key": ALICE_KEY}
        assert httpx.get(f"{sidecar.url}/whoami", headers=old).status_code == 200
        new_key = "alice-rotated-key-0123456789abcdef"
        staged = tmp_path / "keys" / ".staged"
        staged.write_text(new_key)
        os.replace(staged, tmp_path / "keys" / "key")  # as atomic as the kubelet's swap
        new = {"X-API-Key": new_key}

        def accepts_new_key() -> bool | None:
            return httpx.get(f"{sidecar.url}/whoami", headers=new).status_code == 200 or None

        eventually(accepts_new_key, timeout=GUARD_SECONDS)
        assert httpx.get(f"{sidecar.url}/whoami", headers=old).status_code == 401
        assert put(sidecar.url, "rotated", new).status_code == 200
        stored = bao.api("GET", f"secret/data/mcp/{ALICE}/rotated")["data"]["data"]
        assert stored == {"k": "v"}
        logs = sidecar.logs()
        assert ALICE_KEY not in logs
        assert new_key not in logs
