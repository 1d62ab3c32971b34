"""The official MCP client against the real sidecar at `/mcp` (streamable HTTP).

Every REST operation is a tool; each tool call is replayed in-process against the REST route,
so authentication, scopes, path checks and the rate limit must hold for tools exactly as they
do for REST. Real OpenBao, real sidecar process, the `mcp` SDK's own client.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest

from devkit.openbao import OpenBao
from devkit.sidecar import SidecarProcess
from tests.integration.conftest import API_KEYS, JWT_SECRET, SidecarFactory, sidecar_env
from tests.integration.mcp_helpers import (
    IGNORE_DEPRECATION,
    connect_status,
    json_of,
    mcp_session,
    text_of,
)
from tests.integration.vault_support import KEY_OF, unique

pytestmark = pytest.mark.filterwarnings(IGNORE_DEPRECATION)

ALICE_KEY = KEY_OF["alice"]
BOB_KEY = KEY_OF["bob"]
ALICE_READONLY_KEY = "alice-readonly-key-0123456789"
EXPECTED_TOOLS = {
    "write_secret",
    "read_secret",
    "delete_secret",
    "list_secrets",
    "undelete_secret",
    "destroy_secret",
    "transit_encrypt",
    "transit_decrypt",
    "whoami",
}


@pytest.fixture(scope="module")
def mcp_sidecar(openbao: OpenBao) -> Iterator[SidecarProcess]:
    keys: dict[str, Any] = {
        **API_KEYS,
        ALICE_READONLY_KEY: {"agent": "alice", "scopes": ["read"]},
    }
    env = sidecar_env(openbao, API_KEYS_JSON=json.dumps(keys))
    with SidecarProcess(env) as process:
        yield process


async def rest(
    method: str, url: str, key: str, json_body: Any = None, **params: str
) -> httpx.Response:
    """A plain REST call beside the MCP session, to check what the tool really did."""
    async with httpx.AsyncClient(headers={"X-API-Key": key}, timeout=10) as client:
        return await client.request(method, url, json=json_body, params=params or None)


async def test_list_tools_is_exactly_the_operations(mcp_sidecar: SidecarProcess) -> None:
    async with mcp_session(mcp_sidecar.url, {"X-API-Key": ALICE_KEY}) as session:
        tools = await session.list_tools()
    assert {tool.name for tool in tools.tools} == EXPECTED_TOOLS
    assert len(tools.tools) == len(EXPECTED_TOOLS)


async def test_write_read_round_trip(mcp_sidecar: SidecarProcess) -> None:
    path = unique("mcp/round")
    async with mcp_session(mcp_sidecar.url, {"X-API-Key": ALICE_KEY}) as session:
        written = json_of(
            await session.call_tool("write_secret", {"path": path, "data": {"token": "s3cr3t"}})
        )
        read = json_of(await session.call_tool("read_secret", {"path": path}))
        whoami = json_of(await session.call_tool("whoami", {}))
    assert written["version"] == 1
    assert read["data"] == {"token": "s3cr3t"}
    assert read["version"] == 1
    assert whoami["subject"] == "alice"
    # The same secret is visible over REST: the tool really wrote to alice's subtree.
    rest_read = await rest("GET", f"{mcp_sidecar.url}/secrets/{path}", ALICE_KEY)
    assert rest_read.status_code == 200
    assert rest_read.json()["data"] == {"token": "s3cr3t"}


async def test_list_secrets(mcp_sidecar: SidecarProcess) -> None:
    folder = unique("listing")
    async with mcp_session(mcp_sidecar.url, {"X-API-Key": ALICE_KEY}) as session:
        for name in ("one", "two", "sub/three"):
            args = {"path": f"{folder}/{name}", "data": {"v": name}}
            json_of(await session.call_tool("write_secret", args))
        listed = json_of(await session.call_tool("list_secrets", {"prefix": f"{folder}/"}))
    assert sorted(listed["keys"]) == ["one", "sub/", "two"]


async def test_transit_round_trip(mcp_sidecar: SidecarProcess) -> None:
    plaintext = base64.b64encode(b"card 4111 1111 1111 1111").decode()
    async with mcp_session(mcp_sidecar.url, {"X-API-Key": ALICE_KEY}) as session:
        encrypted = json_of(
            await session.call_tool("transit_encrypt", {"key": "payments", "plaintext": plaintext})
        )
        assert encrypted["ciphertext"].startswith("vault:v1:")
        decrypted = json_of(
            await session.call_tool(
                "transit_decrypt", {"key": "payments", "ciphertext": encrypted["ciphertext"]}
            )
        )
    assert decrypted["plaintext"] == plaintext


async def test_tool_call_without_scope_is_403(mcp_sidecar: SidecarProcess) -> None:
    path = unique("scoped")
    async with mcp_session(mcp_sidecar.url, {"X-API-Key": ALICE_READONLY_KEY}) as session:
        whoami = json_of(await session.call_tool("whoami", {}))
        result = await session.call_tool("write_secret", {"path": path, "data": {"x": "1"}})
    assert whoami["subject"] == "alice"
    assert whoami["scopes"] == ["read"]
    assert result.isError
    assert "403" in text_of(result)
    # Nothing was written.
    rest_read = await rest("GET", f"{mcp_sidecar.url}/secrets/{path}", ALICE_KEY)
    assert rest_read.status_code == 404


@pytest.mark.parametrize(
    "bad_path",
    [
        "decoy/../victim",
        "../victim",
        "/victim",
        "decoy//victim",
        "decoy/./victim",
        "decoy\\victim",
        "victim?version=1",
        "victim#frag",
        "%2e%2e/victim",
    ],
)
async def test_tool_call_with_bad_path_is_refused(
    mcp_sidecar: SidecarProcess, bad_path: str
) -> None:
    folder = unique("pathsafe")
    victim = f"{folder}/victim"
    url = f"{mcp_sidecar.url}/secrets/{victim}"
    put = await rest("PUT", url, ALICE_KEY, {"data": {"keep": "me"}})
    assert put.status_code == 200
    async with mcp_session(mcp_sidecar.url, {"X-API-Key": ALICE_KEY}) as session:
        write = await session.call_tool(
            "write_secret", {"path": f"{folder}/{bad_path}", "data": {"keep": "overwritten"}}
        )
        delete = await session.call_tool("delete_secret", {"path": f"{folder}/{bad_path}"})
    assert write.isError, text_of(write)
    assert delete.isError, text_of(delete)
    after = await rest("GET", url, ALICE_KEY)
    assert after.status_code == 200
    assert after.json()["data"] == {"keep": "me"}
    assert after.json()["version"] == 1
    listed = await rest("GET", f"{mcp_sidecar.url}/secrets", ALICE_KEY, prefix=f"{folder}/")
    assert listed.json()["keys"] == ["victim"]


async def test_list_with_bad_prefix_is_refused(mcp_sidecar: SidecarProcess) -> None:
    async with mcp_session(mcp_sidecar.url, {"X-API-Key": ALICE_KEY}) as session:
        for prefix in ("../", "../bob/", "/", "a//", "%2e%2e/"):
            result = await session.call_tool("list_secrets", {"prefix": prefix})
            assert result.isError, (prefix, text_of(result))
            # Refused by the tool's input schema (the documented prefix pattern) or the route.
            text = text_of(result)
            assert "400" in text or text.startswith("Input validation error"), text


async def test_agents_are_isolated_through_mcp(mcp_sidecar: SidecarProcess) -> None:
    path = unique("private")
    async with mcp_session(mcp_sidecar.url, {"X-API-Key": ALICE_KEY}) as alice:
        json_of(await alice.call_tool("write_secret", {"path": path, "data": {"owner": "alice"}}))
    async with mcp_session(mcp_sidecar.url, {"X-API-Key": BOB_KEY}) as bob:
        result = await bob.call_tool("read_secret", {"path": path})
    assert result.isError
    assert "404" in text_of(result)
    assert "alice" not in text_of(result)


async def test_jwt_bearer_works_through_mcp(mcp_sidecar: SidecarProcess) -> None:
    now = int(time.time())
    token = jwt.encode(
        {"sub": "bob", "exp": now + 300, "scopes": ["read", "write"]},
        JWT_SECRET,
        algorithm="HS256",
    )
    path = unique("jwt")
    async with mcp_session(mcp_sidecar.url, {"Authorization": f"Bearer {token}"}) as session:
        whoami = json_of(await session.call_tool("whoami", {}))
        json_of(await session.call_tool("write_secret", {"path": path, "data": {"via": "jwt"}}))
        read = json_of(await session.call_tool("read_secret", {"path": path}))
    assert whoami["subject"] == "bob"
    assert whoami["auth_mode"] == "jwt"
    assert whoami["scopes"] == ["read", "write"]
    assert read["data"] == {"via": "jwt"}
    rest_read = await rest("GET", f"{mcp_sidecar.url}/secrets/{path}", BOB_KEY)
    assert rest_read.json()["data"] == {"via": "jwt"}


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-credential"),
        pytest.param({"X-API-Key": "wrong-key-0123456789abcdef"}, id="bad-api-key"),
        pytest.param({"Authorization": "Bearer not.a.jwt"}, id="bad-bearer"),
    ],
)
async def test_connection_without_valid_credential_is_refused(
    mcp_sidecar: SidecarProcess, headers: dict[str, str]
) -> None:
    assert await connect_status(mcp_sidecar.url, headers) == 401


async def test_rate_limit_applies_to_tool_calls(start_sidecar: SidecarFactory) -> None:
    limited = start_sidecar(
        RATE_LIMIT_ENABLED="true", RATE_LIMIT_REQUESTS="3", RATE_LIMIT_WINDOW_SECONDS="3600"
    )
    path = unique("limited")
    async with mcp_session(limited.url, {"X-API-Key": ALICE_KEY}) as session:
        first = await session.call_tool("write_secret", {"path": path, "data": {"n": "1"}})
        results = [await session.call_tool("read_secret", {"path": path}) for _ in range(3)]
    assert not first.isError, text_of(first)
    assert [r.isError for r in results] == [False, False, True]
    assert "429" in text_of(results[-1])
    # The limit is per agent and shared with REST: alice is limited there too, bob is not.
    rest_alice = await rest("GET", f"{limited.url}/secrets/{path}", ALICE_KEY)
    assert rest_alice.status_code == 429
    assert "Retry-After" in rest_alice.headers
    rest_bob = await rest("GET", f"{limited.url}/secrets/{path}", BOB_KEY)
    assert rest_bob.status_code == 404
