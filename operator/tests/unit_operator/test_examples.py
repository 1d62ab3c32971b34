"""Every VaultAgent shipped in manifests/examples is valid, and the demo's are the three
agents `make demo` expects."""

from __future__ import annotations

from pathlib import Path

import pytest

from vault_mcp_operator.config import OperatorSettings
from vault_mcp_operator.manifests import load_agents
from vault_mcp_operator.names import agent_names

EXAMPLES = Path(__file__).resolve().parents[3] / "manifests" / "examples"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_example_agents_are_valid(path: Path) -> None:
    load_agents([path])


def test_demo_agents(settings: OperatorSettings) -> None:
    agents = load_agents([EXAMPLES / "demo-agents.yaml"])
    ids = [agent_names(a.namespace, a.name, settings).subject for a in agents]
    assert ids == ["demo.agent-api", "demo.agent-jwt", "demo.agent-mtls"]
    assert agents[0].spec.transit.keys == ("demo",)  # the demo encrypts with key "demo"
