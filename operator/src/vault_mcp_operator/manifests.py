"""VaultAgent documents from YAML files, for the offline `apply -f` / `delete -f`.

A file may hold several documents and `kind: List` wrappers; other kinds (say, the Deployment
next to an agent in an example) are skipped. Every document is validated before anything is
written, and an error names the file, the agent and the field.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from vault_mcp_operator.spec import SpecError, VaultAgentSpec, parse_spec
from vault_mcp_sidecar.naming import InvalidName, agent_id

GROUP = "vaultmcp.dev"
VERSION = "v1alpha1"
PLURAL = "vaultagents"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "VaultAgent"
DEFAULT_NAMESPACE = "default"


class ManifestError(ValueError):
    """A file or document that cannot be applied: `FILE: ns/name: spec.x: message`."""


@dataclass(frozen=True, slots=True)
class AgentDocument:
    source: str  # the file it came from
    namespace: str
    name: str
    spec: VaultAgentSpec

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def load_agents(paths: list[Path]) -> list[AgentDocument]:
    """Every VaultAgent in `paths`, validated; the first problem raises ManifestError."""
    agents: dict[str, AgentDocument] = {}
    for path in paths:
        for document in _documents(path):
            agent = _agent(str(path), document)
            if agent.key in agents:
                raise ManifestError(
                    f"{path}: {agent.key}: also defined in {agents[agent.key].source}"
                )
            agents[agent.key] = agent
    return list(agents.values())


def _documents(path: Path) -> Iterator[Mapping[str, Any]]:
    try:
        loaded = list(yaml.safe_load_all(path.read_text()))
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    for document in loaded:
        yield from _flatten(path, document)


def _flatten(path: Path, document: object) -> Iterator[Mapping[str, Any]]:
    if document is None:
        return
    if not isinstance(document, Mapping):
        raise ManifestError(f"{path}: a document is not a mapping")
    if document.get("kind") == "List":
        for item in document.get("items") or []:
            yield from _flatten(path, item)
    elif document.get("kind") == KIND:
        yield document


def _agent(source: str, document: Mapping[str, Any]) -> AgentDocument:
    metadata = document.get("metadata") or {}
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    namespace = metadata.get("namespace") if isinstance(metadata, Mapping) else None
    namespace = DEFAULT_NAMESPACE if namespace is None else namespace
    where = f"{source}: {namespace}/{name}"
    if document.get("apiVersion") != API_VERSION:
        raise ManifestError(f"{where}: apiVersion: must be {API_VERSION}")
    if not isinstance(name, str) or not isinstance(namespace, str):
        raise ManifestError(f"{where}: metadata.name and metadata.namespace must be strings")
    try:
        agent_id(namespace, name)
    except InvalidName as exc:
        raise ManifestError(f"{where}: metadata: {exc}") from None
    spec = document.get("spec")
    if spec is not None and not isinstance(spec, Mapping):
        raise ManifestError(f"{where}: spec: must be a mapping")
    try:
        return AgentDocument(source, namespace, name, parse_spec(spec))
    except SpecError as exc:
        raise ManifestError(f"{where}: {exc}") from None
