"""Apply or delete many VaultAgents without Kubernetes: what `apply -f` / `delete -f`, the demo
and the benchmark run. Agents are independent, so a thread pool works through them; one
agent's failure is reported on its own line and does not stop the others."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from vault_mcp_operator.config import OperatorSettings
from vault_mcp_operator.credentials import CredentialStore
from vault_mcp_operator.manifests import AgentDocument
from vault_mcp_operator.names import AgentNames, agent_names
from vault_mcp_operator.reconcile import Outcome, reconcile, remove
from vault_mcp_operator.vault_admin import VaultAdmin, VaultAdminError

DEFAULT_WORKERS = 8


@dataclass(frozen=True, slots=True)
class AgentResult:
    agent: AgentDocument
    ok: bool
    line: str  # `ns/name: created (6 Vault writes)` or `FILE: ns/name: <error>`
    vault_writes: int = 0
    outcome: Outcome | None = None  # apply only


def names_of(agent: AgentDocument, settings: OperatorSettings) -> AgentNames:
    return agent_names(agent.namespace, agent.name, settings, agent.spec.transit.keys)


def apply_agents(
    admin: VaultAdmin,
    store: CredentialStore | None,
    agents: Sequence[AgentDocument],
    settings: OperatorSettings,
    workers: int = DEFAULT_WORKERS,
) -> list[AgentResult]:
    def one(agent: AgentDocument) -> AgentResult:
        names = names_of(agent, settings)
        outcome = reconcile(admin, store, names, agent.spec, settings, datetime.now(UTC))
        line = f"{agent.key}: {describe(outcome)}"
        return AgentResult(agent, True, line, outcome.vault_writes, outcome)

    return _each(agents, one, workers)


def delete_agents(
    admin: VaultAdmin,
    store: CredentialStore | None,
    agents: Sequence[AgentDocument],
    settings: OperatorSettings,
    workers: int = DEFAULT_WORKERS,
) -> list[AgentResult]:
    def one(agent: AgentDocument) -> AgentResult:
        policy = agent.spec.deletion_policy
        writes = remove(admin, store, names_of(agent, settings), policy)
        line = f"{agent.key}: deleted, deletionPolicy {policy} ({writes} Vault writes)"
        return AgentResult(agent, True, line, writes)

    return _each(agents, one, workers)


def describe(outcome: Outcome) -> str:
    """`created (6 Vault writes)`, `unchanged (0 Vault writes)`, plus what happened."""
    text = f"{outcome.verb} ({outcome.vault_writes} Vault writes)"
    creds = outcome.credentials
    if creds is not None and creds.issued:
        text += f"; secret_id issued ({creds.reason})"
    if creds is not None and creds.destroyed:
        text += f"; {len(creds.destroyed)} old secret_id(s) destroyed"
    return text


def _each(
    agents: Sequence[AgentDocument],
    action: Callable[[AgentDocument], AgentResult],
    workers: int,
) -> list[AgentResult]:
    def guarded(agent: AgentDocument) -> AgentResult:
        try:
            return action(agent)
        except VaultAdminError as exc:
            return AgentResult(agent, False, f"{agent.source}: {agent.key}: {exc}")

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(guarded, agents))
