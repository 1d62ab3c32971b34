"""devkit's OpenBao against the real server: the helpers the benches and tests build on."""

from __future__ import annotations

from tests.parts import openbao_server


def test_create_token_returns_a_token_with_the_requested_policies() -> None:
    with openbao_server() as bao:
        bao.write_policy("reader", 'path "secret/data/*" { capabilities = ["read"] }')
        token = bao.create_token({"policies": ["reader"], "no_default_policy": True, "ttl": "5m"})
        looked_up = bao.api("POST", "auth/token/lookup", {"token": token})["data"]
        assert looked_up["policies"] == ["reader"]
        assert token != bao.token
