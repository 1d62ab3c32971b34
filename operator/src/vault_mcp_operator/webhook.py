"""The mutating admission webhook that injects the sidecar (DESIGN §7), served by kopf.

kopf's own webhook server answers `POST /<handler id>`, so this handler is at
`https://<operator>:WEBHOOK_PORT/inject-sidecar`. The chart owns the
MutatingWebhookConfiguration (`settings.admission.managed` stays None): it selects the
namespaces labelled `vaultmcp.dev/injection: enabled`, pods only, CREATE only.

What to inject, injection.py decides; this module reads the VaultAgent and turns a refusal
into a denial (HTTP 403 in the AdmissionReview), or -- with WEBHOOK_FAIL_OPEN -- into an
unmutated pod and a warning the client sees.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import kopf
import kubernetes

from vault_mcp_operator.config import OperatorSettings
from vault_mcp_operator.handlers import GROUP, PLURAL, VERSION, Runtime
from vault_mcp_operator.injection import (
    InjectionRefused,
    SidecarSettings,
    already_injected,
    plan_injection,
    requested_agent,
    wants_injection,
)

HANDLER_ID = "inject-sidecar"
PATH = f"/{HANDLER_ID}"  # kopf.WebhookServer serves each handler at /<id>

log = logging.getLogger("vault_mcp_operator.webhook")


class NamespacedWebhookServer(kopf.WebhookServer):
    """kopf's server, plus the request's namespace in the object: a pod created by a
    ReplicaSet or a Job arrives without `metadata.namespace` (only the AdmissionReview's
    `request.namespace` has it), and the handler needs it to find the VaultAgent."""

    async def __call__(self, fn: Any) -> AsyncIterator[Any]:
        async def with_namespace(request: Any, **kwargs: Any) -> Any:
            _fill_namespace(request)
            return await fn(request, **kwargs)

        async for config in super().__call__(with_namespace):
            yield config


def _fill_namespace(review: Any) -> None:
    request = review.get("request") if isinstance(review, dict) else None
    if not isinstance(request, dict):
        return
    obj, namespace = request.get("object"), request.get("namespace")
    if isinstance(obj, dict) and namespace:
        obj.setdefault("metadata", {}).setdefault("namespace", namespace)


def register(registry: kopf.OperatorRegistry) -> None:
    """Attach the mutating handler (run.py, when WEBHOOK_ENABLED)."""
    kopf.on.mutate("pods", operations=["CREATE"], id=HANDLER_ID, registry=registry)(on_pod_create)


def configure_webhook(kopf_settings: kopf.OperatorSettings, settings: OperatorSettings) -> None:
    """Serve HTTPS on WEBHOOK_PORT with the mounted certificate; kopf re-reads the files when
    they change (cert-manager renewals)."""
    kopf_settings.admission.server = NamespacedWebhookServer(
        port=settings.webhook_port,
        certfile=str(settings.webhook_cert_file),
        pkeyfile=str(settings.webhook_key_file),
    )
    kopf_settings.admission.managed = None


def on_pod_create(
    body: kopf.Body, patch: kopf.Patch, memo: Any, warnings: list[str], **_: Any
) -> None:
    rt = memo.get("runtime")
    assert isinstance(rt, Runtime), "run.py puts the Runtime into the memo"
    metadata, pod_spec = dict(body.get("metadata", {})), dict(body.get("spec", {}))
    if not wants_injection(metadata) or already_injected(pod_spec):
        return
    namespace = str(metadata.get("namespace") or "default")
    try:
        agent = _read_agent(rt, namespace, requested_agent(metadata))
        mutated = plan_injection(
            metadata, pod_spec, namespace, agent, SidecarSettings.from_settings(rt.settings)
        )
    except InjectionRefused as exc:
        _refuse(rt.settings, str(exc), warnings)
        return
    if mutated is not None:
        patch.spec["initContainers"] = mutated["initContainers"]
        patch.spec["volumes"] = mutated["volumes"]


def _refuse(settings: OperatorSettings, message: str, warnings: list[str]) -> None:
    if not settings.webhook_fail_open:
        raise kopf.AdmissionError(message, code=403)
    log.warning("admitted without the sidecar (WEBHOOK_FAIL_OPEN): %s", message)
    warnings.append(f"vault-mcp-sidecar not injected: {message}")


def _read_agent(rt: Runtime, namespace: str, name: str) -> Mapping[str, Any] | None:
    """The VaultAgent, None if there is none; an unreadable one is a refusal."""
    assert rt.kube is not None, "set at startup"
    api = kubernetes.client.CustomObjectsApi(rt.kube)
    try:
        agent = api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    except kubernetes.client.ApiException as exc:
        if exc.status == 404:
            return None
        raise InjectionRefused(
            f"VaultAgent {namespace}/{name} could not be read: {exc.status} {exc.reason}"
        ) from None
    except OSError as exc:  # urllib3's connection errors are OSErrors
        raise InjectionRefused(f"VaultAgent {namespace}/{name} could not be read: {exc}") from None
    return agent if isinstance(agent, Mapping) else None
