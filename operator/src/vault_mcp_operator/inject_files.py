"""`vault-mcp-operator inject -f FILE`: the webhook's mutation applied to manifests on disk,
like `istioctl kube-inject`.

Pods and the pod templates of Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and
CronJobs are mutated when annotated for injection (injection.py decides, exactly as at
admission); every other document is passed through unchanged. Without a cluster the agents
come from VaultAgent files, or from one agent described by flags; they count as Ready.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

import yaml

from vault_mcp_operator.injection import (
    InjectionRefused,
    SidecarSettings,
    plan_injection,
    requested_agent,
    wants_injection,
)
from vault_mcp_operator.manifests import DEFAULT_NAMESPACE, AgentDocument

TEMPLATE_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"})
READY_STATUS = {"conditions": [{"type": "Ready", "status": "True", "reason": "Offline"}]}


class InjectError(ValueError):
    """A manifest that cannot be injected; `str()` names the object and why."""


def pod_template(document: MutableMapping[str, Any]) -> MutableMapping[str, Any] | None:
    """The part of a workload holding the pod's `metadata` and `spec` (the Pod itself for a
    Pod), None for other kinds."""
    kind, spec = document.get("kind"), document.get("spec")
    if kind == "Pod":
        return document
    if not isinstance(spec, MutableMapping):
        return None
    if kind in TEMPLATE_KINDS:
        template = spec.get("template")
    elif kind == "CronJob":
        template = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template")
    else:
        return None
    return template if isinstance(template, MutableMapping) else None


def offline_agent(agent: AgentDocument) -> dict[str, Any]:
    """A VaultAgent object as the webhook would read it from the cluster, Ready."""
    return {
        "metadata": {"name": agent.name, "namespace": agent.namespace},
        "spec": agent.spec.model_dump(by_alias=True, mode="json"),
        "status": READY_STATUS,
    }


def inject_documents(
    documents: list[Any],
    agents: Mapping[tuple[str, str], Mapping[str, Any]],
    sidecar: SidecarSettings,
) -> list[Any]:
    """`documents` with every annotated pod template injected (in place); `agents` by
    (namespace, name). A `kind: List` is walked into."""
    for document in documents:
        for workload in _workloads(document):
            _inject_one(workload, agents, sidecar)
    return documents


def _workloads(document: Any) -> Iterator[MutableMapping[str, Any]]:
    if not isinstance(document, MutableMapping):
        return
    if document.get("kind") == "List":
        for item in document.get("items") or ():
            yield from _workloads(item)
    else:
        yield document


def _inject_one(
    workload: MutableMapping[str, Any],
    agents: Mapping[tuple[str, str], Mapping[str, Any]],
    sidecar: SidecarSettings,
) -> None:
    template = pod_template(workload)
    if template is None or not wants_injection(template.get("metadata")):
        return
    metadata = workload.get("metadata") or {}
    namespace = str(metadata.get("namespace") or DEFAULT_NAMESPACE)
    where = f"{workload.get('kind')} {namespace}/{metadata.get('name')}"
    try:
        name = requested_agent(template.get("metadata"))
        mutated = plan_injection(
            template.get("metadata"),
            template.get("spec"),
            namespace,
            agents.get((namespace, name)),
            sidecar,
        )
    except InjectionRefused as exc:
        raise InjectError(f"{where}: {exc}") from None
    if mutated is not None:
        template["spec"] = mutated


class _NoAliases(yaml.SafeDumper):
    """Repeated values written out in full: `&id001` anchors confuse readers and diffs."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump(documents: list[Any]) -> str:
    return yaml.dump_all(documents, Dumper=_NoAliases, sort_keys=False, default_flow_style=False)
