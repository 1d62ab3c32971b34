"""Shared fixtures of the operator's unit tests: default settings, one agent's names."""

from __future__ import annotations

import pytest

from vault_mcp_operator.config import OperatorSettings
from vault_mcp_operator.names import AgentNames, agent_names


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> OperatorSettings:
    for variable in ("VAULT_ADDR", "KV_MOUNT", "DEFAULT_PREFIX", "TRANSIT_MOUNT", "APPROLE_MOUNT"):
        monkeypatch.delenv(variable, raising=False)
    return OperatorSettings()


@pytest.fixture
def names(settings: OperatorSettings) -> AgentNames:
    return agent_names("team-a", "alice", settings, ["payments"])
