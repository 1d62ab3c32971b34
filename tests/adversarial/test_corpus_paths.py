"""Path and name tricks, over REST (raw bytes on the wire) and as MCP tool arguments.

Builds on `tests/integration/test_path_safety.py`: its corpus is taken as it is and extended
with encodings, look-alike characters and control bytes it does not try. Here each case must
also come back as a JSON error that does not repeat the path, and the audit log must show that
nothing reached Vault — neither the KV or Transit call nor the child-token mint before it.
"""

from __future__ import annotations

import json

import pytest

from devkit.openbao import OpenBao
from devkit.sidecar import SidecarProcess
from tests.adversarial.conftest import ALICE_KEY, Audit, assert_refused
from tests.adversarial.wire import send
from tests.integration.mcp_helpers import IGNORE_DEPRECATION, mcp_session, text_of
from tests.integration.test_path_safety import BAD_PATHS, ROUTES, WRITE_BODY
from tests.integration.vault_support import unique

pytestmark = pytest.mark.filterwarnings(IGNORE_DEPRECATION)

# (id, raw bytes after "/secrets/", expected status). What test_path_safety does not try.
MORE_PATHS: list[tuple[str, bytes, int]] = [
    ("double-encoded-slash", b"..%252fbob", 400),
    ("pct-backslash", b"..%5cbob", 400),
    ("pct-dot-slash", b".%2e/bob", 400),
    ("overlong-utf8-dots", b"%c0%ae%c0%ae/bob", 400),
    ("iis-unicode-dots", b"%u002e%u002e/bob", 400),
    ("pct-fullwidth-solidus", b"..%ef%bc%8fbob", 400),
    ("raw-fullwidth-solidus", "..\uff0fbob".encode(), 400),
    ("raw-fullwidth-dots-solidus", "\uff0e\uff0e\uff0fbob".encode(), 400),
    ("raw-one-dot-leader", "\u2024/bob".encode(), 400),
    ("raw-two-dot-leader", "\u2025/bob".encode(), 400),
    ("raw-fullwidth-letter", "\uff41lice".encode(), 400),
    ("raw-zero-width-space", "a\u200bb".encode(), 400),
    ("raw-rtl-override", "a\u202eb".encode(), 400),
    ("raw-invalid-utf8", b"a\xffb", 400),
    ("leading-double-slash", b"//bob/x", 400),
    ("trailing-double-slash", b"a//", 400),
    ("dot-slash-prefix", b"./a", 400),
    ("dotdot-trailing", b"a/..", 400),
    ("raw-nul-trailing", b"a\x00", 400),
    ("pct-nul-trailing", b"a%00", 400),
    ("raw-backspace", b"a\x08b", 400),
    ("raw-escape", b"a\x1b[2Jb", 400),
    ("raw-vertical-tab", b"a\x0bb", 400),
    ("raw-unit-separator", b"a\x1fb", 400),
    ("at-sign", b"bob@a", 400),
    ("pipe", b"a|b", 400),
    ("shell-subst", b"$(id)", 400),
    ("sql-quote", b"a'--", 400),
    ("overlong-10k", b"a/" * 5000 + b"a", 400),
    ("overlong-segment-1000", b"a" * 1000, 400),
]
# Every route that takes a path, with a body where it needs one (so only the path is wrong).
PATH_ROUTES = [(method, suffix, body) for method, suffix, body in ROUTES]

REST_CASES = [pytest.param(raw, {400} | also, id=i) for i, raw, also in BAD_PATHS] + [
    pytest.param(raw, {status}, id=i) for i, raw, status in MORE_PATHS
]


def test_a_valid_path_does_show_in_the_audit_log(
    adv_bao: OpenBao, hs_sidecar: SidecarProcess
) -> None:
    """The control: the audit check below can fail. A valid write shows as the child-token
    mint and the KV write; a valid read of it as another mint and the read."""
    path = f"{unique('control')}/ok"
    audit = Audit.mark(adv_bao)
    target = f"/secrets/{path}".encode()
    headers = [("X-API-Key", ALICE_KEY), ("Content-Type", "application/json")]
    assert send(hs_sidecar.port, "PUT", target, headers, WRITE_BODY).status == 200
    assert send(hs_sidecar.port, "GET", target, headers[:1]).status == 200
    requests = audit.requests()
    assert requests.count(f"create secret/data/mcp/alice/{path}") == 1, requests
    assert requests.count(f"read secret/data/mcp/alice/{path}") == 1, requests
    assert sum(r.startswith("update auth/token/create") for r in requests) == 2, requests


@pytest.mark.parametrize(("raw", "allowed"), REST_CASES)
def test_path_trick_over_rest_never_reaches_vault(
    adv_bao: OpenBao, hs_sidecar: SidecarProcess, raw: bytes, allowed: set[int]
) -> None:
    audit = Audit.mark(adv_bao)
    for method, suffix, body in PATH_ROUTES:
        headers = [("X-API-Key", ALICE_KEY)]
        if body:
            headers.append(("Content-Type", "application/json"))
        reply = send(hs_sidecar.port, method, b"/secrets/" + raw + suffix, headers, body)
        assert reply.status in allowed, (method, suffix, reply.status, reply.text[:200])
        if not all(0x21 <= byte <= 0x7E for byte in raw):
            # Not HTTP at all: the server's parser answers before any application code runs.
            assert reply.text == "Invalid HTTP request received.", reply.text
        else:
            content_type = reply.headers.get("content-type", "")
            assert_refused(reply.status, content_type, reply.text, reply.status, raw)
    audit.assert_nothing_reached_vault()


# (id, key, expected status): Transit key names. 400 from the name check; 422 where the length
# bounds of the request body already refuse it. `_U` and `__` are how derived key names keep
# agents apart (naming.transit_key_name); a caller cannot smuggle a separator in.
BAD_KEYS: list[tuple[str, str, int]] = [
    ("dotdot", "../bob", 400),
    ("slash", "a/b", 400),
    ("backslash", "a\\b", 400),
    ("leading-dash", "-a", 400),
    ("trailing-dash", "a-", 400),
    ("leading-underscore", "_Ubob", 400),
    ("trailing-underscore", "alice_", 400),
    ("leading-dot", ".a", 400),
    ("trailing-dot", "a.", 400),
    ("space", "a b", 400),
    ("nul", "a\x00b", 400),
    ("newline", "a\nb", 400),
    ("colon", "a:b", 400),
    ("glob", "a*", 400),
    ("fullwidth", "\uff41", 400),
    ("one-dot-leader", "a\u2024b", 400),
    ("empty", "", 422),
    ("too-long", "a" * 65, 422),
]


@pytest.mark.parametrize(("key", "status"), [pytest.param(k, s, id=i) for i, k, s in BAD_KEYS])
def test_transit_key_trick_never_reaches_vault(
    adv_bao: OpenBao, hs_sidecar: SidecarProcess, key: str, status: int
) -> None:
    audit = Audit.mark(adv_bao)
    bodies = {
        "encrypt": {"key": key, "plaintext": "aGVsbG8="},
        "decrypt": {"key": key, "ciphertext": "vault:v1:aGVsbG8="},
    }
    for op, body in bodies.items():
        headers = [("X-API-Key", ALICE_KEY), ("Content-Type", "application/json")]
        reply = send(
            hs_sidecar.port, "POST", f"/transit/{op}".encode(), headers, json.dumps(body).encode()
        )
        content_type = reply.headers.get("content-type", "")
        assert_refused(reply.status, content_type, reply.text, status, key)
    audit.assert_nothing_reached_vault()


# -- the same through MCP: tool arguments are strings, no URL encoding in the way ------------

MCP_PATHS: list[tuple[str, str]] = [
    ("dotdot-to-bob", "../bob/x"),
    ("dotdot-deep", "a/../../bob/x"),
    ("dot-segment", "a/./b"),
    ("dotdot-alone", ".."),
    ("empty-segment", "a//b"),
    ("absolute", "/etc/passwd"),
    ("trailing-slash", "a/"),
    ("empty", ""),
    ("backslash", "..\\bob"),
    ("pct-dotdot", "%2e%2e/bob"),
    ("pct-slash", "..%2fbob"),
    ("double-encoded", "%252e%252e/bob"),
    ("unicode-dots", "\u2024\u2024/bob"),
    ("fullwidth-dots", "\uff0e\uff0e/bob"),
    ("fullwidth-solidus", "..\uff0fbob"),
    ("nul", "a\x00b"),
    ("newline", "a\nb"),
    ("trailing-newline", "a\n"),
    ("tab", "a\tb"),
    ("del", "a\x7fb"),
    ("query", "victim?version=1"),
    ("fragment", "victim#x"),
    ("overlong", "a" * 600),
    ("too-deep", "/".join(["a"] * 40)),
    ("segment-129", "a" * 129),
]
PATH_TOOLS: dict[str, dict[str, object]] = {
    "write_secret": {"data": {"v": "x"}},
    "read_secret": {},
    "delete_secret": {},
    "undelete_secret": {"versions": [1]},
    "destroy_secret": {"versions": [1]},
}


@pytest.mark.parametrize("path", [pytest.param(p, id=i) for i, p in MCP_PATHS])
async def test_path_trick_as_mcp_argument_never_reaches_vault(
    adv_bao: OpenBao, hs_sidecar: SidecarProcess, path: str
) -> None:
    audit = Audit.mark(adv_bao)
    async with mcp_session(hs_sidecar.url, {"X-API-Key": ALICE_KEY}) as session:
        for tool, extra in PATH_TOOLS.items():
            result = await session.call_tool(tool, {"path": path, **extra})
            assert result.isError, (tool, text_of(result))
        listed = await session.call_tool("list_secrets", {"prefix": path + "/"})
        assert listed.isError, text_of(listed)
    audit.assert_nothing_reached_vault()


@pytest.mark.parametrize(("key", "status"), [pytest.param(k, s, id=i) for i, k, s in BAD_KEYS])
async def test_transit_key_trick_as_mcp_argument_never_reaches_vault(
    adv_bao: OpenBao, hs_sidecar: SidecarProcess, key: str, status: int
) -> None:
    del status  # over MCP every refusal is a tool error
    audit = Audit.mark(adv_bao)
    async with mcp_session(hs_sidecar.url, {"X-API-Key": ALICE_KEY}) as session:
        encrypt = await session.call_tool("transit_encrypt", {"key": key, "plaintext": "aGk="})
        decrypt = await session.call_tool(
            "transit_decrypt", {"key": key, "ciphertext": "vault:v1:aGk="}
        )
    assert encrypt.isError, text_of(encrypt)
    assert decrypt.isError, text_of(decrypt)
    audit.assert_nothing_reached_vault()
