"""MCP over streamable HTTP at `/mcp`, by fastapi-mcp: every REST operation is a tool.

All MCP wiring lives here so the library (0.4.0 is its last release, pinned with mcp<2) can
be swapped without touching the routes. fastapi-mcp replays each tool call in-process against
the app, forwarding only the allowlisted headers below, so the route's own authentication,
scope check and rate limit run for the tool call exactly as for the REST call — and its audit
line is written by the same middleware, marked `channel: mcp` (see `audit`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import jsonschema
from fastapi import Depends, FastAPI
from fastapi_mcp import AuthConfig, FastApiMCP
from mcp import types

from vault_mcp_sidecar.api.deps import authenticate
from vault_mcp_sidecar.audit import (
    NO_METHOD,
    UNKNOWN_TOOL,
    Call,
    Channel,
    ToolCall,
    emit,
    tool_call_var,
)
from vault_mcp_sidecar.auth.principal import Principal
from vault_mcp_sidecar.auth.trusted_proxies import IN_PROCESS_PEER
from vault_mcp_sidecar.config import Settings
from vault_mcp_sidecar.logs import request_id_var
from vault_mcp_sidecar.metrics import SidecarMetrics
from vault_mcp_sidecar.operations import OPERATION_SCOPES, visible_operations
from vault_mcp_sidecar.paths import validate_path

# Every operation is a tool; `mount_mcp` lists only those AGENT_SCOPES allows.
TOOLS = list(OPERATION_SCOPES)


def forwarded_headers(settings: Settings) -> list[str]:
    """Credential headers a tool call carries into the replayed REST request."""
    names = ["authorization", "x-api-key", "x-request-id"]
    names += [settings.mtls_identity_header, settings.mtls_verify_header, settings.mtls_xfcc_header]
    return [name.lower() for name in names if name]


class _ArgumentCheckingMCP(FastApiMCP):  # type: ignore[misc]  # fastapi-mcp ships no types
    """Tool arguments checked before the libraries use them, in two places.

    Paths: fastapi-mcp pastes path arguments into the replay URL unescaped, and httpx then
    resolves `..`/`.` segments and cuts at `?`/`#` — so `x/../victim` reached the route as
    `victim` and overwrote it. Validate them before the URL is built, as REST does.
    Schemas: see `_check_arguments_without_echo`."""

    async def _execute_api_tool(
        self,
        client: httpx.AsyncClient,
        tool_name: str,
        arguments: dict[str, Any],
        operation_map: dict[str, dict[str, Any]],
        http_request_info: Any = None,
    ) -> Any:
        for param in operation_map.get(tool_name, {}).get("parameters", []):
            if param.get("in") == "path" and param.get("name") in (arguments or {}):
                validate_path(str(arguments[param["name"]]))  # PathError -> tool error result
        return await super()._execute_api_tool(
            client, tool_name, arguments, operation_map, http_request_info
        )

    def setup_server(self) -> None:
        super().setup_server()
        _check_arguments_without_echo(self.server, self.tools)


def _check_arguments_without_echo(server: Any, tools: list[types.Tool]) -> None:
    """The MCP SDK checks tool arguments against the tool's input schema, and its error text
    quotes the offending value — which can be the very secret being written (`data` sent as a
    string). Check first, as strictly, and say where and which rule failed, never the value
    (as the REST 422 does)."""
    validators = {
        tool.name: jsonschema.validators.validator_for(tool.inputSchema)(tool.inputSchema)
        for tool in tools
    }
    handlers: dict[type, Any] = server.request_handlers
    call_tool = handlers[types.CallToolRequest]

    async def checked(request: types.CallToolRequest) -> types.ServerResult:
        validator = validators.get(request.params.name)
        if validator is not None:
            error = jsonschema.exceptions.best_match(
                validator.iter_errors(request.params.arguments or {})
            )
            if error is not None:
                text = f"Input validation error: {_rule_broken(error)}"
                content: list[types.ContentBlock] = [types.TextContent(type="text", text=text)]
                return types.ServerResult(types.CallToolResult(content=content, isError=True))
        result: types.ServerResult = await call_tool(request)
        return result

    handlers[types.CallToolRequest] = checked


def _rule_broken(error: jsonschema.ValidationError) -> str:
    """Where and which schema rule, with the schema's own value (a pattern, a type, a bound):
    all of it from the tool's schema, nothing from the arguments."""
    where = "/".join(str(part) for part in error.absolute_path) or "arguments"
    rule = json.dumps(error.validator_value)
    if len(rule) > 200:
        rule = rule[:200] + "..."
    return f"{where} does not satisfy {error.validator} {rule}"


def mount_mcp(
    app: FastAPI, settings: Settings, metrics: SidecarMetrics | None = None
) -> FastApiMCP:
    # The replay transport reports IN_PROCESS_PEER as the client, so the trusted-proxy
    # middleware passes the (already cleaned) identity headers through unchanged.
    replay = httpx.AsyncClient(
        transport=httpx.ASGITransport(
            app=app, raise_app_exceptions=False, client=(IN_PROCESS_PEER, 0)
        ),
        base_url="http://sidecar.internal",
        timeout=30.0,
    )
    mcp = _ArgumentCheckingMCP(
        app,
        name="vault-mcp-bridge",
        description="Agent-scoped secrets (KV v2) and encryption (Transit) in Vault/OpenBao",
        include_operations=visible_operations(settings.agent_scope_set),
        headers=forwarded_headers(settings),
        http_client=replay,
        auth_config=AuthConfig(dependencies=[Depends(authenticate)]),
    )
    _audit_tool_calls(mcp, metrics)
    mcp.mount_http(mount_path="/mcp")
    return mcp


CallToolHandler = Callable[[types.CallToolRequest], Awaitable[types.ServerResult]]


def _audit_tool_calls(mcp: FastApiMCP, metrics: SidecarMetrics | None) -> None:
    """Wrap the MCP server's tools/call handler (see `_AuditedToolCalls`)."""
    handlers: dict[type, CallToolHandler] = mcp.server.request_handlers
    handlers[types.CallToolRequest] = _AuditedToolCalls(
        mcp.server, handlers[types.CallToolRequest], frozenset(mcp.operation_map), metrics
    )


class _AuditedToolCalls:
    """Every tool call gets exactly one audit line. Its replayed request writes it; a call
    refused before any replay (unknown tool, arguments failing the tool's schema, an unsafe
    path) gets it here, with the 404 or 400 the REST route would have answered.

    The call also runs under the id of the MCP request that carried it (our middleware put it
    in that request's headers), so every line logged on its behalf carries that id."""

    def __init__(
        self,
        server: Any,
        call_tool: CallToolHandler,
        tools: frozenset[str],
        metrics: SidecarMetrics | None,
    ) -> None:
        self.server = server
        self.call_tool = call_tool
        self.tools = tools
        self.metrics = metrics

    async def __call__(self, request: types.CallToolRequest) -> types.ServerResult:
        name = request.params.name
        tool_call = ToolCall(name if name in self.tools else UNKNOWN_TOOL)
        outer = self._outer_request()
        tool_token = tool_call_var.set(tool_call)
        id_token = request_id_var.set(outer.headers.get("x-request-id") if outer else None)
        started = time.perf_counter()
        status = 500  # the call died (cancelled, crashed) before a replay answered
        try:
            result = await self.call_tool(request)
            status = 404 if tool_call.tool == UNKNOWN_TOOL else 400
            return result
        finally:
            if not tool_call.audited:
                seconds = time.perf_counter() - started
                emit(_refused(tool_call.tool, status, seconds, outer), self.metrics)
            request_id_var.reset(id_token)
            tool_call_var.reset(tool_token)

    def _outer_request(self) -> Any:
        """The HTTP request to /mcp that carried this call (None outside one)."""
        try:
            return self.server.request_context.request
        except LookupError:
            return None


def _refused(tool: str, status: int, seconds: float, outer: Any) -> Call:
    principal = getattr(getattr(outer, "state", None), "principal", None)
    return Call(
        channel=Channel.MCP,
        operation=None if tool == UNKNOWN_TOOL else tool,
        method=NO_METHOD,
        status=status,
        seconds=seconds,
        principal=principal if isinstance(principal, Principal) else None,
    )
