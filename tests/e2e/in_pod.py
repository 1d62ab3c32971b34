"""Run inside an agent pod by the e2e test: `kubectl exec -i ... -- python - MODE ARGS < in_pod.py`.

Standard library and the `mcp` client only (both in the sidecar image, which the test's app
containers use). Prints one JSON line.

    rest METHOD PATH [BODY]    the sidecar's REST API with the app's API key
    mcp TOOL [ARGS]            one MCP tool call over streamable HTTP with the app's API key
    vault-read KV_DATA_PATH    (in the sidecar container) log in with the mounted AppRole and
                               read that path from Vault directly: what the agent's own Vault
                               identity may do, whatever the sidecar would allow
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

SIDECAR = "http://127.0.0.1:8089"


def http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - fixed http URLs
        url,
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
            return {"status": response.status, "body": json.loads(response.read() or b"null")}
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return {"status": exc.code, "body": json.loads(raw) if raw.startswith(b"{") else None}
    except OSError as exc:
        return {"status": None, "error": type(exc).__name__}


def api_key() -> dict[str, str]:
    return {"X-API-Key": os.environ.get("VAULT_MCP_API_KEY", "")}


def rest(method: str, path: str, body: str | None = None) -> Any:
    return http(method, SIDECAR + path, None if body is None else json.loads(body), api_key())


async def mcp_call(tool: str, arguments: dict[str, Any]) -> Any:
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client
    from mcp.types import TextContent

    async with (
        asyncio.timeout(30),
        streamablehttp_client(f"{SIDECAR}/mcp", headers=api_key()) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        tools = [tool.name for tool in (await session.list_tools()).tools]
        result = await session.call_tool(tool, arguments)
        text = "\n".join(c.text for c in result.content if isinstance(c, TextContent))
        return {"tools": tools, "isError": result.isError, "text": text}


def mcp(tool: str, arguments: str = "{}") -> Any:
    try:
        return asyncio.run(mcp_call(tool, json.loads(arguments)))
    except BaseException as exc:  # anyio wraps HTTP errors in exception groups
        return {"error": repr(exc)[:500]}


def vault_read(path: str) -> Any:
    vault = os.environ["VAULT_ADDR"]
    role_id = Path("/vault/approle/role_id").read_text().strip()
    secret_id = Path("/vault/approle/secret_id").read_text().strip()
    login = http(
        "POST", f"{vault}/v1/auth/approle/login", {"role_id": role_id, "secret_id": secret_id}
    )
    if login["status"] != 200:
        return {"login": login["status"]}
    token = login["body"]["auth"]["client_token"]
    read = http("GET", f"{vault}/v1/{path}", headers={"X-Vault-Token": token})
    return {"login": 200, "read": read["status"]}


def main(argv: list[str]) -> None:
    modes: dict[str, Callable[..., Any]] = {"rest": rest, "mcp": mcp, "vault-read": vault_read}
    print(json.dumps(modes[argv[0]](*argv[1:])))


if __name__ == "__main__":
    main(sys.argv[1:])
