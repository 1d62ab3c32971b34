"""A bad configuration fails at start with exactly one line naming the variable, and never
echoes a secret (DESIGN §6). Each case is a real `python -m vault_mcp_sidecar` process.

The processes of all cases run side by side (one module fixture) to keep this file fast; each
case is still its own test with its own verdict.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from devkit.ports import free_port
from devkit.sidecar import SidecarProcess

API_KEY = "api-key-that-must-never-be-printed-0123"
TOKEN = "vault-token-that-must-never-be-printed"
HS_SECRET = "hs256-secret-that-must-never-be-printed-0123456789"
SECRETS = (API_KEY, TOKEN, HS_SECRET)
START_TIMEOUT = 30.0


def valid_env() -> dict[str, str]:
    """A configuration that starts (checked by test_the_base_configuration_starts)."""
    return {
        "VAULT_ADDR": "http://127.0.0.1:9",  # never contacted: nothing here reaches a request
        "VAULT_TOKEN": TOKEN,
        "API_KEYS_JSON": json.dumps({API_KEY: "alice"}),
        "JWT_HS256_SECRET": HS_SECRET,
        "PORT": str(free_port()),
    }


@dataclass(frozen=True)
class Case:
    id: str
    changes: dict[str, str | None]  # None removes the variable
    variable: str  # must be named in the one stderr line
    never_printed: tuple[str, ...] = ()


CASES = [
    Case("no-credentials", {"VAULT_TOKEN": None}, "VAULT_TOKEN"),
    Case("empty-token", {"VAULT_TOKEN": ""}, "VAULT_TOKEN"),
    Case("role-id-without-secret-id", {"VAULT_TOKEN": None, "VAULT_ROLE_ID": "r"}, "SECRET_ID"),
    Case("port-not-a-number", {"PORT": "abc"}, "PORT"),
    Case("port-out-of-range", {"PORT": "70000"}, "PORT"),
    Case("ttl-not-a-duration", {"CHILD_TOKEN_TTL": "ninety"}, "CHILD_TOKEN_TTL"),
    Case("api-keys-not-json", {"API_KEYS_JSON": f'{{"{API_KEY}": alice'}, "API_KEYS_JSON"),
    Case("api-keys-not-object", {"API_KEYS_JSON": f'["{API_KEY}"]'}, "API_KEYS_JSON"),
    Case("api-key-bad-agent", {"API_KEYS_JSON": f'{{"{API_KEY}": "../bob"}}'}, "API_KEYS_JSON"),
    Case(
        "api-key-too-short",
        {"API_KEYS_JSON": '{"short-key-xyz": "alice"}'},
        "API_KEYS_JSON",
        ("short-key-xyz",),
    ),
    Case(
        "api-key-bad-scope",
        {"API_KEYS_JSON": json.dumps({API_KEY: {"agent": "alice", "scopes": "root"}})},
        "API_KEYS_JSON",
    ),
    Case(
        "jwt-secret-placeholder",
        {"JWT_HS256_SECRET": "changeme"},
        "JWT_HS256_SECRET",
        ("changeme",),
    ),
    Case(
        "jwt-secret-short",
        {"JWT_HS256_SECRET": "short-but-secret"},
        "JWT_HS256_SECRET",
        ("short-but-secret",),
    ),
    Case(
        "jwt-without-secret-or-jwks",
        {"AUTH_JWT_ENABLED": "true", "JWT_HS256_SECRET": None},
        "AUTH_JWT_ENABLED",
    ),
    Case("jwt-algorithms", {"JWT_ALGORITHMS": "none"}, "JWT_ALGORITHMS"),
    Case("jwks-url", {"JWT_JWKS_URL": "file:///etc/passwd"}, "JWT_JWKS_URL"),
    Case("trusted-proxies", {"MTLS_TRUSTED_PROXIES": "not-a-cidr"}, "MTLS_TRUSTED_PROXIES"),
    Case("vault-addr", {"VAULT_ADDR": "vault:8200"}, "VAULT_ADDR"),
    Case("vault-cacert-missing", {"VAULT_CACERT": "/nonexistent/ca.pem"}, "VAULT_CACERT"),
    Case("bool", {"CHILD_TOKEN_ENABLED": "maybe"}, "CHILD_TOKEN_ENABLED"),
    Case("rate-limit", {"RATE_LIMIT_REQUESTS": "0"}, "RATE_LIMIT_REQUESTS"),
    Case("log-level", {"LOG_LEVEL": "verbose"}, "LOG_LEVEL"),
    Case("agent-id", {"AGENT_ID": "../alice"}, "AGENT_ID"),
    Case("default-scopes", {"DEFAULT_SCOPES": "admin"}, "DEFAULT_SCOPES"),
    Case("kv-mount", {"KV_MOUNT": "secret/../sys"}, "KV_MOUNT"),
    Case(
        "no-auth-mode",
        {"AUTH_API_KEY_ENABLED": "false", "AUTH_JWT_ENABLED": "false"},
        "AUTH_",
    ),
]


@dataclass(frozen=True)
class Outcome:
    returncode: int | None  # None: still running after START_TIMEOUT (it started serving)
    stdout: str
    stderr: str


def _environment(changes: dict[str, str | None]) -> dict[str, str]:
    # Nothing from the caller's environment that the sidecar would read.
    prefixes = ("VAULT_", "AUTH_", "JWT_", "MTLS_", "API_KEYS", "CHILD_TOKEN_", "RATE_LIMIT_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env |= valid_env()
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Outcome]]:
    folder: Path = tmp_path_factory.mktemp("config-errors")
    running = {
        case.id: subprocess.Popen(
            [sys.executable, "-m", "vault_mcp_sidecar"],
            env=_environment(case.changes),
            cwd=folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for case in CASES
    }
    results: dict[str, Outcome] = {}
    try:
        for case_id, process in running.items():
            try:
                stdout, stderr = process.communicate(timeout=START_TIMEOUT)
                results[case_id] = Outcome(process.returncode, stdout, stderr)
            except subprocess.TimeoutExpired:
                process.kill()
                stdout, stderr = process.communicate()
                results[case_id] = Outcome(None, stdout, stderr)
        yield results
    finally:
        for process in running.values():
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_bad_configuration_fails_with_one_line(outcomes: dict[str, Outcome], case: Case) -> None:
    outcome = outcomes[case.id]
    assert outcome.returncode is not None, f"it started anyway:\n{outcome.stderr[-2000:]}"
    assert outcome.returncode != 0
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1, outcome.stderr[-3000:]
    assert case.variable in lines[0]
    assert "Traceback" not in lines[0]
    assert outcome.stdout == ""
    for secret in (*SECRETS, *case.never_printed):
        assert secret not in outcome.stderr


def test_the_base_configuration_starts() -> None:
    """The control: without the one bad change, the same configuration serves."""
    env = valid_env()
    with SidecarProcess(env) as sidecar:
        assert httpx.get(f"{sidecar.url}/healthz").status_code == 200
