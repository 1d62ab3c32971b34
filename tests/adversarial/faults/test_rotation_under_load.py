"""secret_id rotated under load (issue 5): zero failed requests.

Two agents, one per sidecar mode (token reuse; a child token per request), each served by a
real sidecar that reads its AppRole credentials from files, as the injected sidecar reads its
mounted Secret. Under constant write+read load, the operator's own reconcile (the code the
kopf handlers and the offline CLI run, with its least-privilege Vault policy) rotates each
secret_id and then, its grace period over, destroys the old one. The agents' tokens live
4 s, 6 s at most, so each sidecar must log in again during the load, and can only do so with
the new secret_id: OpenBao's audit log shows that it did. Not one request may fail.

The operator's clock is injected (rotation and grace are hours and minutes in real life), so
the harshest order happens at once: new secret_id published, old one destroyed, while the
sidecars still hold tokens from the old one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devkit.openbao import OpenBao
from devkit.sidecar import SidecarProcess
from tests.adversarial.faults.conftest import LONG_RUN
from tests.adversarial.faults.load import Answer, run_load, writes_and_reads
from tests.integration.conftest import sidecar_env
from tests.integration.operator.kopf_support import prepare_vault
from tests.integration.vault_support import unique, vault_status
from vault_mcp_operator.config import OperatorSettings, load_settings
from vault_mcp_operator.credentials import Credentials, FileCredentialStore, write_private
from vault_mcp_operator.login import login
from vault_mcp_operator.names import AgentNames, agent_names
from vault_mcp_operator.reconcile import reconcile
from vault_mcp_operator.spec import parse_spec
from vault_mcp_operator.vault_admin import VaultAdmin

MODES = {"token-reuse": "false", "child-tokens": "true"}
ROTATIONS = 4 if LONG_RUN else 1
# Short-lived sidecar tokens force a fresh AppRole login within 6 s of the last one: the
# renewal at ~3.3 s is cut short by the max TTL, so the sidecar logs in again then, with
# whatever secret_id its file holds.
SPEC = parse_spec(
    {
        "scopes": ["read", "write", "list"],
        "token": {"ttl": "4s", "maxTTL": "6s", "childTTL": "3s"},
        "secretID": {"ttl": "1h"},
    }
)
WARM_SECONDS = 1.0  # load before each rotation
# Polling guard for "the sidecar logged in with the new secret_id": it must within its
# token's max TTL (6 s) — a guard against hanging, not a timing assertion.
RELOGIN_GUARD_SECONDS = 20.0
AFTER_SECONDS = 0.5  # load after the last re-login


class MountedSecret:
    """The agent's credentials Secret as the operator keeps it (its bookkeeping in a
    FileCredentialStore) and as its pod sees it: `role_id` and `secret_id` projected as
    files, each replaced atomically, as the kubelet updates a mounted Secret."""

    def __init__(self, folder: Path) -> None:
        self._state = FileCredentialStore(folder / "state")
        self.mount = folder / "mount"
        self.mount.mkdir(parents=True)

    def load(self, names: AgentNames) -> Credentials | None:
        return self._state.load(names)

    def save(self, names: AgentNames, credentials: Credentials) -> None:
        self._state.save(names, credentials)
        write_private(self.mount / "role_id", credentials.role_id)
        write_private(self.mount / "secret_id", credentials.secret_id)

    def delete(self, names: AgentNames) -> None:
        self._state.delete(names)
        for name in ("role_id", "secret_id"):
            (self.mount / name).unlink(missing_ok=True)


@dataclass
class Agent:
    """One agent: its names, its Secret, its sidecar, the operator's clock for it, and the
    answers its sidecar gave under load."""

    mode: str
    names: AgentNames
    secret: MountedSecret
    clock: datetime
    sidecar: SidecarProcess | None = None
    folder: str = field(default_factory=lambda: unique("rotate"))
    answers: list[Answer] = field(default_factory=list)

    @property
    def api_key(self) -> str:
        return f"{self.mode}-rotation-key-0123456789"

    def current(self) -> Credentials:
        creds = self.secret.load(self.names)
        assert creds is not None
        return creds


@dataclass(frozen=True)
class Rotation:
    agent: Agent
    old: Credentials
    new: Credentials


@pytest.fixture
def operator(audited_bao: OpenBao) -> tuple[OperatorSettings, VaultAdmin]:
    """The operator's settings and Vault session, with its shipped least-privilege policy."""
    token = prepare_vault(audited_bao)
    settings = load_settings(vault_addr=audited_bao.addr, vault_token=token)
    return settings, VaultAdmin(login(settings), settings)


@pytest.fixture
def agents(
    audited_bao: OpenBao, operator: tuple[OperatorSettings, VaultAdmin], tmp_path: Path
) -> Iterator[list[Agent]]:
    """Both agents reconciled (Vault objects and first secret_id), each with its sidecar."""
    settings, admin = operator
    made = []
    for mode in MODES:
        names = agent_names("faults", f"rotate-{mode}-{unique('a')[2:8]}", settings)
        agent = Agent(mode, names, MountedSecret(tmp_path / mode), datetime.now(UTC))
        reconcile(admin, agent.secret, names, SPEC, settings, agent.clock)
        made.append(agent)
    with ExitStack() as stack:
        for agent in made:
            agent.sidecar = stack.enter_context(SidecarProcess(_sidecar_env(audited_bao, agent)))
        yield made


def _sidecar_env(bao: OpenBao, agent: Agent) -> dict[str, str]:
    env = sidecar_env(
        bao,
        API_KEYS_JSON=json.dumps({agent.api_key: agent.names.subject}),
        VAULT_ROLE_ID_FILE=str(agent.secret.mount / "role_id"),
        VAULT_SECRET_ID_FILE=str(agent.secret.mount / "secret_id"),
        CHILD_TOKEN_ENABLED=MODES[agent.mode],
    )
    del env["VAULT_TOKEN"]  # the mounted AppRole files are the only credential
    return env


async def test_secret_id_rotation_under_load_fails_no_request(
    audited_bao: OpenBao,
    operator: tuple[OperatorSettings, VaultAdmin],
    agents: list[Agent],
) -> None:
    settings, admin = operator
    stop = asyncio.Event()
    loads = [asyncio.create_task(_load(agent, stop)) for agent in agents]
    rotations: list[Rotation] = []
    try:
        for _ in range(ROTATIONS):
            await asyncio.sleep(WARM_SECONDS)
            done = [await asyncio.to_thread(_rotate, admin, settings, a) for a in agents]
            rotations += done
            await asyncio.gather(*(_relogged_in(audited_bao, r) for r in done))
        await asyncio.sleep(AFTER_SECONDS)
    finally:
        stop.set()
        await asyncio.gather(*loads)

    for agent in agents:
        failed = [a for a in agent.answers if not a.ok]
        assert agent.sidecar is not None
        summary = [(a.method, a.path, a.status, a.body or a.error) for a in failed[:5]]
        assert not failed, (agent.mode, len(failed), summary, agent.sidecar.logs()[-3000:])
        reads = [a for a in agent.answers if a.method == "GET"]
        assert all(a.body["data"] == {"v": a.value} for a in reads), agent.mode
        assert len(reads) > 10 * ROTATIONS, agent.mode  # the load really ran throughout
    for rotation in rotations:
        role_id = rotation.new.role_id
        assert not _logs_in(audited_bao, role_id, rotation.old.secret_id)  # destroyed
    final = [agent.current() for agent in agents]
    assert all(_logs_in(audited_bao, c.role_id, c.secret_id) for c in final)
    print({a.mode: len(a.answers) for a in agents}, "requests, all 2xx")


async def _load(agent: Agent, stop: asyncio.Event) -> None:
    assert agent.sidecar is not None
    headers = {"X-API-Key": agent.api_key}
    await run_load(agent.sidecar.url, headers, writes_and_reads(agent.folder), stop, agent.answers)


def _rotate(admin: VaultAdmin, settings: OperatorSettings, agent: Agent) -> Rotation:
    """The operator's reconcile when rotation is due, then again when the grace period is
    over: a new secret_id published, then the old one destroyed."""
    old = agent.current()
    rotate_fraction = timedelta(seconds=SPEC.secret_id.ttl * settings.secret_id_rotate_fraction)
    agent.clock = old.expires_at - rotate_fraction + timedelta(seconds=1)
    rotated = reconcile(admin, agent.secret, agent.names, SPEC, settings, agent.clock)
    assert rotated.credentials is not None
    assert rotated.credentials.reason == "rotation due"
    agent.clock += timedelta(seconds=settings.secret_id_grace_seconds)
    after_grace = reconcile(admin, agent.secret, agent.names, SPEC, settings, agent.clock)
    assert after_grace.credentials is not None
    assert after_grace.credentials.destroyed == (old.accessor,)
    return Rotation(agent, old, agent.current())


async def _relogged_in(bao: OpenBao, rotation: Rotation) -> None:
    """Wait until the agent's sidecar has logged in with the new secret_id (audit log)."""
    new_hash = _audit_hash(bao, rotation.new.secret_id)
    logins = LoginLog(bao, rotation.agent.names.approle)
    deadline = time.monotonic() + RELOGIN_GUARD_SECONDS
    while time.monotonic() < deadline:
        if new_hash in await asyncio.to_thread(logins.secret_id_hashes):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{rotation.agent.mode}: no login with the new secret_id")


class LoginLog:
    """The successful AppRole logins to one role, read from OpenBao's audit log as it grows.

    Reads on from where it stopped and only whole lines: under load the file grows by
    megabytes, and OpenBao may be part-way through writing its last entry."""

    def __init__(self, bao: OpenBao, role: str) -> None:
        self._path = bao.audit_log
        self._role = role
        self._offset = 0
        self._hashes: set[str] = set()

    def secret_id_hashes(self) -> set[str]:
        """The (HMAC'd) secret_id of every successful login to the role so far."""
        with self._path.open("rb") as log:
            log.seek(self._offset)
            chunk = log.read()
        whole = chunk[: chunk.rfind(b"\n") + 1]
        self._offset += len(whole)
        for line in whole.splitlines():
            if b"auth/approle/login" in line:
                self._note(json.loads(line))
        return self._hashes

    def _note(self, entry: dict[str, Any]) -> None:
        if entry.get("type") == "response" and _role_of(entry) == self._role:
            self._hashes.add(str(entry["request"]["data"]["secret_id"]))


def _role_of(entry: dict[str, Any]) -> str | None:
    with contextlib.suppress(KeyError, TypeError):
        return str(entry["auth"]["metadata"]["role_name"])
    return None


def _audit_hash(bao: OpenBao, value: str) -> str:
    """What the audit device writes for `value` (it HMACs secrets)."""
    return str(bao.api("POST", "sys/audit-hash/file", {"input": value})["data"]["hash"])


def _logs_in(bao: OpenBao, role_id: str, secret_id: str) -> bool:
    body = {"role_id": role_id, "secret_id": secret_id}
    return vault_status(bao, "POST", "auth/approle/login", body) == 200
