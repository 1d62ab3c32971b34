"""The official MCP client (`mcp` SDK, streamable HTTP) as the integration tests use it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client
from mcp.shared._httpx_utils import McpHttpClientFactory, create_mcp_http_client
from mcp.types import CallToolResult, TextContent

# A guard against a hung connection, not a performance assertion.
GUARD_SECONDS = 30
# `streamablehttp_client(headers=...)` is the documented way to send credentials; mcp 1.2x
# marks it deprecated in favour of `streamable_http_client(http_client=...)`.
IGNORE_DEPRECATION = "ignore:Use `streamable_http_client` instead:DeprecationWarning"


@asynccontextmanager
async def mcp_session(
    url: str,
    headers: dict[str, str],
    client_factory: McpHttpClientFactory = create_mcp_http_client,
) -> AsyncIterator[ClientSession]:
    """An initialised MCP session at `{url}/mcp` carrying `headers` on every HTTP request."""
    async with (
        asyncio.timeout(GUARD_SECONDS),
        streamablehttp_client(
            f"{url}/mcp", headers=headers, httpx_client_factory=client_factory
        ) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def connect_status(url: str, headers: dict[str, str]) -> int | None:
    """Open a session and call `whoami`; the HTTP status that stopped it (None: nothing did)."""
    try:
        async with mcp_session(url, headers) as session:
            await session.call_tool("whoami", {})
    except BaseException as exc:  # anyio wraps the HTTP error in an ExceptionGroup
        status = http_status_in(exc)
        if status is None:
            raise
        return status
    return None


def http_status_in(exc: BaseException) -> int | None:
    """The status of an httpx.HTTPStatusError anywhere in an exception (group) chain."""
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code
    children: list[BaseException] = []
    if isinstance(exc, BaseExceptionGroup):
        children.extend(exc.exceptions)
    children.extend(e for e in (exc.__cause__, exc.__context__) if e is not None)
    for child in children:
        status = http_status_in(child)
        if status is not None:
            return status
    return None


def text_of(result: CallToolResult) -> str:
    parts = [item.text for item in result.content if isinstance(item, TextContent)]
    assert parts, f"tool result has no text content: {result}"
    return "\n".join(parts)


def json_of(result: CallToolResult) -> Any:
    """The JSON body of a successful tool result."""
    assert not result.isError, text_of(result)
    return json.loads(text_of(result))
