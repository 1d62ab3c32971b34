"""Transit through the sidecar against a real OpenBao: per-agent keys (DESIGN §3, §5)."""

from __future__ import annotations

import base64
import json

from devkit.openbao import OpenBao
from devkit.sidecar import SidecarProcess
from tests.integration.conftest import SidecarFactory, provision
from tests.integration.vault_support import client, unique, vault_status
from vault_mcp_sidecar.naming import transit_key_name

PREFIX = "mcp"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_round_trip(sidecar: SidecarProcess) -> None:
    key = unique("k")
    plaintext = b64("card 4111 1111 1111 1111")
    with client(sidecar, "alice") as alice:
        encrypted = alice.post("/transit/encrypt", json={"key": key, "plaintext": plaintext})
        assert encrypted.status_code == 200, encrypted.text
        ciphertext = encrypted.json()["ciphertext"]
        assert ciphertext.startswith("vault:v1:")
        assert plaintext not in ciphertext

        decrypted = alice.post("/transit/decrypt", json={"key": key, "ciphertext": ciphertext})
        assert decrypted.status_code == 200, decrypted.text
        assert decrypted.json() == {"plaintext": plaintext}

        empty = alice.post("/transit/encrypt", json={"key": key, "plaintext": ""})
        assert empty.status_code == 200
        back = alice.post("/transit/decrypt", json={"key": key, **empty.json()})
        assert back.json()["plaintext"] == ""


def test_the_key_lives_under_the_agents_own_name(openbao: OpenBao, sidecar: SidecarProcess) -> None:
    key = unique("k")
    with client(sidecar, "alice") as alice:
        assert alice.post("/transit/encrypt", json={"key": key, "plaintext": b64("x")}).is_success
    own = transit_key_name(PREFIX, "alice", key)
    assert vault_status(openbao, "GET", f"transit/keys/{own}") == 200
    assert vault_status(openbao, "GET", f"transit/keys/{key}") == 404
    bobs = transit_key_name(PREFIX, "bob", key)
    assert vault_status(openbao, "GET", f"transit/keys/{bobs}") == 404


def test_bob_cannot_decrypt_alices_ciphertext_with_his_own_key_of_that_name(
    sidecar: SidecarProcess,
) -> None:
    plaintext = b64("alice's payment token")
    with client(sidecar, "alice") as alice, client(sidecar, "bob") as bob:
        ciphertext = alice.post(
            "/transit/encrypt", json={"key": "payments", "plaintext": plaintext}
        ).json()["ciphertext"]

        # Bob has no 'payments' key yet: there is nothing of his to decrypt with.
        no_key = bob.post("/transit/decrypt", json={"key": "payments", "ciphertext": ciphertext})
        assert no_key.status_code == 404, no_key.text

        assert bob.post(
            "/transit/encrypt", json={"key": "payments", "plaintext": b64("bob's own")}
        ).is_success
        refused = bob.post("/transit/decrypt", json={"key": "payments", "ciphertext": ciphertext})
        assert 400 <= refused.status_code < 500, refused.text
        assert plaintext not in refused.text
        assert "plaintext" not in refused.json()


def test_crafted_subject_key_pairs_never_share_a_vault_key(
    openbao: OpenBao, start_sidecar: SidecarFactory
) -> None:
    """subject `a` + key `b-c` against subject `a-b` + key `c` (DESIGN §3)."""
    name_a = transit_key_name(PREFIX, "a", "b-c")
    name_ab = transit_key_name(PREFIX, "a-b", "c")
    assert name_a != name_ab

    provision(openbao, ("a", "a-b"))
    keys = {"agent-a-key-0123456789": "a", "agent-ab-key-0123456789": "a-b"}
    sidecar = start_sidecar(API_KEYS_JSON=json.dumps(keys), CHILD_TOKEN_ENABLED="true")
    with client(sidecar) as http:
        as_a = {"X-API-Key": "agent-a-key-0123456789"}
        as_ab = {"X-API-Key": "agent-ab-key-0123456789"}
        secret = b64("only for a")
        enc_a = http.post(
            "/transit/encrypt", json={"key": "b-c", "plaintext": secret}, headers=as_a
        )
        assert enc_a.status_code == 200, enc_a.text
        enc_ab = http.post(
            "/transit/encrypt", json={"key": "c", "plaintext": b64("only for a-b")}, headers=as_ab
        )
        assert enc_ab.status_code == 200, enc_ab.text
        crossed = http.post(
            "/transit/decrypt",
            json={"key": "c", "ciphertext": enc_a.json()["ciphertext"]},
            headers=as_ab,
        )
        assert 400 <= crossed.status_code < 500
        assert secret not in crossed.text

    # Both keys exist in Vault, under the two different names.
    assert vault_status(openbao, "GET", f"transit/keys/{name_a}") == 200
    assert vault_status(openbao, "GET", f"transit/keys/{name_ab}") == 200

    # Straight at Vault: a token bound to a's policy cannot use a-b's key, and vice versa.
    token_a = openbao.api("POST", "auth/token/create", {"policies": ["mcp-agent-a"]})["auth"][
        "client_token"
    ]
    token_ab = openbao.api("POST", "auth/token/create", {"policies": ["mcp-agent-a-b"]})["auth"][
        "client_token"
    ]
    body = {"plaintext": b64("x")}
    assert vault_status(openbao, "POST", f"transit/encrypt/{name_a}", body, token=token_a) == 200
    assert vault_status(openbao, "POST", f"transit/encrypt/{name_ab}", body, token=token_a) == 403
    assert vault_status(openbao, "POST", f"transit/encrypt/{name_a}", body, token=token_ab) == 403
    decrypt_ab = {"ciphertext": enc_ab.json()["ciphertext"]}
    assert (
        vault_status(openbao, "POST", f"transit/decrypt/{name_ab}", decrypt_ab, token=token_a)
        == 403
    )
    # Nor create a key that sorts under the other agent's prefix.
    squat = transit_key_name(PREFIX, "a-b", "new")
    assert vault_status(openbao, "POST", f"transit/encrypt/{squat}", body, token=token_a) == 403


def test_bad_inputs(sidecar: SidecarProcess) -> None:
    key = unique("k")
    with client(sidecar, "alice") as alice:
        assert alice.post("/transit/encrypt", json={"key": key, "plaintext": b64("x")}).is_success

        not_b64 = alice.post("/transit/encrypt", json={"key": key, "plaintext": "not base64!!"})
        assert not_b64.status_code == 422
        assert "not base64!!" not in not_b64.text

        malformed = alice.post("/transit/decrypt", json={"key": key, "ciphertext": "garbage"})
        assert malformed.status_code == 422

        unknown = alice.post(
            "/transit/decrypt", json={"key": unique("nokey"), "ciphertext": "vault:v1:AAAA"}
        )
        assert unknown.status_code == 404, unknown.text

        # Well-formed but not Vault's: Vault says so, and that is the caller's error.
        forged = alice.post("/transit/decrypt", json={"key": key, "ciphertext": "vault:v1:AAAA"})
        assert forged.status_code == 400, forged.text

        for bad_key in ("../bob", "a/b", "-a", "x" * 65, ""):
            response = alice.post("/transit/encrypt", json={"key": bad_key, "plaintext": b64("x")})
            assert response.status_code in (400, 422), (bad_key, response.text)

        extra = alice.post(
            "/transit/encrypt", json={"key": key, "plaintext": b64("x"), "context": "x"}
        )
        assert extra.status_code == 422
