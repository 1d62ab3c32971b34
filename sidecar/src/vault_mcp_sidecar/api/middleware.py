"""Pure-ASGI middleware: request id, one audit line and the metrics per call, body size limit.

Pure ASGI rather than BaseHTTPMiddleware because it sits on every request's hot path. What
the audit line holds, and why an MCP tool call gets exactly one, is in `audit`.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import time
from collections.abc import Awaitable, Callable

from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vault_mcp_sidecar.audit import Call, Channel, emit, emit_transport, tool_call_var
from vault_mcp_sidecar.auth.principal import Principal
from vault_mcp_sidecar.auth.trusted_proxies import IN_PROCESS_PEER
from vault_mcp_sidecar.logs import CallNotes, call_notes_var, request_id_var
from vault_mcp_sidecar.metrics import SidecarMetrics
from vault_mcp_sidecar.paths import PathError, validate_path

_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")
# Probes and scrapes: neither an audit line nor a request metric (a scrape every few seconds
# would drown the calls, and make counters move by themselves).
_QUIET_PATHS = {"/healthz", "/metrics"}
_SECRETS = "/secrets/"
_SECRET_OPERATIONS = {
    "write_secret": "",
    "read_secret": "",
    "delete_secret": "",
    "undelete_secret": ":undelete",
    "destroy_secret": ":destroy",
}
# Request ids need to be unique, not unguessable: a random per-process prefix and a counter
# cost nothing, where a fresh random id per request is an os.urandom syscall (~2% of a read).
_ID_PREFIX = os.urandom(8).hex()
_ID_COUNTER = itertools.count(1)


class BodyTooLarge(Exception):
    pass


class RequestContextMiddleware:
    def __init__(
        self, app: ASGIApp, max_body_bytes: int, metrics: SidecarMetrics | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        if scope["path"].startswith("/mcp"):
            # fastapi-mcp forwards this header into each tool call's replayed request, so the
            # tool call's own audit line carries the id of the MCP request that caused it.
            # Replace, not append: fastapi-mcp forwards the first one, which may be the
            # caller's invalid id rather than the one this request is logged under.
            headers = [(k, v) for k, v in scope["headers"] if k != b"x-request-id"]
            scope = {**scope, "headers": [*headers, (b"x-request-id", request_id.encode())]}
        scope.setdefault("state", {})  # shared by any copy of the scope made further in
        token = request_id_var.set(request_id)
        notes = CallNotes()
        notes_token = call_notes_var.set(notes)
        started = time.perf_counter()
        status = 500
        response_started = rejected = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if rejected:
                return  # we already answered 413; drop the app's own reply to the cut-off body
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        async def too_large() -> None:
            # Answer 413 here, from the receive wrapper: the app may swallow BodyTooLarge (FastAPI
            # turns any body-reading error into a 400), so its reply must not be the one sent.
            nonlocal rejected
            if not response_started:
                await _reject(send_with_id, 413, "request body too large")
                rejected = True

        try:
            if _declared_length(scope) > self.max_body_bytes:
                await _reject(send_with_id, 413, "request body too large")
                return
            await self.app(scope, self._limited(receive, too_large), send_with_id)
        except BodyTooLarge:
            await too_large()
        finally:
            self._account(scope, status, time.perf_counter() - started, notes)
            call_notes_var.reset(notes_token)
            request_id_var.reset(token)

    def _account(self, scope: Scope, status: int, seconds: float, notes: CallNotes) -> None:
        path: str = scope["path"]
        if path in _QUIET_PATHS:
            return
        state = scope["state"]
        principal = state.get("principal")
        if not isinstance(principal, Principal):
            principal = None
        if path == "/mcp" or path.startswith("/mcp/"):
            emit_transport(scope["method"], status, seconds, principal, self.metrics)
            return
        operation = _operation(scope)
        call = Call(
            channel=_channel(scope),
            operation=operation,
            method=scope["method"],
            status=status,
            seconds=seconds,
            principal=principal,
            path=_secret_path(scope, operation),
            transit_key=notes.transit_key,
            vault_request_ids=tuple(notes.vault_request_ids),
        )
        emit(call, self.metrics)

    def _limited(self, receive: Receive, too_large: Callable[[], Awaitable[None]]) -> Receive:
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:
                await too_large()
                raise BodyTooLarge
            return message

        return limited


class OperationNoteMiddleware:
    """Innermost: notes the operation id of the route FastAPI picked in `scope["state"]`.

    Routing records the route in the scope it is given, and a middleware in between may have
    passed on a copy (TrustedProxyMiddleware does, to strip headers); the state dict is the
    one thing every copy shares with the scope RequestContextMiddleware holds."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            operation_id = getattr(scope.get("route"), "operation_id", None)
            if operation_id is not None and "state" in scope:
                scope["state"]["operation"] = operation_id


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id" and _REQUEST_ID.fullmatch(value):
            return bytes(value).decode()
    return f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"  # 32 hex digits, like a uuid4().hex


def _declared_length(scope: Scope) -> int:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


async def _reject(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _operation(scope: Scope) -> str | None:
    """The operation id of the route that took the request (noted by OperationNoteMiddleware
    or the fast read lane), or None when none did."""
    operation = scope["state"].get("operation")
    if operation is None:  # an app without OperationNoteMiddleware
        operation = getattr(scope.get("route"), "operation_id", None)
    return operation if isinstance(operation, str) else None


def _channel(scope: Scope) -> Channel:
    """MCP for a tool call's in-process replay (only fastapi-mcp's transport reports that
    peer; no network client can), REST otherwise. The replay marks its tool call audited."""
    client = scope.get("client")
    if client is None or client[0] != IN_PROCESS_PEER:
        return Channel.REST
    tool_call = tool_call_var.get()
    if tool_call is not None:
        tool_call.audited = True
    return Channel.MCP


def _secret_path(scope: Scope, operation: str | None) -> str | None:
    """The secret's relative path (or the list prefix) — a name, not a value — if it is a
    valid one; an invalid path was refused and is not repeated into the log."""
    if operation == "list_secrets":
        candidate = QueryParams(scope.get("query_string", b"")).get("prefix", "")
        allow_empty = True
    elif operation in _SECRET_OPERATIONS and scope["path"].startswith(_SECRETS):
        if b"%" in scope.get("raw_path", b"%"):
            return None
        candidate = scope["path"][len(_SECRETS) :].removesuffix(_SECRET_OPERATIONS[operation])
        allow_empty = False
    else:
        return None
    try:
        return validate_path(candidate, allow_empty=allow_empty)
    except PathError:
        return None
