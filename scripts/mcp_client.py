"""Talk to the sidecar's MCP endpoint with the official `mcp` client (streamable HTTP).

    source .demo/env
    .venv/bin/python scripts/mcp_client.py list
    .venv/bin/python scripts/mcp_client.py call read_secret '{"path": "demo/greeting"}'

Authenticates as demo.agent-api with the API key in DEMO_API_KEY. Self-contained (mcp + httpx
only), so it runs as a plain script as well as being imported by the demo's self-check.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

DEFAULT_URL = "http://127.0.0.1:8089/mcp"
TIMEOUT_SECONDS = 30.0


async def list_tools(url: str, headers: dict[str, str]) -> list[str]:
    """Names of the tools the MCP server offers."""
    async with _session(url, headers) as session:
        result = await session.list_tools()
    return [tool.name for tool in result.tools]


async def call_tool(url: str, headers: dict[str, str], name: str, arguments: dict[str, Any]) -> str:
    """Call one tool and return its text output; RuntimeError if the tool reports an error."""
    async with _session(url, headers) as session:
        result = await session.call_tool(name, arguments)
    text = "\n".join(getattr(item, "text", "") for item in result.content)
    if result.isError:
        raise RuntimeError(f"tool {name} failed: {text}")
    return text


@asynccontextmanager
async def _session(url: str, headers: dict[str, str]) -> AsyncIterator[ClientSession]:
    async with (
        httpx.AsyncClient(headers=headers, timeout=TIMEOUT_SECONDS) as http,
        streamable_http_client(url, http_client=http) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("MCP_URL", DEFAULT_URL))
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the tools")
    call = commands.add_parser("call", help="call a tool")
    call.add_argument("tool", help="tool name, e.g. read_secret")
    call.add_argument("arguments", nargs="?", default="{}", help="JSON object of arguments")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    api_key = os.environ.get("DEMO_API_KEY")
    if not api_key:
        print("mcp_client: DEMO_API_KEY is unset (run `source .demo/env`)", file=sys.stderr)
        return 2
    headers = {"X-API-Key": api_key}
    if args.command == "list":
        print("\n".join(asyncio.run(list_tools(args.url, headers))))
        return 0
    arguments = json.loads(args.arguments)
    print(asyncio.run(call_tool(args.url, headers, args.tool, arguments)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
