"""Vault stopped or sealed: 503 with Retry-After, then recovery without a sidecar restart.

Uses its own OpenBao with raft storage (`dev=False`), which keeps its data across a restart.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from devkit.openbao import OpenBao
from devkit.sidecar import SidecarProcess
from tests.integration.conftest import provision, sidecar_env
from tests.integration.vault_support import client, eventually, running, unique
from tests.parts import openbao_server

MODES = {"token-reuse": "false", "child-tokens": "true"}


@pytest.fixture(scope="module")
def durable_bao() -> Iterator[OpenBao]:
    with openbao_server(dev=False) as bao:
        bao.enable_engine("secret", "kv", {"version": "2"})
        provision(bao)
        # A new KV v2 mount upgrades itself in the background; wait until it takes writes.
        eventually(lambda: _try_write(bao))
        yield bao


def _try_write(bao: OpenBao) -> bool | None:
    try:
        bao.api("POST", "secret/data/mcp/probe", {"data": {"ok": True}})
    except OSError:
        return None
    return True


@pytest.fixture
def sidecars(durable_bao: OpenBao) -> Iterator[dict[str, SidecarProcess]]:
    """One sidecar per mode against the durable OpenBao; Vault is running again afterwards."""
    with ExitStack() as stack:
        yield {
            mode: stack.enter_context(
                running(sidecar_env(durable_bao, CHILD_TOKEN_ENABLED=child_tokens))
            )
            for mode, child_tokens in MODES.items()
        }
        if not durable_bao.running:
            durable_bao.start()


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert isinstance(response.json()["detail"], str)
    assert int(response.headers["Retry-After"]) >= 1


def _read_when_back(sidecar: SidecarProcess, path: str) -> httpx.Response:
    def attempt() -> httpx.Response | None:
        with client(sidecar, "alice") as alice:
            response = alice.get(f"/secrets/{path}")
        return response if response.status_code != 503 else None

    return eventually(attempt, timeout=30)


def test_stopped_vault_is_503_and_the_data_is_there_after_restart(
    durable_bao: OpenBao, sidecars: dict[str, SidecarProcess]
) -> None:
    path = f"{unique()}/before-outage"
    with client(sidecars["token-reuse"], "alice") as alice:
        assert alice.put(f"/secrets/{path}", json={"data": {"v": "kept"}}).status_code == 200

    durable_bao.stop()
    for mode, sidecar in sidecars.items():
        with client(sidecar, "alice") as alice:
            _assert_unavailable(alice.get(f"/secrets/{path}"))
            _assert_unavailable(alice.put(f"/secrets/{unique()}", json={"data": {"v": 1}}))
            _assert_unavailable(alice.get("/secrets", params={"prefix": ""}))
            _assert_unavailable(
                alice.post("/transit/encrypt", json={"key": "k", "plaintext": "aGk="})
            )
        assert httpx.get(f"{sidecar.url}/healthz").status_code == 200, mode

    durable_bao.start()
    for mode, sidecar in sidecars.items():
        response = _read_when_back(sidecar, path)
        assert response.status_code == 200, (mode, response.text)
        assert response.json()["data"] == {"v": "kept"}


def test_sealed_vault_is_503_until_unsealed(
    durable_bao: OpenBao, sidecars: dict[str, SidecarProcess]
) -> None:
    path = f"{unique()}/sealed"
    with client(sidecars["child-tokens"], "alice") as alice:
        assert alice.put(f"/secrets/{path}", json={"data": {"v": 1}}).status_code == 200

    durable_bao.api("PUT", "sys/seal")
    try:
        for sidecar in sidecars.values():
            with client(sidecar, "alice") as alice:
                _assert_unavailable(alice.get(f"/secrets/{path}"))
                _assert_unavailable(alice.put(f"/secrets/{path}", json={"data": {"v": 2}}))
    finally:
        durable_bao.api("PUT", "sys/unseal", {"key": durable_bao.unseal_key})

    for mode, sidecar in sidecars.items():
        response = _read_when_back(sidecar, path)
        assert response.status_code == 200, (mode, response.text)
        assert response.json()["data"] == {"v": 1}
