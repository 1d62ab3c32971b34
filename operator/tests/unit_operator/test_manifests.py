"""manifests: VaultAgents from multi-document YAML and Lists; errors name file, agent, field."""

from __future__ import annotations

from pathlib import Path

import pytest

from vault_mcp_operator.manifests import ManifestError, load_agents

AGENT = """
apiVersion: vaultmcp.dev/v1alpha1
kind: VaultAgent
metadata: {{name: {name}, namespace: {namespace}}}
spec: {spec}
"""


def write(tmp_path: Path, text: str, name: str = "agents.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def agent(name: str = "alice", namespace: str = "team-a", spec: str = "{}") -> str:
    return AGENT.format(name=name, namespace=namespace, spec=spec)


def test_documents_lists_and_other_kinds(tmp_path: Path) -> None:
    listed = (
        "apiVersion: v1\nkind: List\nitems:\n"
        "- {apiVersion: vaultmcp.dev/v1alpha1, kind: VaultAgent, metadata: {name: carol}}\n"
    )
    deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\n"
    text = "---\n".join([agent(), agent("bob", spec="{scopes: [read]}"), listed, deployment])
    agents = load_agents([write(tmp_path, text + "---\n")])
    assert [a.key for a in agents] == ["team-a/alice", "team-a/bob", "default/carol"]
    assert agents[1].spec.scopes == ("read",)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (agent(spec="{token: {ttl: forever}}"), "team-a/alice: spec.token.ttl: must be"),
        (agent(name="agent_api"), "team-a/agent_api: metadata: name 'agent_api': must be"),
        (agent(namespace="Team"), "Team/alice: metadata: namespace 'Team'"),
        (agent(spec="[1]"), "team-a/alice: spec: must be a mapping"),
        (agent().replace("v1alpha1", "v1"), "team-a/alice: apiVersion: must be"),
        (agent() + "---\n" + agent(), "team-a/alice: also defined in"),
        ("a: [", "not valid YAML"),
        ("- 1\n", "a document is not a mapping"),
    ],
)
def test_errors(tmp_path: Path, text: str, error: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ManifestError) as raised:
        load_agents([path])
    assert str(raised.value).startswith(f"{path}: "), raised.value
    assert error in str(raised.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="cannot read"):
        load_agents([tmp_path / "nope.yaml"])


def test_duplicates_across_files(tmp_path: Path) -> None:
    first, second = write(tmp_path, agent(), "a.yaml"), write(tmp_path, agent(), "b.yaml")
    with pytest.raises(ManifestError, match=r"b\.yaml: team-a/alice: also defined in .*a\.yaml"):
        load_agents([first, second])
