"""One audit line per call — a REST request or an MCP tool call — and its metrics, in one place.

The line says who (agent, principal, auth mode), what (channel, route or tool, the secret's
path or the Transit key's name), how it ended (status and a word) and which Vault requests it
caused (their `request_id`s, to find them in Vault's own audit log). It never holds a value:
no secret data, plaintext, ciphertext, credential, key or token is ever passed in here.

An MCP tool call is replayed by fastapi-mcp as an in-process HTTP request; that replay's line
is the tool call's audit line (`channel: mcp`, `tool`). The HTTP requests to `/mcp` itself
carry sessions and JSON-RPC messages, not operations: they get a plain access line
(`vault_mcp_sidecar.access`, "mcp transport"), never an audit line, so each tool call is
audited exactly once.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from vault_mcp_sidecar.auth.principal import Principal
from vault_mcp_sidecar.metrics import SidecarMetrics

audit_log = logging.getLogger("vault_mcp_sidecar.audit")
access_log = logging.getLogger("vault_mcp_sidecar.access")

UNMATCHED = "unmatched"  # route label of a request no route took (404, 405)
UNKNOWN_TOOL = "unknown"  # tool label of a call to a tool that does not exist
NO_METHOD = "-"  # method label of a tool call refused before any HTTP request was made

_OUTCOMES = {
    401: "denied",
    403: "denied",
    404: "not_found",
    409: "conflict",
    429: "rate_limited",
    503: "unavailable",
}


class Channel(StrEnum):
    REST = "rest"
    MCP = "mcp"


def outcome_of(status: int) -> str:
    """The audit line's one word for a status: ok, denied, not_found, conflict, invalid,
    rate_limited, unavailable or error."""
    if status < 400:
        return "ok"
    return _OUTCOMES.get(status) or ("invalid" if status < 500 else "error")


@dataclass(slots=True)  # not frozen: a frozen __init__ costs twice as much, per request
class Call:
    """What one call was and how it ended: names and ids only."""

    channel: Channel
    operation: str | None  # the route's operation id (= MCP tool name); None: no route
    method: str
    status: int
    seconds: float
    principal: Principal | None
    path: str | None = None  # a secret's relative path (or a list prefix), already validated
    transit_key: str | None = None  # the caller's Transit key name, already validated
    vault_request_ids: tuple[str, ...] = ()


@dataclass(slots=True)
class ToolCall:
    """An MCP tool call in progress; its replayed request marks it audited."""

    tool: str  # a tool that exists, or UNKNOWN_TOOL: never unchecked caller input
    audited: bool = False


# Set around each MCP tool call. fastapi-mcp replays the call in the same task, so the replay's
# middleware sees it: that is how a request knows it is a tool call, and which one.
tool_call_var: ContextVar[ToolCall | None] = ContextVar("tool_call", default=None)


def emit(call: Call, metrics: SidecarMetrics | None) -> None:
    """The call's audit line and its request metrics, from the same labels."""
    if metrics is not None:
        agent = call.principal.subject if call.principal is not None else ""
        route = call.operation or (UNKNOWN_TOOL if call.channel is Channel.MCP else UNMATCHED)
        metrics.request(call.channel, route, call.method, call.status, agent, call.seconds)
    if audit_log.isEnabledFor(logging.INFO):
        audit_log.info("audit", extra=audit_fields(call))


def audit_fields(call: Call) -> dict[str, Any]:
    """The audit line's fields (the formatter adds ts, level, logger, msg and request_id)."""
    fields: dict[str, Any] = {"channel": call.channel.value}
    if call.channel is Channel.MCP:
        fields["tool"] = call.operation or UNKNOWN_TOOL
    elif call.operation is not None:
        fields["route"] = call.operation
    fields["method"] = call.method
    if call.principal is not None:
        fields["agent"] = call.principal.subject
        fields["principal"] = call.principal.identity
        fields["auth_mode"] = call.principal.mode.value
    if call.path is not None:
        fields["path"] = call.path
    if call.transit_key is not None:
        fields["transit_key"] = call.transit_key
    fields["status"] = call.status
    fields["outcome"] = outcome_of(call.status)
    fields["vault_request_ids"] = list(call.vault_request_ids)
    fields["duration_ms"] = round(call.seconds * 1000, 2)
    return fields


def emit_transport(
    method: str,
    status: int,
    seconds: float,
    principal: Principal | None,
    metrics: SidecarMetrics | None,
) -> None:
    """An HTTP request to `/mcp` itself: counted and logged, but not an audited call."""
    if metrics is not None:
        metrics.transport(method, status)
    if access_log.isEnabledFor(logging.INFO):
        fields: dict[str, Any] = {"method": method, "status": status}
        if principal is not None:
            fields["agent"] = principal.subject
        fields["duration_ms"] = round(seconds * 1000, 2)
        access_log.info("mcp transport", extra=fields)
