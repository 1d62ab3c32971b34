"""Fixtures for the operator's integration tests: a real OpenBao with the installation
prerequisites (approle, transit) done by root, and the offline CLI run in-process."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devkit.openbao import OpenBao
from tests.parts import openbao_server
from vault_mcp_operator.cli import main

WRITE_OPERATIONS = frozenset({"create", "update", "delete"})


def install_prerequisites(bao: OpenBao) -> None:
    """What an administrator does once before the operator runs (README: installation)."""
    bao.enable_engine("transit", "transit")
    if "approle/" not in bao.api("GET", "sys/auth")["data"]:
        bao.api("POST", "sys/auth/approle", {"type": "approle"})


@pytest.fixture(scope="module")
def vault() -> Iterator[OpenBao]:
    """A dev OpenBao with a file audit device, approle and transit enabled."""
    with openbao_server(audit=True) as bao:
        install_prerequisites(bao)
        yield bao


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str


OperatorCli = Callable[..., CliResult]


@pytest.fixture
def operator_cli(vault: OpenBao, monkeypatch: pytest.MonkeyPatch) -> OperatorCli:
    """Run `vault-mcp-operator ARGS` in-process against `vault`, as root unless `token=`."""

    def run(*args: str | Path, token: str | None = None, **env: str) -> CliResult:
        monkeypatch.setenv("VAULT_ADDR", vault.addr)
        monkeypatch.setenv("VAULT_TOKEN", token or vault.token)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([str(arg) for arg in args])
        return CliResult(code, out.getvalue(), err.getvalue())

    return run


def audit_mark(bao: OpenBao) -> int:
    return len(bao.audit_entries())


def writes_since(bao: OpenBao, mark: int) -> list[tuple[str, str]]:
    """(operation, path) of every write request Vault audited after `mark`."""
    return [
        (entry["request"]["operation"], entry["request"]["path"])
        for entry in bao.audit_entries()[mark:]
        if entry.get("type") == "request" and entry["request"]["operation"] in WRITE_OPERATIONS
    ]


def requests_since(bao: OpenBao, mark: int) -> list[dict[str, Any]]:
    return [e["request"] for e in bao.audit_entries()[mark:] if e.get("type") == "request"]


def vault_agent(name: str, namespace: str = "team-a", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "vaultmcp.dev/v1alpha1",
        "kind": "VaultAgent",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


# The kopf operator tests' fixtures (a real operator, the KMock emulator, OpenBao).
from tests.integration.operator.kopf_support import cluster, ns  # noqa: E402, F401
