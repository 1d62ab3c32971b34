"""The mutating admission webhook that injects the sidecar (DESIGN §7), served by kopf.

kopf's own webhook server answers `POST /<handler id>`, so this handler is at
`https://<operator>:WEBHOOK_PORT/inject-sidecar`. The chart owns the
MutatingWebhookConfiguration (`settings.admission.managed` stays None): it selects the
namespaces labelled `vaultmcp.dev/injection: enabled`, pods only, CREATE only.

What to inject, injection.py decides; this module finds the VaultAgent and turns a refusal
into a denial (HTTP 403 in the AdmissionReview), or -- with WEBHOOK_FAIL_OPEN -- into an
unmutated pod and a warning the client sees.

The VaultAgent comes from a kopf index that the operator's own watch keeps, so admitting a pod
costs no API request: a GET of the agent was most of the mutation's wall time (p99 about 6 ms
against < 1 ms of CPU, docs/PERFORMANCE.md), and every pod creation in an injected namespace
waits for it. The index trails the API server by a watch event; so an answer that would refuse
the pod (no such agent, not Ready yet) is checked again with a GET before it is given.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import kopf
import kubernetes
import urllib3

from vault_mcp_operator.config import OperatorSettings
from vault_mcp_operator.handlers import Runtime, runtime_of
from vault_mcp_operator.injection import (
    InjectionRefused,
    SidecarSettings,
    already_injected,
    plan_injection,
    requested_agent,
    wants_injection,
)
from vault_mcp_operator.manifests import GROUP, PLURAL, VERSION

HANDLER_ID = "inject-sidecar"
PATH = f"/{HANDLER_ID}"  # kopf.WebhookServer serves each handler at /<id>
INDEX_ID = "vaultagents_by_name"  # kopf passes the index to handlers under this keyword

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
    """Attach the VaultAgent index and the mutating handler (run.py, when WEBHOOK_ENABLED)."""
    kopf.index(GROUP, VERSION, PLURAL, id=INDEX_ID, registry=registry)(index_agent)
    kopf.on.mutate("pods", operations=["CREATE"], id=HANDLER_ID, registry=registry)(on_pod_create)


def index_agent(
    namespace: str | None, name: str | None, body: kopf.Body, **_: Any
) -> dict[tuple[str, str], dict[str, Any]]:
    """(namespace, name) -> what injection reads of a VaultAgent: a copy, not kopf's live view."""
    snapshot = {"spec": body.get("spec") or {}, "status": body.get("status") or {}}
    return {(str(namespace), str(name)): copy.deepcopy(snapshot)}


def configure_webhook(kopf_settings: kopf.OperatorSettings, settings: OperatorSettings) -> None:
    """Serve HTTPS on WEBHOOK_PORT with the mounted certificate; kopf re-reads the files when
    they change (cert-manager renewals)."""
    kopf_settings.admission.server = NamespacedWebhookServer(
        port=settings.webhook_port,
        certfile=str(settings.webhook_cert_file),
        pkeyfile=str(settings.webhook_key_file),
    )
    kopf_settings.admission.managed = None


async def on_pod_create(
    body: kopf.Body, patch: kopf.Patch, memo: Any, warnings: list[str], **kwargs: Any
) -> None:
    # async: kopf runs a sync handler in its thread pool, where a pod would queue behind
    # reconciles (1,000 agents starting up keep every worker busy).
    rt = runtime_of(memo)
    metadata, pod_spec = dict(body.get("metadata", {})), dict(body.get("spec", {}))
    if not wants_injection(metadata) or already_injected(pod_spec):
        return
    namespace = str(metadata.get("namespace") or "default")
    sidecar = SidecarSettings.from_settings(rt.settings)
    try:
        name = requested_agent(metadata)
        try:
            agent = _indexed_agent(kwargs.get(INDEX_ID), namespace, name)
            mutated = plan_injection(metadata, pod_spec, namespace, agent, sidecar)
        except InjectionRefused:
            # The index may be a watch event behind: ask the API server before refusing.
            agent = await asyncio.to_thread(_read_agent, rt, namespace, name)
            mutated = plan_injection(metadata, pod_spec, namespace, agent, sidecar)
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


def _indexed_agent(index: object, namespace: str, name: str) -> Mapping[str, Any] | None:
    """The indexed VaultAgent, None when the index has none (or is not there at all)."""
    if not isinstance(index, Mapping):
        return None
    for agent in index.get((namespace, name)) or ():
        return agent if isinstance(agent, Mapping) else None
    return None


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
    except (OSError, urllib3.exceptions.HTTPError) as exc:  # unreachable: MaxRetryError
        raise InjectionRefused(f"VaultAgent {namespace}/{name} could not be read: {exc}") from None
    return agent if isinstance(agent, Mapping) else None
