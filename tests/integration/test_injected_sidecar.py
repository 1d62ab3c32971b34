"""Operator, injection and sidecar together: a sidecar started with exactly the environment
the injection renders for a pod serves its agent, and nothing else, until the agent is gone.

`vault-mcp-operator apply` provisions two agents on a real OpenBao (as the operator would in a
cluster); `injection.plan_injection` renders the pod; the sidecar container's env is taken
as is, except that the `/vault/...` mount paths point at a temp dir holding the Secrets' data
(as the kubelet would mount them) and the harness picks a free port (PORT=8089 is the pod's).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from devkit.openbao import OpenBao
from devkit.sidecar import SidecarProcess
from tests.integration.mcp_helpers import IGNORE_DEPRECATION, json_of, mcp_session
from tests.parts import openbao_server
from vault_mcp_operator.config import OperatorSettings
from vault_mcp_operator.injection import SIDECAR_NAME, SidecarSettings, plan_injection

NAMESPACE = "team-a"
KEYS = {"alice": "alice-app-key-0123456789abcdef", "bob": "bob-app-key-0123456789abcdef"}
ANNOTATIONS = {"vaultmcp.dev/inject": "true"}


def vault_agent(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "vaultmcp.dev/v1alpha1",
        "kind": "VaultAgent",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "scopes": ["read", "write", "list", "delete"],
            "transit": {"keys": ["payments"]},
            "auth": {"apiKeys": {"secretRef": {"name": f"{name}-api-keys"}}},
        },
    }


@dataclass
class World:
    bao: OpenBao
    root: Path

    def operator(self, command: str, name: str) -> subprocess.CompletedProcess[str]:
        """`vault-mcp-operator apply|delete -f <agent>.yaml`, as root (the admin's run)."""
        manifest = self.root / f"{name}.yaml"
        manifest.write_text(yaml.safe_dump(vault_agent(name)))
        env = {**os.environ, "VAULT_ADDR": self.bao.addr, "VAULT_TOKEN": self.bao.token}
        cmd = [sys.executable, "-m", "vault_mcp_operator", command, "-f", str(manifest)]
        cmd += ["--credentials-dir", str(self.root / "creds")]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)

    def injected_env(self, name: str) -> dict[str, str]:
        """The sidecar's env from the injected pod, mounts rewritten to files under root."""
        agent = {
            **vault_agent(name),
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        }
        settings = OperatorSettings(sidecar_vault_addr=self.bao.addr)
        metadata = {"annotations": {**ANNOTATIONS, "vaultmcp.dev/agent": name}}
        spec = {"containers": [{"name": "app", "image": "app:1"}]}
        pod = plan_injection(
            metadata, spec, NAMESPACE, agent, SidecarSettings.from_settings(settings)
        )
        assert pod is not None
        container = next(c for c in pod["initContainers"] if c["name"] == SIDECAR_NAME)
        mounts = self._mount_secrets(name, pod, container)
        env: dict[str, str] = {}
        for item in container["env"]:
            value = str(item["value"])
            for mount_path, local in mounts.items():
                value = value.replace(mount_path, str(local))
            env[item["name"]] = value
        return env

    def _mount_secrets(
        self, name: str, pod: dict[str, Any], container: dict[str, Any]
    ) -> dict[str, Path]:
        """What the kubelet does: each Secret volume's data as files, at a local path."""
        data = {
            f"{name}-vault-approle": self._credentials(name),
            f"{name}-api-keys": {"app": KEYS[name]},
        }
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts: dict[str, Path] = {}
        for mount in container["volumeMounts"]:
            secret = volumes[mount["name"]].get("secret")
            if secret is None:
                continue  # the /tmp emptyDir: the host's /tmp serves
            local = self.root / name / mount["name"]
            local.mkdir(parents=True, exist_ok=True)
            for key, value in data[secret["secretName"]].items():
                (local / key).write_text(value)
            mounts[mount["mountPath"]] = local
        return mounts

    def _credentials(self, name: str) -> dict[str, str]:
        """The operator's Secret data (role_id, secret_id) for the agent."""
        creds = json.loads((self.root / "creds" / f"{NAMESPACE}.{name}.json").read_text())
        return {"role_id": creds["role_id"], "secret_id": creds["secret_id"]}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with openbao_server() as bao:
        bao.enable_engine("transit", "transit")
        bao.api("POST", "sys/auth/approle", {"type": "approle"})
        world = World(bao, tmp_path_factory.mktemp("injected"))
        for name in ("alice", "bob"):
            result = world.operator("apply", name)
            assert result.returncode == 0, result.stderr
        yield world


@pytest.fixture(scope="module")
def alice(world: World) -> Iterator[SidecarProcess]:
    with SidecarProcess(world.injected_env("alice")) as sidecar:
        yield sidecar


@pytest.fixture(scope="module")
def bob(world: World) -> Iterator[SidecarProcess]:
    with SidecarProcess(world.injected_env("bob")) as sidecar:
        yield sidecar


def key(name: str) -> dict[str, str]:
    return {"X-API-Key": KEYS[name]}


def test_env_is_the_injections(world: World) -> None:
    env = world.injected_env("alice")
    assert env["AGENT_ID"] == "team-a.alice"
    assert env["VAULT_ROLE_ID_FILE"].startswith(str(world.root))
    assert Path(env["API_KEYS_DIR"], "app").read_text() == KEYS["alice"]
    assert "VAULT_TOKEN" not in env  # the sidecar logs in with the mounted AppRole


def test_kv_through_the_sidecar(world: World, alice: SidecarProcess) -> None:
    url = f"{alice.url}/secrets/app/db"
    assert httpx.put(url, json={"data": {"password": "s3cret"}}, headers=key("alice")).is_success
    read = httpx.get(url, headers=key("alice"))
    assert (read.status_code, read.json()["data"]) == (200, {"password": "s3cret"})
    stored = world.bao.api("GET", "secret/data/mcp/team-a.alice/app/db")["data"]["data"]
    assert stored == {"password": "s3cret"}
    listed = httpx.get(f"{alice.url}/secrets", params={"prefix": "app"}, headers=key("alice"))
    assert listed.json()["keys"] == ["db"]


def test_transit_through_the_sidecar(alice: SidecarProcess) -> None:
    plaintext = base64.b64encode(b"card 4111").decode()
    body = {"key": "payments", "plaintext": plaintext}
    encrypted = httpx.post(f"{alice.url}/transit/encrypt", json=body, headers=key("alice"))
    assert encrypted.status_code == 200, encrypted.text
    back = httpx.post(
        f"{alice.url}/transit/decrypt",
        json={"key": "payments", "ciphertext": encrypted.json()["ciphertext"]},
        headers=key("alice"),
    )
    assert back.json()["plaintext"] == plaintext


@pytest.mark.filterwarnings(IGNORE_DEPRECATION)
async def test_mcp_through_the_sidecar(alice: SidecarProcess) -> None:
    async with mcp_session(alice.url, key("alice")) as session:
        await session.call_tool("write_secret", {"path": "mcp/item", "data": {"k": "v"}})
        read = json_of(await session.call_tool("read_secret", {"path": "mcp/item"}))
        me = json_of(await session.call_tool("whoami", {}))
    assert read["data"] == {"k": "v"}
    assert me["subject"] == "team-a.alice"


def test_another_agents_data_stays_unreachable(
    world: World, alice: SidecarProcess, bob: SidecarProcess
) -> None:
    world.bao.api("POST", "secret/data/mcp/team-a.bob/private", {"data": {"k": "bob's"}})
    # bob's key is not alice's sidecar's, and alice's is not bob's
    assert httpx.get(f"{alice.url}/secrets/private", headers=key("bob")).status_code == 401
    assert httpx.get(f"{bob.url}/secrets/private", headers=key("alice")).status_code == 401
    # alice's relative paths stay in her folder; a way out is refused before Vault
    mine = httpx.get(f"{alice.url}/secrets/private", headers=key("alice"))
    assert mine.status_code == 404
    escape = httpx.get(f"{alice.url}/secrets/../team-a.bob/private", headers=key("alice"))
    assert escape.status_code in (400, 404)
    escape = httpx.get(f"{alice.url}/secrets/..%2Fteam-a.bob%2Fprivate", headers=key("alice"))
    assert escape.status_code in (400, 404, 422)
    # bob's own sidecar serves bob
    assert httpx.get(f"{bob.url}/secrets/private", headers=key("bob")).json()["data"] == {
        "k": "bob's"
    }


def test_deleted_agent_loses_access_and_the_sidecar_says_why(
    world: World, alice: SidecarProcess, bob: SidecarProcess
) -> None:
    url = f"{alice.url}/secrets/gone/soon"
    assert httpx.put(url, json={"data": {"k": "v"}}, headers=key("alice")).status_code == 200
    result = world.operator("delete", "alice")
    assert result.returncode == 0, result.stderr
    refused = httpx.get(url, headers=key("alice"))
    assert refused.status_code == 403, refused.text
    detail = str(refused.json()["detail"])
    assert "team-a.alice" in detail, detail
    assert "VaultAgent deleted" in detail, detail
    # bob is untouched
    bobs = f"{bob.url}/secrets/still/here"
    assert httpx.put(bobs, json={"data": {"k": "v"}}, headers=key("bob")).status_code == 200
    assert httpx.get(bobs, headers=key("bob")).status_code == 200
