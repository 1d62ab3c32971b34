"""`make demo` on this machine: the real script, OpenBao, sidecar and MCP client, end to end.

Runs `python -m scripts.demo` as a user would (a subprocess from the repository root) and
checks that its self-check passes and that, after `--check` or Ctrl-C, no process it started
is left running. The sidecar's port 8089 is fixed by the seed, so these tests skip while
something else (say, a `make demo` in another terminal) holds it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
from pathlib import Path
from typing import Any

import pytest

from devkit.openbao import OpenBao
from scripts.demo import AGENTS, SIDECAR_PORT, port_free
from scripts.demo_provision import MINTER_POLICY, provision
from tests.parts import openbao_server, require_bao

REPO = Path(__file__).resolve().parents[2]
BUSY = f"127.0.0.1:{SIDECAR_PORT} is in use"
CREDENTIAL_FILES = ("env", "role_id", "secret_id")


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    require_bao()
    if not port_free(SIDECAR_PORT):
        pytest.skip(f"{BUSY} (the demo's fixed sidecar port)")
    return tmp_path / "demo"


def _demo(state_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "scripts.demo", "--state-dir", str(state_dir), *args]


def _started_pids(stdout: str) -> list[int]:
    return sorted({int(pid) for pid in re.findall(r"pid (\d+)", stdout)})


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _assert_nothing_left(stdout: str, state_dir: Path) -> None:
    pids = _started_pids(stdout)
    assert len(pids) == 2, stdout  # OpenBao and the sidecar
    assert not [pid for pid in pids if _alive(pid)]
    assert port_free(SIDECAR_PORT)
    assert "nothing left running" in stdout
    assert not [name for name in CREDENTIAL_FILES if (state_dir / name).exists()]


def test_check_mode_passes_and_leaves_nothing_running(state_dir: Path) -> None:
    result = subprocess.run(
        _demo(state_dir, "--check"), cwd=REPO, capture_output=True, text=True, timeout=90
    )
    if result.returncode == 2 and BUSY in result.stderr:
        pytest.skip(f"{BUSY} (taken between the check and the start)")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("\u2713") == 7, result.stdout  # six checks and the stop line
    assert "\u2717" not in result.stdout
    _assert_nothing_left(result.stdout, state_dir)


def test_ctrl_c_stops_everything(state_dir: Path) -> None:
    proc = subprocess.Popen(
        _demo(state_dir), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        seen = _read_until(proc, "Running.")
        env_file = state_dir / "env"
        assert env_file.stat().st_mode & 0o777 == 0o600
        secrets = _exported_secrets(env_file.read_text())
        assert "$DEMO_API_KEY" in seen
        proc.send_signal(signal.SIGINT)
        rest, errors = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:  # never kill first: the demo must get to stop its children
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
    assert proc.returncode == 0, seen + rest + errors
    assert not [value for value in secrets if value in seen + rest + errors]
    _assert_nothing_left(seen + rest, state_dir)


def _exported_secrets(env_text: str) -> list[str]:
    """The secret values in `.demo/env`, which the terminal output must never show."""
    names = ("DEMO_API_KEY", "JWT_HS256_SECRET", "VAULT_DEV_ROOT_TOKEN")
    values = dict(re.findall(r"^export (\w+)='?([^'\n]*)'?$", env_text, re.MULTILINE))
    assert set(names) <= values.keys(), env_text.splitlines()[0]
    return [values[name] for name in names]


def _read_until(proc: subprocess.Popen[str], marker: str, timeout: float = 60) -> str:
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            assert proc.stderr is not None
            errors = proc.stderr.read()
            if BUSY in errors:
                pytest.skip(f"{BUSY} (taken between the check and the start)")
            pytest.fail(f"demo exited early:\n{''.join(lines)}{errors}")
        lines.append(line)
        if line.startswith(marker):
            return "".join(lines)
    pytest.fail(f"no {marker!r} within {timeout}s:\n{''.join(lines)}")


def test_sidecar_login_may_only_mint_its_agents_tokens() -> None:
    """The demo's provisioning is least privilege: the agents come from the example VaultAgent
    file through the operator's apply, the sidecar's own token reads no secret and mints only
    through the token roles apply created, and each child holds exactly one agent policy."""
    api, jwt, _ = AGENTS
    policy = f"mcp-agent-{api}"
    with openbao_server() as bao:
        provisioned = provision(bao)
        assert provisioned.agents == AGENTS
        assert [line.split(":")[0] for line in provisioned.lines] == [
            "demo/agent-api",
            "demo/agent-jwt",
            "demo/agent-mtls",
        ]
        login = provisioned.login
        body = {"role_id": login.role_id, "secret_id": login.secret_id}
        parent = bao.api("POST", "auth/approle/login", body)["auth"]
        assert parent["policies"] == [MINTER_POLICY]
        token = parent["client_token"]
        role = bao.api("GET", f"auth/token/roles/{policy}")["data"]
        assert role["allowed_policies"] == [policy]
        assert (role["renewable"], role["orphan"], role["token_no_default_policy"]) == (
            False,
            False,
            True,
        )
        child = _mint(bao, token, policy, [policy])
        assert child["policies"] == [policy]
        secret = {"data": {"x": "1"}}
        bao.api("POST", f"secret/data/mcp/{api}/x", secret, token=child["client_token"])
        _denied(bao, child["client_token"], "POST", f"secret/data/mcp/{jwt}/x", secret)
        _denied(bao, token, "GET", f"secret/data/mcp/{api}/x")
        _denied(bao, token, "POST", "auth/token/create", {"policies": [policy]})
        _denied(bao, token, "POST", f"auth/token/create/{policy}", {"policies": ["root"]})
        _denied(bao, token, "GET", "sys/policies/acl")
        # Each agent also has its own AppRole, for a sidecar injected next to it.
        approle = bao.api("GET", f"auth/approle/role/{policy}")["data"]
        assert approle["token_policies"] == [policy, f"mcp-minter-{api}"]


def _mint(bao: OpenBao, token: str, role: str, policies: list[str]) -> dict[str, Any]:
    body = {"policies": policies, "ttl": "90s", "no_default_policy": True}
    auth: dict[str, Any] = bao.api("POST", f"auth/token/create/{role}", body, token=token)["auth"]
    return auth


def _denied(
    bao: OpenBao, token: str, method: str, path: str, body: dict[str, Any] | None = None
) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        bao.api(method, path, body, token=token)
    assert refused.value.code in (400, 403), path
