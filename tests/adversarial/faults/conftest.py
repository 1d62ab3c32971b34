"""Fixtures for the fault tests: real OpenBao servers the tests may stop, restart and poke.

`ADVERSARIAL_LONG=1` (`make adversarial`) turns the long runs on (more restarts and rounds); by
default each fault is driven just enough to show it is handled, so `make test` stays quick.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devkit.openbao import OpenBao
from tests.adversarial.conftest import long_run
from tests.integration.conftest import provision
from tests.integration.vault_support import eventually
from tests.parts import openbao_server

LONG_RUN = long_run()


@pytest.fixture(scope="module")
def durable_bao() -> Iterator[OpenBao]:
    """OpenBao on raft storage (kept across stop/start), KV v2 at `secret/`, alice and bob's
    policies written."""
    with openbao_server(dev=False) as bao:
        bao.enable_engine("secret", "kv", {"version": "2"})
        provision(bao)
        # A new KV v2 mount upgrades itself in the background; wait until it takes writes.
        eventually(lambda: _takes_writes(bao))
        yield bao


def _takes_writes(bao: OpenBao) -> bool | None:
    try:
        bao.api("POST", "secret/data/mcp/probe", {"data": {"ok": True}})
    except OSError:
        return None
    return True


@pytest.fixture(scope="module")
def audited_bao() -> Iterator[OpenBao]:
    """A dev OpenBao with a file audit device, alice and bob's policies written."""
    with openbao_server(audit=True) as bao:
        provision(bao)
        yield bao
