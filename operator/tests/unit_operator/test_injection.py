"""injection.py: which pods get the sidecar, and exactly what it is (DESIGN §7)."""

from __future__ import annotations

from typing import Any

import pytest

from vault_mcp_operator.config import ConfigError, OperatorSettings, load_settings
from vault_mcp_operator.injection import (
    InjectionRefused,
    SidecarSettings,
    plan_injection,
    sidecar_env,
)
from vault_mcp_operator.spec import parse_spec

ANNOTATED = {"annotations": {"vaultmcp.dev/inject": "true", "vaultmcp.dev/agent": "alice"}}
POD_SPEC: dict[str, Any] = {
    "containers": [{"name": "app", "image": "app:1"}],
    "volumes": [{"name": "data", "emptyDir": {}}],
}


def agent(ready: str = "True", **spec: Any) -> dict[str, Any]:
    spec.setdefault("auth", {"apiKeys": {"secretRef": {"name": "alice-api-keys"}}})
    condition = {"type": "Ready", "status": ready, "reason": "X", "message": "Vault is down"}
    return {"metadata": {"name": "alice"}, "spec": spec, "status": {"conditions": [condition]}}


@pytest.fixture
def sidecar(settings: OperatorSettings) -> SidecarSettings:
    return SidecarSettings.from_settings(settings)


def plan(sidecar: SidecarSettings, raw_agent: dict[str, Any] | None) -> dict[str, Any]:
    result = plan_injection(ANNOTATED, POD_SPEC, "team-a", raw_agent, sidecar)
    assert result is not None
    return result


def test_native_sidecar_first_with_hardened_container(sidecar: SidecarSettings) -> None:
    pod = plan(sidecar, agent())
    container = pod["initContainers"][0]
    assert container["name"] == "vault-mcp-sidecar"
    assert container["restartPolicy"] == "Always"
    assert container["image"] == "vault-mcp-sidecar:0.1.0"
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container["resources"] == {
        "requests": {"cpu": "50m", "memory": "64Mi"},
        "limits": {"cpu": "500m", "memory": "128Mi"},
    }
    for probe in ("startupProbe", "readinessProbe"):
        command = container[probe]["exec"]["command"]
        assert command[:2] == ["python", "-c"]
        assert "http://127.0.0.1:8089/healthz" in command[2]
    assert pod["containers"] == POD_SPEC["containers"]  # the app is untouched


def test_env_exactly(sidecar: SidecarSettings) -> None:
    raw = agent(
        scopes=["read", "write"],
        token={"childTTL": "90s", "childNumUses": 3},
        rateLimit={"requests": 10, "windowSeconds": 30},
        auth={
            "apiKeys": {"secretRef": {"name": "alice-api-keys"}},
            "jwt": {
                "issuer": "https://issuer.example",
                "audience": "vault-mcp",
                "jwksURL": "https://issuer.example/jwks.json",
                "subjects": ["svc-a", "svc-b"],
            },
            "mtls": {"allowedIdentities": ["spiffe://cluster.local/ns/team-a/sa/alice"]},
        },
    )
    env = plan(sidecar, raw)["initContainers"][0]["env"]
    assert [(e["name"], e["value"]) for e in env] == [
        ("AGENT_ID", "team-a.alice"),
        ("AGENT_SCOPES", "read,write"),
        ("VAULT_ADDR", "http://localhost:8200"),
        ("VAULT_ROLE_ID_FILE", "/vault/approle/role_id"),
        ("VAULT_SECRET_ID_FILE", "/vault/approle/secret_id"),
        ("KV_MOUNT", "secret"),
        ("DEFAULT_PREFIX", "mcp"),
        ("TRANSIT_MOUNT", "transit"),
        ("CHILD_TOKEN_POLICY_PREFIX", sidecar.child_token_policy_prefix),
        ("CHILD_TOKEN_ENABLED", "true"),
        ("CHILD_TOKEN_TTL", "90s"),
        ("CHILD_TOKEN_NUM_USES", "3"),
        ("CHILD_TOKEN_TYPE", "service"),
        ("HOST", "127.0.0.1"),
        ("PORT", "8089"),
        ("RATE_LIMIT_ENABLED", "true"),
        ("RATE_LIMIT_REQUESTS", "10"),
        ("RATE_LIMIT_WINDOW_SECONDS", "30"),
        ("AUTH_API_KEY_ENABLED", "true"),
        ("API_KEYS_DIR", "/vault/api-keys"),
        ("AUTH_JWT_ENABLED", "true"),
        ("JWT_ISSUER", "https://issuer.example"),
        ("JWT_AUDIENCE", "vault-mcp"),
        ("JWT_JWKS_URL", "https://issuer.example/jwks.json"),
        ("JWT_ALGORITHMS", "RS256,ES256"),
        ("JWT_ALLOWED_SUBJECTS", "svc-a,svc-b"),
        ("AUTH_MTLS_ENABLED", "true"),
        ("MTLS_ALLOWED_IDENTITIES", "spiffe://cluster.local/ns/team-a/sa/alice"),
        ("LOG_LEVEL", "info"),
    ]


def test_env_defaults_and_only_api_keys(sidecar: SidecarSettings) -> None:
    env = {e["name"]: e["value"] for e in plan(sidecar, agent())["initContainers"][0]["env"]}
    assert env["AGENT_SCOPES"] == "read,list"
    assert (env["RATE_LIMIT_REQUESTS"], env["RATE_LIMIT_WINDOW_SECONDS"]) == ("60", "60")
    assert (env["CHILD_TOKEN_TTL"], env["CHILD_TOKEN_NUM_USES"]) == ("90s", "0")
    assert env["CHILD_TOKEN_TYPE"] == "service"
    assert (env["AUTH_JWT_ENABLED"], env["AUTH_MTLS_ENABLED"]) == ("false", "false")
    assert "JWT_ISSUER" not in env
    assert "VAULT_CACERT" not in env


def test_volumes_and_mounts(sidecar: SidecarSettings) -> None:
    pod = plan(sidecar, agent())
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["data"] == {"name": "data", "emptyDir": {}}
    assert volumes["vault-mcp-approle"]["secret"]["secretName"] == "alice-vault-approle"
    assert volumes["vault-mcp-api-keys"]["secret"]["secretName"] == "alice-api-keys"
    assert volumes["vault-mcp-tmp"]["emptyDir"] == {"sizeLimit": "16Mi"}
    mounts = {m["mountPath"]: m for m in pod["initContainers"][0]["volumeMounts"]}
    assert mounts["/vault/approle"]["readOnly"] is True
    assert mounts["/vault/api-keys"]["readOnly"] is True
    assert set(mounts) == {"/vault/approle", "/vault/api-keys", "/tmp"}


def test_jwt_only_has_no_api_keys_volume(sidecar: SidecarSettings) -> None:
    pod = plan(sidecar, agent(auth={"jwt": {"issuer": "i", "jwksURL": "https://i/jwks"}}))
    assert "vault-mcp-api-keys" not in {v["name"] for v in pod["volumes"]}
    env = {e["name"]: e["value"] for e in pod["initContainers"][0]["env"]}
    assert (env["AUTH_API_KEY_ENABLED"], env["AUTH_JWT_ENABLED"]) == ("false", "true")
    assert "API_KEYS_DIR" not in env


def test_settings_reach_the_sidecar(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("SIDECAR_IMAGE", "mirror.example/vault-mcp-sidecar:2")
    monkeypatch.setenv("SIDECAR_VAULT_ADDR", "https://vault.vault.svc:8200")
    monkeypatch.setenv("SIDECAR_VAULT_CA_SECRET", "vault-ca")
    monkeypatch.setenv("SIDECAR_MEMORY_LIMIT", "256Mi")
    sidecar = SidecarSettings.from_settings(OperatorSettings())
    pod = plan(sidecar, agent())
    container = pod["initContainers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert container["image"] == "mirror.example/vault-mcp-sidecar:2"
    assert container["resources"]["limits"]["memory"] == "256Mi"
    assert env["VAULT_ADDR"] == "https://vault.vault.svc:8200"
    assert env["VAULT_CACERT"] == "/vault/ca/ca.crt"
    assert {"name": "vault-mcp-ca", "mountPath": "/vault/ca", "readOnly": True} in container[
        "volumeMounts"
    ]


def test_existing_init_containers_come_after_the_sidecar(sidecar: SidecarSettings) -> None:
    spec = {**POD_SPEC, "initContainers": [{"name": "migrate", "image": "app:1"}]}
    pod = plan_injection(ANNOTATED, spec, "team-a", agent(), sidecar)
    assert pod is not None
    assert [c["name"] for c in pod["initContainers"]] == ["vault-mcp-sidecar", "migrate"]


def test_idempotent(sidecar: SidecarSettings) -> None:
    once = plan(sidecar, agent())
    assert plan_injection(ANNOTATED, once, "team-a", agent(), sidecar) is None
    # even when the agent is gone by now: an injected pod is left alone
    assert plan_injection(ANNOTATED, once, "team-a", None, sidecar) is None


@pytest.mark.parametrize(
    "metadata",
    [
        None,
        {},
        {"annotations": {"vaultmcp.dev/agent": "alice"}},
        {"annotations": {"vaultmcp.dev/inject": "false", "vaultmcp.dev/agent": "alice"}},
    ],
)
def test_pods_not_asking_are_left_alone(
    sidecar: SidecarSettings, metadata: dict[str, Any] | None
) -> None:
    assert plan_injection(metadata, POD_SPEC, "team-a", None, sidecar) is None


@pytest.mark.parametrize(
    ("raw_agent", "message"),
    [
        (None, "VaultAgent team-a/alice not found"),
        (agent(ready="False"), "VaultAgent team-a/alice is not Ready: Vault is down"),
        (
            {"spec": {}, "status": {}},
            "VaultAgent team-a/alice is not Ready: the operator has not provisioned it yet",
        ),
        (
            agent(auth={}),
            "VaultAgent team-a/alice has no spec.auth: callers could not authenticate",
        ),
        (agent(scopes=["root"]), "VaultAgent team-a/alice: spec.scopes[0]: must be one of"),
    ],
)
def test_refusals_name_the_agent_and_why(
    sidecar: SidecarSettings, raw_agent: dict[str, Any] | None, message: str
) -> None:
    with pytest.raises(InjectionRefused) as caught:
        plan_injection(ANNOTATED, POD_SPEC, "team-a", raw_agent, sidecar)
    assert str(caught.value).startswith(message)


def test_inject_without_agent_annotation_is_refused(sidecar: SidecarSettings) -> None:
    with pytest.raises(InjectionRefused, match=r"needs a vaultmcp\.dev/agent annotation"):
        plan_injection({"annotations": {"vaultmcp.dev/inject": "true"}}, POD_SPEC, "a", {}, sidecar)


def test_env_is_a_pure_function_of_the_spec(sidecar: SidecarSettings) -> None:
    spec = parse_spec({"auth": {"mtls": {"allowedIdentities": ["a"]}}})
    assert sidecar_env("ns", "n", spec, sidecar) == sidecar_env("ns", "n", spec, sidecar)


def test_webhook_settings_defaults(settings: OperatorSettings) -> None:
    assert settings.webhook_enabled is False
    assert settings.webhook_port == 9443
    assert str(settings.webhook_cert_file) == "/etc/webhook/tls/tls.crt"
    assert str(settings.webhook_key_file) == "/etc/webhook/tls/tls.key"
    assert settings.webhook_fail_open is False
    assert settings.pod_vault_addr == settings.vault_addr


def test_bad_sidecar_vault_addr_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIDECAR_VAULT_ADDR", "vault:8200")
    with pytest.raises(ConfigError, match=r"(?i)SIDECAR_VAULT_ADDR"):
        load_settings()
