"""Pure rules the fault tests depend on: what counts as Vault being away, and when to renew."""

from __future__ import annotations

import json

import pytest

from vault_mcp_sidecar.vault.client import _decode
from vault_mcp_sidecar.vault.errors import VaultError, VaultUnavailable
from vault_mcp_sidecar.vault.parent_token import MIN_RENEW_SECONDS, _renew_delay


def _body(*errors: str) -> bytes:
    return json.dumps({"errors": list(errors)}).encode()


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_and_sealed_answers_are_unavailable(status: int) -> None:
    with pytest.raises(VaultUnavailable):
        _decode(status, _body("Vault is sealed"))


def test_a_standby_without_an_active_node_is_unavailable_not_an_error() -> None:
    # raft electing a leader right after an unseal: wait it out (503), do not fail it (502).
    with pytest.raises(VaultUnavailable):
        _decode(500, _body("local node not active but active cluster node not found"))


def test_any_other_500_stays_an_error() -> None:
    with pytest.raises(VaultError) as raised:
        _decode(500, _body("internal error"))
    assert raised.value.status == 500


@pytest.mark.parametrize(
    ("ttl", "delay"),
    [
        (3600.0, 2400.0),  # two thirds in
        (30.0, 20.0),
        (6.0, MIN_RENEW_SECONDS),  # not sooner than the floor...
        (4.0, 4.0 * 5 / 6),  # ...unless the lease would run out first
        (1.0, 1.0 * 5 / 6),
    ],
)
def test_renewal_comes_before_the_lease_ends(ttl: float, delay: float) -> None:
    assert _renew_delay(ttl) == pytest.approx(delay)
    assert _renew_delay(ttl) < ttl
