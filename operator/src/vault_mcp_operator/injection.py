"""The sidecar injection (DESIGN §7): what a pod annotated for an agent gets. Pure, no I/O.

The webhook (webhook.py) and the offline `vault-mcp-operator inject` (inject_files.py) both
call `plan_injection`, so a pod mutated at admission and a manifest mutated on disk are the
same. The sidecar goes in as a *native sidecar* -- an init container with
`restartPolicy: Always`, first in the list -- so the kubelet starts it (and waits for its
startup probe) before any other container, and it does not keep a Job's pod alive.

The sidecar listens on 127.0.0.1 only (the pod's own containers are its only callers), which
the kubelet cannot reach: its probes run `python -c` inside the sidecar's image instead of an
HTTP GET from the node.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vault_mcp_operator.config import OperatorSettings
from vault_mcp_operator.names import CREDENTIALS_SECRET_SUFFIX
from vault_mcp_operator.spec import SpecError, VaultAgentSpec, parse_spec
from vault_mcp_operator.status import READY, find_condition
from vault_mcp_sidecar.naming import agent_id

INJECT_ANNOTATION = "vaultmcp.dev/inject"
AGENT_ANNOTATION = "vaultmcp.dev/agent"
SIDECAR_NAME = "vault-mcp-sidecar"
PORT = 8089
APPROLE_DIR = "/vault/approle"
API_KEYS_DIR = "/vault/api-keys"
CA_DIR = "/vault/ca"
CA_KEY = "ca.crt"
RUN_AS_USER = 65532
APPROLE_VOLUME = "vault-mcp-approle"
API_KEYS_VOLUME = "vault-mcp-api-keys"
CA_VOLUME = "vault-mcp-ca"
TMP_VOLUME = "vault-mcp-tmp"
JWT_ALGORITHMS = "RS256,ES256"
_READ_ONLY_FILES = 0o444  # the sidecar runs as 65532, not as the files' owner (root)
_HEALTH_COMMAND = (
    f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{PORT}/healthz', timeout=2)"
)


class InjectionRefused(Exception):
    """The pod asks for an agent that cannot serve it; `str()` is the admission message."""


@dataclass(frozen=True, slots=True)
class SidecarSettings:
    """What the operator's settings say about every injected sidecar."""

    image: str
    pull_policy: str
    requests: tuple[tuple[str, str], ...]
    limits: tuple[tuple[str, str], ...]
    vault_addr: str
    vault_ca_secret: str | None
    kv_mount: str
    default_prefix: str
    transit_mount: str
    child_token_policy_prefix: str

    @classmethod
    def from_settings(cls, settings: OperatorSettings) -> SidecarSettings:
        return cls(
            image=settings.sidecar_image,
            pull_policy=settings.sidecar_image_pull_policy,
            requests=(
                ("cpu", settings.sidecar_cpu_request),
                ("memory", settings.sidecar_memory_request),
            ),
            limits=(("cpu", settings.sidecar_cpu_limit), ("memory", settings.sidecar_memory_limit)),
            vault_addr=settings.pod_vault_addr,
            vault_ca_secret=settings.sidecar_vault_ca_secret,
            kv_mount=settings.kv_mount,
            default_prefix=settings.default_prefix,
            transit_mount=settings.transit_mount,
            child_token_policy_prefix=settings.child_token_policy_prefix,
        )


# -- which pods -----------------------------------------------------------------------------


def wants_injection(metadata: Mapping[str, Any] | None) -> bool:
    """The pod (or pod template) asks for the sidecar: `vaultmcp.dev/inject: "true"`."""
    annotations = (metadata or {}).get("annotations") or {}
    return str(annotations.get(INJECT_ANNOTATION, "")).strip().lower() == "true"


def requested_agent(metadata: Mapping[str, Any] | None) -> str:
    """The VaultAgent named by `vaultmcp.dev/agent`; InjectionRefused when there is none."""
    annotations = (metadata or {}).get("annotations") or {}
    name = str(annotations.get(AGENT_ANNOTATION, "")).strip()
    if not name:
        raise InjectionRefused(
            f'{INJECT_ANNOTATION}: "true" needs a {AGENT_ANNOTATION} annotation naming a VaultAgent'
        )
    return name


def already_injected(pod_spec: Mapping[str, Any] | None) -> bool:
    """The pod has the sidecar already (as an init or a regular container): leave it alone."""
    spec = pod_spec or {}
    containers = [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]
    return any(container.get("name") == SIDECAR_NAME for container in containers)


# -- which agents ---------------------------------------------------------------------------


def usable_agent(agent: Mapping[str, Any] | None, namespace: str, name: str) -> VaultAgentSpec:
    """The spec of a VaultAgent that can serve an injected sidecar, else InjectionRefused."""
    where = f"VaultAgent {namespace}/{name}"
    if agent is None:
        raise InjectionRefused(f"{where} not found")
    ready = find_condition((agent.get("status") or {}).get("conditions"), READY) or {}
    if ready.get("status") != "True":
        why = ready.get("message") or "the operator has not provisioned it yet"
        raise InjectionRefused(f"{where} is not Ready: {why}")
    try:
        spec = parse_spec(agent.get("spec"))
    except SpecError as exc:
        raise InjectionRefused(f"{where}: {exc}") from None
    auth = spec.auth
    if auth.api_keys is None and auth.jwt is None and auth.mtls is None:
        raise InjectionRefused(f"{where} has no spec.auth: callers could not authenticate")
    return spec


# -- what the sidecar gets ------------------------------------------------------------------


def sidecar_env(
    namespace: str, name: str, spec: VaultAgentSpec, sidecar: SidecarSettings
) -> list[dict[str, str]]:
    """The sidecar's environment, in a fixed order (DESIGN §6 names)."""
    env: list[tuple[str, str]] = [
        ("AGENT_ID", agent_id(namespace, name)),
        ("AGENT_SCOPES", ",".join(str(scope) for scope in spec.scopes)),
        ("VAULT_ADDR", sidecar.vault_addr),
        ("VAULT_ROLE_ID_FILE", f"{APPROLE_DIR}/role_id"),
        ("VAULT_SECRET_ID_FILE", f"{APPROLE_DIR}/secret_id"),
        ("KV_MOUNT", sidecar.kv_mount),
        ("DEFAULT_PREFIX", sidecar.default_prefix),
        ("TRANSIT_MOUNT", sidecar.transit_mount),
        ("CHILD_TOKEN_POLICY_PREFIX", sidecar.child_token_policy_prefix),
        ("CHILD_TOKEN_ENABLED", "true"),
        ("CHILD_TOKEN_TTL", f"{spec.token.child_ttl}s"),
        ("CHILD_TOKEN_NUM_USES", str(spec.token.child_num_uses)),
        ("CHILD_TOKEN_TYPE", spec.token.child_type),
        ("HOST", "127.0.0.1"),
        ("PORT", str(PORT)),
        ("RATE_LIMIT_ENABLED", "true"),
        ("RATE_LIMIT_REQUESTS", str(spec.rate_limit.requests)),
        ("RATE_LIMIT_WINDOW_SECONDS", str(spec.rate_limit.window_seconds)),
        *_auth_env(spec),
        ("LOG_LEVEL", "info"),
    ]
    if sidecar.vault_ca_secret:
        env.append(("VAULT_CACERT", f"{CA_DIR}/{CA_KEY}"))
    return [{"name": key, "value": value} for key, value in env]


def _auth_env(spec: VaultAgentSpec) -> list[tuple[str, str]]:
    auth = spec.auth
    env = [("AUTH_API_KEY_ENABLED", _flag(auth.api_keys is not None))]
    if auth.api_keys is not None:
        env.append(("API_KEYS_DIR", API_KEYS_DIR))
    env.append(("AUTH_JWT_ENABLED", _flag(auth.jwt is not None)))
    if auth.jwt is not None:
        jwt = auth.jwt
        optional = (("JWT_ISSUER", jwt.issuer), ("JWT_AUDIENCE", jwt.audience))
        env += [(key, value) for key, value in optional if value]
        if jwt.jwks_url:
            env += [("JWT_JWKS_URL", jwt.jwks_url), ("JWT_ALGORITHMS", JWT_ALGORITHMS)]
        if jwt.subjects:
            env.append(("JWT_ALLOWED_SUBJECTS", ",".join(jwt.subjects)))
    env.append(("AUTH_MTLS_ENABLED", _flag(auth.mtls is not None)))
    if auth.mtls is not None and auth.mtls.allowed_identities:
        env.append(("MTLS_ALLOWED_IDENTITIES", ",".join(auth.mtls.allowed_identities)))
    return env


def _flag(value: bool) -> str:
    return "true" if value else "false"


def sidecar_container(
    namespace: str, name: str, spec: VaultAgentSpec, sidecar: SidecarSettings
) -> dict[str, Any]:
    """The native sidecar: an init container that keeps running (`restartPolicy: Always`)."""
    probe = {"exec": {"command": ["python", "-c", _HEALTH_COMMAND]}, "timeoutSeconds": 3}
    return {
        "name": SIDECAR_NAME,
        "image": sidecar.image,
        "imagePullPolicy": sidecar.pull_policy,
        "restartPolicy": "Always",
        "env": sidecar_env(namespace, name, spec, sidecar),
        "ports": [{"name": "vault-mcp", "containerPort": PORT, "protocol": "TCP"}],
        "startupProbe": {**probe, "periodSeconds": 1, "failureThreshold": 60},
        "readinessProbe": {**probe, "periodSeconds": 10, "failureThreshold": 3},
        "resources": {"requests": dict(sidecar.requests), "limits": dict(sidecar.limits)},
        "securityContext": _security_context(),
        "volumeMounts": _mounts(spec, sidecar),
    }


def _security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS_USER,
        "runAsGroup": RUN_AS_USER,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _mounts(spec: VaultAgentSpec, sidecar: SidecarSettings) -> list[dict[str, Any]]:
    mounts = [{"name": APPROLE_VOLUME, "mountPath": APPROLE_DIR, "readOnly": True}]
    if spec.auth.api_keys is not None:
        mounts.append({"name": API_KEYS_VOLUME, "mountPath": API_KEYS_DIR, "readOnly": True})
    if sidecar.vault_ca_secret:
        mounts.append({"name": CA_VOLUME, "mountPath": CA_DIR, "readOnly": True})
    mounts.append({"name": TMP_VOLUME, "mountPath": "/tmp"})  # noqa: S108 - an emptyDir
    return mounts


def sidecar_volumes(
    name: str, spec: VaultAgentSpec, sidecar: SidecarSettings
) -> list[dict[str, Any]]:
    """The volumes the sidecar mounts: the operator's AppRole Secret, the API keys, a /tmp."""
    volumes = [_secret_volume(APPROLE_VOLUME, f"{name}{CREDENTIALS_SECRET_SUFFIX}")]
    if spec.auth.api_keys is not None:
        volumes.append(_secret_volume(API_KEYS_VOLUME, spec.auth.api_keys.secret_ref.name))
    if sidecar.vault_ca_secret:
        volumes.append(_secret_volume(CA_VOLUME, sidecar.vault_ca_secret))
    volumes.append({"name": TMP_VOLUME, "emptyDir": {"sizeLimit": "16Mi"}})
    return volumes


def _secret_volume(volume: str, secret: str) -> dict[str, Any]:
    return {"name": volume, "secret": {"secretName": secret, "defaultMode": _READ_ONLY_FILES}}


def inject(
    pod_spec: Mapping[str, Any],
    namespace: str,
    name: str,
    spec: VaultAgentSpec,
    sidecar: SidecarSettings,
) -> dict[str, Any]:
    """A copy of `pod_spec` with the sidecar first among the init containers and its volumes
    added (a volume of the same name already in the pod is replaced)."""
    result = copy.deepcopy(dict(pod_spec))
    container = sidecar_container(namespace, name, spec, sidecar)
    result["initContainers"] = [container, *(result.get("initContainers") or ())]
    ours = sidecar_volumes(name, spec, sidecar)
    taken = {volume["name"] for volume in ours}
    kept = [volume for volume in result.get("volumes") or () if volume.get("name") not in taken]
    result["volumes"] = [*kept, *ours]
    return result


def plan_injection(
    metadata: Mapping[str, Any] | None,
    pod_spec: Mapping[str, Any] | None,
    namespace: str,
    agent: Mapping[str, Any] | None,
    sidecar: SidecarSettings,
) -> dict[str, Any] | None:
    """The pod spec after injection; None when nothing is to change (not asked for, or done
    already). `agent` is the VaultAgent that `requested_agent(metadata)` names, None if absent.
    Raises InjectionRefused when the pod asks for an agent that cannot serve it."""
    if not wants_injection(metadata) or already_injected(pod_spec):
        return None
    name = requested_agent(metadata)
    spec = usable_agent(agent, namespace, name)
    return inject(pod_spec or {}, namespace, name, spec, sidecar)
