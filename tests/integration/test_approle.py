"""The sidecar logging in with AppRole credentials mounted as files (DESIGN §3, §6):
serving, secret_id rotation with the old token revoked, and bad credentials."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from devkit.openbao import OpenBao
from devkit.sidecar import SidecarProcess
from tests.integration.conftest import sidecar_env
from tests.integration.vault_support import client, running, unique

ROLE = "mcp-agent-alice"  # AppRole role name = token role name = agent policy name
MINTER_POLICY = f'path "auth/token/create/{ROLE}" {{\n  capabilities = ["update"]\n}}\n'
MODES = [pytest.param("true", id="child-tokens"), pytest.param("false", id="token-reuse")]
# How many requests after a revocation may fail before the sidecar must have logged in again.
RECOVERY_ATTEMPTS = 3


@dataclass
class AppRole:
    bao: OpenBao
    role_id: str

    def new_secret_id(self) -> str:
        secret_id: str = self.bao.api("POST", f"auth/approle/role/{ROLE}/secret-id", {})["data"][
            "secret_id"
        ]
        return secret_id

    def destroy_secret_id(self, secret_id: str) -> None:
        self.bao.api(
            "POST", f"auth/approle/role/{ROLE}/secret-id/destroy", {"secret_id": secret_id}
        )

    def login_accessors(self, since: int) -> list[str]:
        """Accessors of the tokens issued by AppRole logins after audit position `since`."""
        return [
            entry["auth"]["accessor"]
            for entry in self.bao.audit_entries()[since:]
            if entry.get("type") == "response"
            and entry["request"].get("path") == "auth/approle/login"
            and entry.get("auth", {}).get("accessor")
        ]


@pytest.fixture(scope="module")
def approle(openbao: OpenBao) -> AppRole:
    """AppRole auth, the operator's token role, and role `mcp-agent-alice` whose tokens carry
    the agent policy (token-reuse mode) and a minter policy (child-token mode)."""
    openbao.api("POST", "sys/auth/approle", {"type": "approle"})
    openbao.write_policy("mcp-minter-alice", MINTER_POLICY)
    openbao.api(
        "POST",
        f"auth/token/roles/{ROLE}",
        {"allowed_policies": [ROLE], "renewable": False, "token_no_default_policy": True},
    )
    openbao.api(
        "POST",
        f"auth/approle/role/{ROLE}",
        {
            "token_policies": [ROLE, "mcp-minter-alice"],
            "token_ttl": "10m",
            "token_max_ttl": "1h",
            "token_type": "service",
            "secret_id_ttl": "1h",
        },
    )
    role_id: str = openbao.api("GET", f"auth/approle/role/{ROLE}/role-id")["data"]["role_id"]
    return AppRole(openbao, role_id)


def approle_env(bao: OpenBao, folder: Path, **overrides: str) -> dict[str, str]:
    env = sidecar_env(
        bao,
        VAULT_ROLE_ID_FILE=str(folder / "role_id"),
        VAULT_SECRET_ID_FILE=str(folder / "secret_id"),
        **overrides,
    )
    del env["VAULT_TOKEN"]  # the AppRole files are the only credential
    return env


def write_credentials(folder: Path, role_id: str, secret_id: str) -> None:
    (folder / "role_id").write_text(role_id + "\n")
    (folder / "secret_id").write_text(secret_id + "\n")


def _roundtrip(sidecar: SidecarProcess) -> httpx.Response:
    with client(sidecar, "alice") as alice:
        return alice.get("/secrets", params={"prefix": ""})


@pytest.mark.parametrize("child_tokens", MODES)
def test_serves_requests_after_an_approle_login(
    approle: AppRole, tmp_path: Path, child_tokens: str
) -> None:
    write_credentials(tmp_path, approle.role_id, approle.new_secret_id())
    since = len(approle.bao.audit_entries())
    env = approle_env(approle.bao, tmp_path, CHILD_TOKEN_ENABLED=child_tokens)
    with running(env) as sidecar, client(sidecar, "alice") as alice:
        path = f"{unique()}/s"
        assert alice.put(f"/secrets/{path}", json={"data": {"v": 1}}).status_code == 200
        assert alice.get(f"/secrets/{path}").json()["data"] == {"v": 1}
    assert len(approle.login_accessors(since)) == 1  # one login, reused for both requests


@pytest.mark.parametrize("child_tokens", MODES)
def test_recovers_after_rotation_and_revocation(
    approle: AppRole, tmp_path: Path, child_tokens: str
) -> None:
    """The operator's rotation at its harshest: a new secret_id in the file, the old one
    destroyed and the token the sidecar holds revoked. The sidecar must log in again with the
    new file on its own, without a restart."""
    old_secret_id = approle.new_secret_id()
    write_credentials(tmp_path, approle.role_id, old_secret_id)
    since = len(approle.bao.audit_entries())
    env = approle_env(approle.bao, tmp_path, CHILD_TOKEN_ENABLED=child_tokens)
    with running(env) as sidecar:
        assert _roundtrip(sidecar).status_code == 200
        (current,) = approle.login_accessors(since)

        (tmp_path / "secret_id").write_text(approle.new_secret_id() + "\n")
        approle.destroy_secret_id(old_secret_id)
        approle.bao.api("POST", "auth/token/revoke-accessor", {"accessor": current})

        statuses = [_roundtrip(sidecar).status_code for _ in range(RECOVERY_ATTEMPTS)]
        assert 200 in statuses, (statuses, sidecar.logs()[-3000:])
        failed = statuses[: statuses.index(200)]
        assert all(s == 403 for s in failed), statuses
        assert statuses[statuses.index(200) :] == [200] * (len(statuses) - statuses.index(200))
        relogins = approle.login_accessors(since)
        assert len(relogins) == 2, relogins
        assert relogins[1] != current


@pytest.mark.parametrize(
    "secret_id",
    [pytest.param("wrong-secret-id", id="wrong"), pytest.param(None, id="file-missing")],
)
def test_bad_credentials_answer_503_and_the_process_stays_up(
    approle: AppRole, tmp_path: Path, secret_id: str | None
) -> None:
    (tmp_path / "role_id").write_text(approle.role_id)
    if secret_id is not None:
        (tmp_path / "secret_id").write_text(secret_id)
    env = approle_env(approle.bao, tmp_path, CHILD_TOKEN_ENABLED="true")
    with running(env) as sidecar:
        for _ in range(2):
            response = _roundtrip(sidecar)
            assert response.status_code == 503, response.text
            assert "log in" in response.json()["detail"]
            assert int(response.headers["Retry-After"]) >= 1
        assert httpx.get(f"{sidecar.url}/healthz").status_code == 200
        assert "wrong-secret-id" not in sidecar.logs()

        # Fixing the file is enough: no restart.
        (tmp_path / "secret_id").write_text(approle.new_secret_id())
        assert _roundtrip(sidecar).status_code == 200


def test_a_refused_mint_does_not_log_in_again_on_every_request(
    approle: AppRole, tmp_path: Path
) -> None:
    """bob has no token role this sidecar's token may use: minting is refused (403). That says
    nothing about the sidecar's own token, which stays valid — so it must be checked, not
    thrown away: a fresh AppRole login per request would flood Vault with tokens."""
    write_credentials(tmp_path, approle.role_id, approle.new_secret_id())
    since = len(approle.bao.audit_entries())
    env = approle_env(approle.bao, tmp_path, CHILD_TOKEN_ENABLED="true")
    with running(env) as sidecar, client(sidecar, "bob") as bob:
        statuses = [bob.get("/secrets", params={"prefix": ""}).status_code for _ in range(5)]
        assert statuses == [403] * 5
        assert _roundtrip(sidecar).status_code == 200  # alice, on the same parent token
    assert len(approle.login_accessors(since)) == 1
