"""Bad secret paths over real HTTP are refused before anything reaches Vault (DESIGN §5).

Paths go out through a plain socket: every HTTP client library (httpx included) normalises
`..`/`.` segments or refuses control bytes and raw non-ASCII before sending, which would test
the client instead of the sidecar. "Nothing reached Vault" is read from OpenBao's audit log.
"""

from __future__ import annotations

import socket

import pytest

from devkit.openbao import OpenBao
from devkit.sidecar import SidecarProcess
from tests.integration.vault_support import KEY_OF, audit_paths, client, unique

# (id, raw bytes after "/secrets/", statuses allowed besides 400). 404 only where the router
# itself cannot match (Starlette's `{path:path}` does not match a newline).
BAD_PATHS: list[tuple[str, bytes, set[int]]] = [
    ("dotdot-to-bob", b"../bob/x", set()),
    ("dotdot-deep", b"a/../../bob/x", set()),
    ("dotdot-alone", b"..", set()),
    ("dot-alone", b".", set()),
    ("dot-segment", b"a/./b", set()),
    ("dot-trailing", b"a/.", set()),
    ("empty-segment", b"a//b", set()),
    ("absolute", b"/abs", set()),
    ("absolute-etc", b"/etc/passwd", set()),
    ("trailing-slash", b"a/", set()),
    ("empty", b"", set()),
    ("backslash", b"a\\b", set()),
    ("backslash-dotdot", b"..\\bob", set()),
    ("pct-dotdot", b"%2e%2e/bob/x", set()),
    ("pct-dotdot-upper", b"a/%2E%2E/b", set()),
    ("pct-slash", b"a%2Fb", set()),
    ("pct-slash-dotdot", b"..%2Fbob", set()),
    ("double-encoded", b"%252e%252e/bob", set()),
    ("pct-nul", b"a%00b", set()),
    ("pct-newline", b"a%0ab", {404}),
    ("pct-unicode-dots", b"%E2%80%A4%E2%80%A4/bob", set()),
    ("raw-nul", b"a\x00b", set()),
    ("raw-control", b"a\x01b", set()),
    ("raw-del", b"a\x7fb", set()),
    ("raw-cr", b"a\rb", set()),
    ("raw-tab", b"a\tb", set()),
    ("raw-space", b"a b", set()),
    ("raw-unicode-dots", "\u2024\u2024/bob".encode(), set()),
    ("raw-fullwidth-dots", "\uff0e\uff0e/bob".encode(), set()),
    ("overlong-600", b"a" * 600, set()),
    ("overlong-segments", b"/".join([b"abcdefghi"] * 60), set()),
    ("too-deep", b"/".join([b"a"] * 40), set()),
    ("segment-129", b"a" * 129, set()),
    ("semicolon", b"a;b", set()),
    ("glob", b"*", set()),
    ("plus-glob", b"a+", set()),
    ("tilde", b"~root", set()),
    ("colon", b"a:b", set()),
]

BAD_PREFIXES: list[tuple[str, str, int]] = [
    ("dotdot", "..", 400),
    ("dotdot-bob", "../bob", 400),
    ("dotdot-bob-folder", "../bob/", 400),
    ("dot", ".", 400),
    ("dot-folder", "./", 400),
    ("slash", "/", 400),
    ("double-slash", "//", 400),
    ("absolute", "/abs", 400),
    ("empty-segment", "a//b", 400),
    ("inner-dotdot", "a/../b/", 400),
    ("backslash", "a\\b", 400),
    ("unicode-dots", "\u2024\u2024/", 400),
    ("fullwidth-dots", "\uff0e\uff0e/", 400),
    ("literal-pct", "%2e%2e/", 400),
    ("nul", "a\x00b", 400),
    ("newline", "a\nb", 400),
    ("glob", "*", 400),
    ("folder-glob", "a/*", 400),
    ("too-deep", "/".join(["a"] * 40) + "/", 400),
    ("overlong-600", "a" * 600, 422),
]

WRITE_BODY = b'{"data": {"v": "x"}}'
VERSIONS_BODY = b'{"versions": [1]}'
# (method, suffix after the path, body): every route that takes a secret path.
ROUTES: list[tuple[str, bytes, bytes]] = [
    ("GET", b"", b""),
    ("PUT", b"", WRITE_BODY),
    ("DELETE", b"", b""),
    ("POST", b":undelete", VERSIONS_BODY),
    ("POST", b":destroy", VERSIONS_BODY),
]


def raw_status(port: int, method: str, target: bytes, body: bytes = b"") -> int:
    """Send one HTTP/1.1 request with `target` exactly as given; the response status."""
    head = [
        f"{method} ".encode() + target + b" HTTP/1.1",
        b"Host: 127.0.0.1",
        b"X-API-Key: " + KEY_OF["alice"].encode(),
        b"Connection: close",
    ]
    if body:
        head += [b"Content-Type: application/json", f"Content-Length: {len(body)}".encode()]
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(b"\r\n".join(head) + b"\r\n\r\n" + body)
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    status_line = response.split(b"\r\n", 1)[0]
    return int(status_line.split()[1])


@pytest.fixture(scope="module")
def warm_sidecar(sidecar: SidecarProcess) -> SidecarProcess:
    """The shared sidecar after one valid request, so its own token lookup is done."""
    with client(sidecar, "alice") as alice:
        assert alice.get("/secrets", params={"prefix": ""}).status_code == 200
    return sidecar


def test_a_valid_path_does_show_in_the_audit_log(
    openbao: OpenBao, warm_sidecar: SidecarProcess
) -> None:
    """The control for the tests below: the audit log does see what the sidecar sends."""
    path = f"{unique()}/ok"
    before = len(openbao.audit_entries())
    assert raw_status(warm_sidecar.port, "PUT", f"/secrets/{path}".encode(), WRITE_BODY) == 200
    assert f"secret/data/mcp/alice/{path}" in audit_paths(openbao)[before:]


@pytest.mark.parametrize(
    ("target", "also_allowed"),
    [pytest.param(t, a, id=i) for i, t, a in BAD_PATHS],
)
def test_bad_secret_path_never_reaches_vault(
    openbao: OpenBao, warm_sidecar: SidecarProcess, target: bytes, also_allowed: set[int]
) -> None:
    before = len(openbao.audit_entries())
    statuses = {
        f"{method} {suffix.decode()}": raw_status(
            warm_sidecar.port, method, b"/secrets/" + target + suffix, body
        )
        for method, suffix, body in ROUTES
    }
    assert all(400 <= s < 500 for s in statuses.values()), statuses
    assert set(statuses.values()) <= {400} | also_allowed, statuses
    assert audit_paths(openbao)[before:] == []


@pytest.mark.parametrize(
    ("prefix", "status"),
    [pytest.param(p, s, id=i) for i, p, s in BAD_PREFIXES],
)
def test_bad_list_prefix_never_reaches_vault(
    openbao: OpenBao, warm_sidecar: SidecarProcess, prefix: str, status: int
) -> None:
    before = len(openbao.audit_entries())
    with client(warm_sidecar, "alice") as alice:
        response = alice.get("/secrets", params={"prefix": prefix})
    assert response.status_code == status, response.text
    assert "detail" in response.json()
    assert audit_paths(openbao)[before:] == []


@pytest.mark.parametrize(
    "query", [b"prefix=%2e%2e/bob/", b"prefix=%2e%2e%2fbob%2f", b"prefix=..%5cbob"]
)
def test_percent_encoded_list_prefix_never_reaches_vault(
    openbao: OpenBao, warm_sidecar: SidecarProcess, query: bytes
) -> None:
    before = len(openbao.audit_entries())
    assert raw_status(warm_sidecar.port, "GET", b"/secrets?" + query) == 400
    assert audit_paths(openbao)[before:] == []
