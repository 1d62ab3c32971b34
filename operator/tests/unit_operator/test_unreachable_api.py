"""The Kubernetes API server unreachable: the credentials store and the webhook's fallback GET
give their own clear error (a reason on the agent, a refusal of the pod), not urllib3's
MaxRetryError escaping the handler."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import kubernetes
import pytest

from vault_mcp_operator.credentials import Credentials
from vault_mcp_operator.injection import InjectionRefused
from vault_mcp_operator.kube_secrets import KubeSecretStore, KubeStoreError, Owner
from vault_mcp_operator.names import AgentNames
from vault_mcp_operator.webhook import _read_agent

CREDS = Credentials(role_id="r", secret_id="s", accessor="a", expires_at=datetime.now(UTC))


@pytest.fixture
def unreachable() -> Iterator[kubernetes.client.ApiClient]:
    """A client for a port nothing listens on (taken, then let go): connection refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = kubernetes.client.Configuration()
    config.host = f"http://127.0.0.1:{port}"
    client = kubernetes.client.ApiClient(config)
    yield client
    client.close()  # type: ignore[no-untyped-call]


def test_the_store_reports_an_unreachable_api_server(
    unreachable: kubernetes.client.ApiClient, names: AgentNames
) -> None:
    store = KubeSecretStore(unreachable, Owner(name="alice", uid="uid-1"))
    with pytest.raises(KubeStoreError, match="read Secret team-a/alice-vault-approle"):
        store.load(names)
    with pytest.raises(KubeStoreError, match="read Secret team-a/alice-vault-approle"):
        store.save(names, CREDS)
    with pytest.raises(KubeStoreError, match="read Secret team-a/alice-vault-approle"):
        store.delete(names)


def test_the_webhook_refuses_when_it_cannot_read_the_agent(
    unreachable: kubernetes.client.ApiClient,
) -> None:
    rt = cast(Any, SimpleNamespace(kube=unreachable))
    with pytest.raises(InjectionRefused, match="VaultAgent team-a/alice could not be read"):
        _read_agent(rt, "team-a", "alice")
