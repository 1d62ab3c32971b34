"""The token fields of a child-token create request, per CHILD_TOKEN_TYPE."""

from __future__ import annotations

from vault_mcp_sidecar.vault.child_tokens import TokenType, child_token_fields


def test_service_children_are_capped_and_use_limited() -> None:
    assert child_token_fields("90s", 3, TokenType.SERVICE) == {
        "ttl": "90s",
        "explicit_max_ttl": "90s",
        "renewable": False,
        "no_default_policy": True,
        "num_uses": 3,
        "type": "service",
    }


def test_batch_children_leave_out_what_vault_refuses_on_batch_tokens() -> None:
    # Vault answers 400 to `explicit_max_ttl` or `num_uses` on a batch token; a batch token
    # is never renewable, so its ttl is its hard limit anyway.
    assert child_token_fields("90s", 0, TokenType.BATCH) == {
        "ttl": "90s",
        "renewable": False,
        "no_default_policy": True,
        "type": "batch",
    }
