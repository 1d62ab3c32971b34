"""Fixtures for integration tests: a real OpenBao and real sidecar processes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from devkit.openbao import OpenBao
from devkit.sidecar import SidecarProcess
from tests.parts import openbao_server
from vault_mcp_sidecar.policy import agent_policy_hcl

AGENTS = ("alice", "bob")
API_KEYS = {"alice-key-0123456789abcdef": "alice", "bob-key-0123456789abcdef": "bob"}
JWT_SECRET = "integration-test-hs256-secret-0123456789"


def provision(bao: OpenBao, agents: tuple[str, ...] = AGENTS) -> None:
    """Transit engine and the agent policies, as an operator (or the seed's script) would."""
    bao.enable_engine("transit", "transit")
    for agent in agents:
        bao.write_policy(f"mcp-agent-{agent}", agent_policy_hcl(agent))


@pytest.fixture(scope="module")
def openbao() -> Iterator[OpenBao]:
    """A dev-mode OpenBao with a file audit device, agents alice and bob provisioned."""
    with openbao_server(audit=True) as bao:
        provision(bao)
        yield bao


def sidecar_env(bao: OpenBao, **overrides: str) -> dict[str, str]:
    env = {
        "VAULT_ADDR": bao.addr,
        "VAULT_TOKEN": bao.token,
        "API_KEYS_JSON": json.dumps(API_KEYS),
        "JWT_HS256_SECRET": JWT_SECRET,
        "RATE_LIMIT_ENABLED": "false",
        "LOG_LEVEL": "info",
    }
    return env | overrides


SidecarFactory = Callable[..., SidecarProcess]


@pytest.fixture
def start_sidecar(openbao: OpenBao) -> Iterator[SidecarFactory]:
    """Start sidecars with `sidecar_env(openbao) | overrides`; all stopped after the test."""
    started: list[SidecarProcess] = []

    def start(**overrides: str) -> SidecarProcess:
        sidecar = SidecarProcess(sidecar_env(openbao, **overrides))
        sidecar.start()
        started.append(sidecar)
        return sidecar

    yield start
    for sidecar in started:
        sidecar.stop()


@pytest.fixture(scope="module")
def sidecar(openbao: OpenBao) -> Iterator[SidecarProcess]:
    """One shared sidecar (token reuse, API key + JWT) for read-mostly tests."""
    with SidecarProcess(sidecar_env(openbao)) as process:
        yield process
