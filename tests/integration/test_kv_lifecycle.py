"""KV v2 through the sidecar against a real OpenBao: the whole life of a secret, CAS, and
agent isolation (DESIGN §3, §5)."""

from __future__ import annotations

import pytest

from devkit.openbao import OpenBao
from devkit.sidecar import SidecarProcess
from tests.integration.conftest import SidecarFactory
from tests.integration.vault_support import client, unique, vault_status


def test_write_read_and_versions(sidecar: SidecarProcess) -> None:
    path = f"{unique()}/db"
    with client(sidecar, "alice") as alice:
        first = alice.put(f"/secrets/{path}", json={"data": {"password": "one"}})
        assert first.status_code == 200, first.text
        assert first.json()["version"] == 1
        assert first.json()["path"] == path
        second = alice.put(f"/secrets/{path}", json={"data": {"password": "two"}})
        assert second.json()["version"] == 2

        latest = alice.get(f"/secrets/{path}")
        assert latest.status_code == 200
        assert latest.json()["data"] == {"password": "two"}
        assert latest.json()["version"] == 2

        old = alice.get(f"/secrets/{path}", params={"version": 1})
        assert old.status_code == 200
        assert old.json()["data"] == {"password": "one"}
        assert old.json()["version"] == 1

        assert alice.get(f"/secrets/{path}", params={"version": 3}).status_code == 404
        assert alice.get(f"/secrets/{path}", params={"version": 0}).status_code == 422
        assert alice.get(f"/secrets/{unique()}/missing").status_code == 404


def test_list(sidecar: SidecarProcess) -> None:
    base = unique()
    with client(sidecar, "alice") as alice:
        for path in ("app/db", "app/api", "top"):
            assert alice.put(f"/secrets/{base}/{path}", json={"data": {"v": 1}}).status_code == 200

        folder = alice.get("/secrets", params={"prefix": f"{base}/"})
        assert folder.status_code == 200, folder.text
        assert sorted(folder.json()["keys"]) == ["app/", "top"]

        sub = alice.get("/secrets", params={"prefix": f"{base}/app/"})
        assert sorted(sub.json()["keys"]) == ["api", "db"]

        root = alice.get("/secrets", params={"prefix": ""})
        assert f"{base}/" in root.json()["keys"]
        assert alice.get("/secrets").json()["keys"] == root.json()["keys"]

        missing = alice.get("/secrets", params={"prefix": f"{unique()}/"})
        assert missing.status_code == 200
        assert missing.json() == {"keys": []}


def test_delete_undelete_destroy(sidecar: SidecarProcess) -> None:
    path = f"{unique()}/token"
    with client(sidecar, "alice") as alice:
        alice.put(f"/secrets/{path}", json={"data": {"v": "one"}})
        alice.put(f"/secrets/{path}", json={"data": {"v": "two"}})

        deleted = alice.delete(f"/secrets/{path}")
        assert deleted.status_code == 200, deleted.text
        assert deleted.json() == {"path": path, "deleted": True}
        assert alice.get(f"/secrets/{path}").status_code == 404
        # Only the latest version is soft-deleted.
        assert alice.get(f"/secrets/{path}", params={"version": 1}).json()["data"] == {"v": "one"}

        undeleted = alice.post(f"/secrets/{path}:undelete", json={"versions": [2]})
        assert undeleted.status_code == 200, undeleted.text
        assert undeleted.json() == {"path": path, "versions": [2]}
        assert alice.get(f"/secrets/{path}").json()["data"] == {"v": "two"}

        destroyed = alice.post(f"/secrets/{path}:destroy", json={"versions": [2]})
        assert destroyed.status_code == 200, destroyed.text
        assert alice.get(f"/secrets/{path}", params={"version": 2}).status_code == 404
        assert alice.get(f"/secrets/{path}").status_code == 404
        # A destroyed version cannot be brought back.
        alice.post(f"/secrets/{path}:undelete", json={"versions": [2]})
        assert alice.get(f"/secrets/{path}", params={"version": 2}).status_code == 404
        assert alice.get(f"/secrets/{path}", params={"version": 1}).status_code == 200

        assert alice.post(f"/secrets/{path}:destroy", json={"versions": []}).status_code == 422
        assert alice.post(f"/secrets/{path}:destroy", json={"versions": [0]}).status_code == 422


def test_check_and_set(sidecar: SidecarProcess) -> None:
    path = f"{unique()}/cas"
    with client(sidecar, "alice") as alice:
        created = alice.put(f"/secrets/{path}", json={"data": {"v": 1}, "cas": 0})
        assert created.status_code == 200, created.text
        assert created.json()["version"] == 1

        again = alice.put(f"/secrets/{path}", json={"data": {"v": 2}, "cas": 0})
        assert again.status_code == 409
        assert "detail" in again.json()
        stale = alice.put(f"/secrets/{path}", json={"data": {"v": 2}, "cas": 5})
        assert stale.status_code == 409

        matched = alice.put(f"/secrets/{path}", json={"data": {"v": 2}, "cas": 1})
        assert matched.status_code == 200
        assert matched.json()["version"] == 2
        assert alice.get(f"/secrets/{path}").json()["data"] == {"v": 2}


@pytest.mark.parametrize("child_tokens", [False, True], ids=["token-reuse", "child-tokens"])
def test_agents_only_see_their_own_subtree(
    openbao: OpenBao, start_sidecar: SidecarFactory, child_tokens: bool
) -> None:
    sidecar = start_sidecar(CHILD_TOKEN_ENABLED=str(child_tokens).lower())
    base = unique()
    with client(sidecar, "alice") as alice, client(sidecar, "bob") as bob:
        assert alice.put(f"/secrets/{base}/cfg", json={"data": {"owner": "alice"}}).is_success
        assert bob.put(f"/secrets/{base}/cfg", json={"data": {"owner": "bob"}}).is_success
        assert alice.put(f"/secrets/{base}/alice-only", json={"data": {"x": 1}}).is_success

        assert alice.get(f"/secrets/{base}/cfg").json()["data"] == {"owner": "alice"}
        assert bob.get(f"/secrets/{base}/cfg").json()["data"] == {"owner": "bob"}
        assert bob.get(f"/secrets/{base}/alice-only").status_code == 404
        assert bob.get("/secrets", params={"prefix": f"{base}/"}).json()["keys"] == ["cfg"]
        assert bob.delete(f"/secrets/{base}/alice-only").is_success  # bob's (empty) path
        assert alice.get(f"/secrets/{base}/alice-only").status_code == 200

    # Where the data really sits in Vault.
    stored_alice = openbao.api("GET", f"secret/data/mcp/alice/{base}/cfg")["data"]["data"]
    stored_bob = openbao.api("GET", f"secret/data/mcp/bob/{base}/cfg")["data"]["data"]
    assert stored_alice == {"owner": "alice"}
    assert stored_bob == {"owner": "bob"}
    assert vault_status(openbao, "GET", f"secret/data/mcp/bob/{base}/alice-only") == 404


def test_agent_policy_denies_other_agents_paths(openbao: OpenBao) -> None:
    """What a child token would be bound to: bob's policy cannot touch alice's subtree."""
    base = unique()
    openbao.api("POST", f"secret/data/mcp/alice/{base}/s", {"data": {"v": "alice"}})
    bob_token = openbao.api("POST", "auth/token/create", {"policies": ["mcp-agent-bob"]})["auth"][
        "client_token"
    ]
    assert vault_status(openbao, "GET", f"secret/data/mcp/alice/{base}/s", token=bob_token) == 403
    assert vault_status(openbao, "LIST", "secret/metadata/mcp/alice", token=bob_token) == 403
    assert vault_status(openbao, "LIST", "secret/metadata/mcp", token=bob_token) == 403
    body = {"data": {"v": "bob"}}
    assert (
        vault_status(openbao, "POST", f"secret/data/mcp/alice/{base}/s", body, token=bob_token)
        == 403
    )
    assert vault_status(openbao, "GET", f"secret/data/mcp/bob/{base}/s", token=bob_token) == 404
