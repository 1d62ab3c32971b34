"""Request bodies: too large (declared or streamed), not JSON, or JSON Vault could not take.

Limits are the sidecar's defaults (MAX_BODY_BYTES = 1 MiB). Each body carries a marker standing
for a secret value, which no answer may repeat; and nothing may reach Vault — not the write,
not the child-token mint before it.
"""

from __future__ import annotations

import gzip

import pytest

from devkit.openbao import OpenBao
from devkit.sidecar import SidecarProcess
from tests.adversarial.conftest import ALICE_KEY, Audit, assert_refused
from tests.adversarial.wire import chunked, send
from tests.integration.mcp_helpers import IGNORE_DEPRECATION, mcp_session, text_of
from tests.integration.vault_support import unique

MAX_BODY_BYTES = 1 << 20  # the default
MARK = "s3cret-value-never-echoed"
JSON = ("Content-Type", "application/json")
KEY = ("X-API-Key", ALICE_KEY)
MCP_ACCEPT = ("Accept", "application/json, text/event-stream")


def over_limit() -> bytes:
    """Valid JSON, one byte per character, just over the limit."""
    head, tail = b'{"data": {"v": "' + MARK.encode(), b'"}}'
    return head + b"x" * (MAX_BODY_BYTES + 1 - len(head) - len(tail)) + tail


# (route, method): every route that reads a body, the MCP endpoint, and a GET (the fast read
# lane answers reads in front of FastAPI; the limit is in front of both).
BODY_ROUTES: list[tuple[str, bytes]] = [
    ("PUT", b"/secrets/big"),
    ("POST", b"/secrets/big:undelete"),
    ("POST", b"/transit/encrypt"),
    ("POST", b"/mcp"),
    ("GET", b"/secrets/big"),
]


def _oversized(kind: str) -> tuple[list[tuple[str, str]], bytes, bytes | None]:
    """(headers, body with Content-Length, raw bytes sent instead) for each way to send it."""
    body = over_limit()
    if kind == "declared":
        return [], body, None
    if kind == "declared-huge-nothing-sent":
        return [("Content-Length", str(10**12))], b"", b""
    if kind == "chunked":
        return [("Transfer-Encoding", "chunked")], b"", chunked(body)
    if kind == "chunked-small-pieces":
        return [("Transfer-Encoding", "chunked")], b"", chunked(body, 4096)
    raise AssertionError(kind)


OVERSIZED = ["declared", "declared-huge-nothing-sent", "chunked", "chunked-small-pieces"]
# A GET's streamed body is never read (the read is answered without it), so for a GET only a
# declared length can be over the limit.
OVERSIZED_CASES = [
    pytest.param(kind, method, route, id=f"{kind}-{method}{route.decode()}")
    for kind in OVERSIZED
    for method, route in BODY_ROUTES
    if not (method == "GET" and kind.startswith("chunked"))
]


@pytest.mark.parametrize(("kind", "method", "route"), OVERSIZED_CASES)
def test_oversized_body_is_413_and_never_reaches_vault(
    adv_bao: OpenBao, hs_sidecar: SidecarProcess, kind: str, method: str, route: bytes
) -> None:
    headers, body, raw = _oversized(kind)
    audit = Audit.mark(adv_bao)
    reply = send(
        hs_sidecar.port, method, route, [KEY, JSON, MCP_ACCEPT, *headers], body, raw_body=raw
    )
    assert_refused(reply.status, reply.headers.get("content-type", ""), reply.text, 413, MARK)
    audit.assert_nothing_reached_vault()


# Framing a proxy and the sidecar could read differently (request smuggling): the HTTP parser
# refuses them before any application code runs.
BAD_FRAMING: dict[str, list[tuple[str, str]]] = {
    "length-and-chunked": [("Content-Length", "5"), ("Transfer-Encoding", "chunked")],
    "negative-length": [("Content-Length", "-1")],
    "two-lengths": [("Content-Length", "2"), ("Content-Length", "20")],
}


@pytest.mark.parametrize("framing", sorted(BAD_FRAMING))
def test_ambiguous_framing_is_400_and_never_reaches_vault(
    adv_bao: OpenBao, hs_sidecar: SidecarProcess, framing: str
) -> None:
    audit = Audit.mark(adv_bao)
    body = chunked(b'{"data": {"v": "' + MARK.encode() + b'"}}')
    headers = [KEY, JSON, *BAD_FRAMING[framing]]
    reply = send(hs_sidecar.port, "PUT", b"/secrets/framing", headers, raw_body=body)
    assert reply.status == 400, reply.text
    assert reply.text == "Invalid HTTP request received."
    audit.assert_nothing_reached_vault()


WRITE = b'{"data": {"v": "' + MARK.encode() + b'"}}'
# id -> (Content-Type or None for none, extra headers, body). All are refused with 415.
WRONG_TYPES: dict[str, tuple[str | None, list[tuple[str, str]], bytes]] = {
    "text-plain": ("text/plain", [], WRITE),
    "form-urlencoded": ("application/x-www-form-urlencoded", [], b"data=" + MARK.encode()),
    "multipart": (
        "multipart/form-data; boundary=XyZ",
        [],
        b'--XyZ\r\nContent-Disposition: form-data; name="data"\r\n\r\n'
        + WRITE
        + b"\r\n--XyZ--\r\n",
    ),
    "xml": ("application/xml", [], b"<data><v>" + MARK.encode() + b"</v></data>"),
    "text-json": ("text/json", [], WRITE),
    "json-lookalike": ("application/jsonx", [], WRITE),
    "empty-type": ("", [], WRITE),
    "missing-type": (None, [], WRITE),
    "json-latin-1": (
        "application/json; charset=latin-1",
        [],
        '{"data": {"v": "caf\u00e9 '.encode("latin-1") + MARK.encode() + b'"}}',
    ),
    "json-utf-16": ("application/json; charset=utf-16", [], WRITE.decode().encode("utf-16")),
    "json-gzip": ("application/json", [("Content-Encoding", "gzip")], gzip.compress(WRITE)),
    "json-br-claimed": ("application/json", [("Content-Encoding", "br")], WRITE),
}
# Every route that takes a body, with a body that would be valid there as JSON.
BODY_OPERATIONS: list[tuple[str, bytes, bytes | None]] = [
    ("PUT", b"/secrets/typed", None),  # None: the corpus body itself
    ("POST", b"/secrets/typed:undelete", b'{"versions": [1]}'),
    ("POST", b"/secrets/typed:destroy", b'{"versions": [1]}'),
    ("POST", b"/transit/encrypt", b'{"key": "k", "plaintext": "aGk="}'),
    ("POST", b"/transit/decrypt", b'{"key": "k", "ciphertext": "vault:v1:aGk="}'),
]


@pytest.mark.parametrize("case", sorted(WRONG_TYPES))
def test_wrong_content_type_is_415_and_never_reaches_vault(
    adv_bao: OpenBao, hs_sidecar: SidecarProcess, case: str
) -> None:
    content_type, extra, corpus_body = WRONG_TYPES[case]
    typed = [("Content-Type", content_type)] if content_type is not None else []
    audit = Audit.mark(adv_bao)
    for method, route, own_body in BODY_OPERATIONS:
        body = corpus_body if own_body is None else own_body
        reply = send(hs_sidecar.port, method, route, [KEY, *typed, *extra], body)
        ctype = reply.headers.get("content-type", "")
        assert_refused(reply.status, ctype, reply.text, 415, MARK)
    audit.assert_nothing_reached_vault()


# id -> (body, status): JSON the sidecar must refuse itself rather than pass on to Vault.
BAD_JSON: dict[str, tuple[bytes, int]] = {
    "truncated": (b'{"data": {"v": "' + MARK.encode(), 422),
    "nan": (b'{"data": {"v": NaN, "m": "' + MARK.encode() + b'"}}', 422),
    "infinity": (b'{"data": {"v": Infinity, "m": "' + MARK.encode() + b'"}}', 422),
    "overflow-to-infinity": (b'{"data": {"v": 1e999, "m": "' + MARK.encode() + b'"}}', 422),
    "nested-100k": (b'{"data": {"v": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}", 400),
    "invalid-utf8": (b'{"data": {"v": "\xff' + MARK.encode() + b'"}}', 400),
    "top-level-array": (b'[{"data": {"v": "' + MARK.encode() + b'"}}]', 422),
    "data-not-object": (b'{"data": "' + MARK.encode() + b'"}', 422),
    "extra-field": (b'{"data": {}, "policy": "' + MARK.encode() + b'"}', 422),
    "cas-negative": (b'{"data": {"v": "' + MARK.encode() + b'"}, "cas": -1}', 422),
    "cas-string": (b'{"data": {"v": "x"}, "cas": "' + MARK.encode() + b'"}', 422),
}


@pytest.mark.parametrize("case", sorted(BAD_JSON))
def test_bad_json_is_refused_and_never_reaches_vault(
    adv_bao: OpenBao, hs_sidecar: SidecarProcess, case: str
) -> None:
    body, status = BAD_JSON[case]
    audit = Audit.mark(adv_bao)
    reply = send(hs_sidecar.port, "PUT", b"/secrets/bad-json", [KEY, JSON], body)
    assert_refused(reply.status, reply.headers.get("content-type", ""), reply.text, status, MARK)
    audit.assert_nothing_reached_vault()


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "application/merge-patch+json"],
)
def test_json_in_any_accepted_spelling_is_written(
    adv_bao: OpenBao, hs_sidecar: SidecarProcess, content_type: str
) -> None:
    """The control for the refusals above: the same write, labelled JSON, reaches Vault."""
    path = unique("typed")
    audit = Audit.mark(adv_bao)
    headers = [KEY, ("Content-Type", content_type)]
    reply = send(hs_sidecar.port, "PUT", f"/secrets/{path}".encode(), headers, WRITE)
    assert reply.status == 200, reply.text
    assert f"create secret/data/mcp/alice/{path}" in audit.requests()


# -- the same through MCP: arguments a tool's schema refuses --------------------------------

# id -> (tool, arguments): each carries MARK where a secret value would be.
BAD_ARGUMENTS: dict[str, tuple[str, dict[str, object]]] = {
    "data-a-string": ("write_secret", {"path": "mcp-args", "data": MARK}),
    "data-a-list": ("write_secret", {"path": "mcp-args", "data": [MARK]}),
    "extra-argument": ("write_secret", {"path": "mcp-args", "data": {}, "policy": MARK}),
    "cas-a-string": ("write_secret", {"path": "mcp-args", "data": {"v": MARK}, "cas": MARK}),
    "plaintext-not-base64": ("transit_encrypt", {"key": "k", "plaintext": MARK}),
    "ciphertext-not-vault": ("transit_decrypt", {"key": "k", "ciphertext": MARK}),
    "versions-strings": ("destroy_secret", {"path": "mcp-args", "versions": [MARK]}),
}


@pytest.mark.filterwarnings(IGNORE_DEPRECATION)
@pytest.mark.parametrize("case", sorted(BAD_ARGUMENTS))
async def test_bad_mcp_arguments_are_refused_unrepeated_and_never_reach_vault(
    adv_bao: OpenBao, hs_sidecar: SidecarProcess, case: str
) -> None:
    tool, arguments = BAD_ARGUMENTS[case]
    audit = Audit.mark(adv_bao)
    async with mcp_session(hs_sidecar.url, {"X-API-Key": ALICE_KEY}) as session:
        result = await session.call_tool(tool, arguments)
    assert result.isError, text_of(result)
    # Refused by the tool's input schema, or by the route it replays to (REST's 422).
    text = text_of(result)
    assert text.startswith("Input validation error") or "Status code: 422" in text, text
    assert MARK not in text_of(result)
    audit.assert_nothing_reached_vault()
