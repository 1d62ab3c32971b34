"""Pure admission payloads for the webhook bench: a Ready VaultAgent and the pods that ask for it.

The pods are what a Deployment's ReplicaSet sends at admission (no `metadata.namespace`; the
review carries it): a one-container pod, a pod with several containers, an init container,
volumes and environment, one that does not ask for the sidecar (the common case in a labelled
namespace), and one that has it already (a re-admitted, already mutated pod).
"""

from __future__ import annotations

from typing import Any

from devkit.admission import pod_admission_review

NAMESPACE = "bench"
AGENT = "payments"
API_KEY_SECRET = "payments-api-keys"


def vault_agent() -> dict[str, Any]:
    """A VaultAgent as the operator leaves it: spec with API keys and JWT, Ready=True."""
    return {
        "apiVersion": "vaultmcp.dev/v1alpha1",
        "kind": "VaultAgent",
        "metadata": {"name": AGENT, "namespace": NAMESPACE},
        "spec": {
            "scopes": ["read", "list"],
            "transit": {"keys": ["payments"]},
            "token": {"ttl": "15m", "maxTTL": "1h", "childTTL": "90s"},
            "auth": {
                "apiKeys": {"secretRef": {"name": API_KEY_SECRET}},
                "jwt": {
                    "issuer": "https://issuer.example.test",
                    "audience": "vault-mcp",
                    "jwksURL": "https://issuer.example.test/.well-known/jwks.json",
                    "subjects": ["payments-bot"],
                },
            },
            "rateLimit": {"requests": 120, "windowSeconds": 60},
        },
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "Reconciled",
                    "message": "Vault policy, token role and AppRole in place",
                    "observedGeneration": 1,
                    "lastTransitionTime": "2025-01-01T00:00:00Z",
                }
            ]
        },
    }


def _annotations(inject: bool) -> dict[str, str]:
    if not inject:
        return {"prometheus.io/scrape": "true"}
    return {"vaultmcp.dev/inject": "true", "vaultmcp.dev/agent": AGENT}


def _container(name: str, image: str, env: int = 0) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "ports": [{"containerPort": 8080, "protocol": "TCP"}],
        "env": [{"name": f"SETTING_{i}", "value": f"value-{i}"} for i in range(env)],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
        "volumeMounts": [{"name": "config", "mountPath": "/etc/app"}],
    }


def _pod(inject: bool, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": "app-7d9f8c-",
            "labels": {"app": "app", "pod-template-hash": "7d9f8c"},
            "annotations": _annotations(inject),
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "app-7d9f8c",
                    "uid": "0d9c1e6e-0000-4000-8000-000000000001",
                    "controller": True,
                }
            ],
        },
        "spec": {
            "serviceAccountName": "app",
            "volumes": [{"name": "config", "configMap": {"name": "app-config"}}],
            **spec,
        },
    }


def plain_pod() -> dict[str, Any]:
    """One application container, asking for the sidecar."""
    return _pod(True, {"containers": [_container("app", "registry.test/app:1.4.2", env=4)]})


def multi_container_pod() -> dict[str, Any]:
    """Three containers, an init container, more volumes and env: a larger pod to copy/patch."""
    return _pod(
        True,
        {
            "initContainers": [_container("migrate", "registry.test/app:1.4.2", env=3)],
            "containers": [
                _container("app", "registry.test/app:1.4.2", env=12),
                _container("worker", "registry.test/app:1.4.2", env=12),
                _container("metrics", "registry.test/exporter:0.9", env=2),
            ],
        },
    )


def opted_out_pod() -> dict[str, Any]:
    """No `vaultmcp.dev/inject`: admitted unchanged (most pods of a labelled namespace)."""
    return _pod(False, {"containers": [_container("app", "registry.test/app:1.4.2", env=4)]})


def already_injected_pod() -> dict[str, Any]:
    """Asks for the sidecar and has it: admitted unchanged."""
    pod = plain_pod()
    pod["spec"]["initContainers"] = [{"name": "vault-mcp-sidecar", "image": "sidecar:0.1.0"}]
    return pod


# name -> (pod, whether the webhook must patch it)
POD_KINDS: dict[str, tuple[dict[str, Any], bool]] = {
    "plain pod (1 container)": (plain_pod(), True),
    "pod with 3 containers + 1 init": (multi_container_pod(), True),
    "opted-out pod": (opted_out_pod(), False),
    "already injected pod": (already_injected_pod(), False),
}


def admission_review(pod: dict[str, Any], uid: str) -> dict[str, Any]:
    """The AdmissionReview the API server POSTs for creating `pod` in NAMESPACE."""
    return pod_admission_review(pod, NAMESPACE, uid)
