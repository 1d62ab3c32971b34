"""Pure-ASGI middleware: request id, one access/audit line per request, body size limit.

Pure ASGI rather than BaseHTTPMiddleware because it sits on every request's hot path.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vault_mcp_sidecar.auth.principal import Principal
from vault_mcp_sidecar.logs import request_id_var

access_log = logging.getLogger("vault_mcp_sidecar.access")
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")
_QUIET_PATHS = {"/healthz"}
# Request ids need to be unique, not unguessable: a random per-process prefix and a counter
# cost nothing, where a fresh random id per request is an os.urandom syscall (~2% of a read).
_ID_PREFIX = os.urandom(8).hex()
_ID_COUNTER = itertools.count(1)


class BodyTooLarge(Exception):
    pass


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        if scope["path"].startswith("/mcp"):
            # fastapi-mcp forwards this header into each tool call's replayed request, so the
            # tool call's own access line carries the id of the MCP request that caused it.
            # Replace, not append: fastapi-mcp forwards the first one, which may be the
            # caller's invalid id rather than the one this request is logged under.
            headers = [(k, v) for k, v in scope["headers"] if k != b"x-request-id"]
            scope = {**scope, "headers": [*headers, (b"x-request-id", request_id.encode())]}
        token = request_id_var.set(request_id)
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
            _log_access(scope, status, started)
            request_id_var.reset(token)

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


def _log_access(scope: Scope, status: int, started: float) -> None:
    if scope["path"] in _QUIET_PATHS or not access_log.isEnabledFor(logging.INFO):
        return
    fields: dict[str, Any] = {
        "method": scope["method"],
        "path": scope["path"],  # a secret's path is a name, not a value
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
    }
    state = scope.get("state", {})
    route = scope.get("route")
    operation = getattr(route, "operation_id", None) or state.get("operation")
    if operation:
        fields["operation"] = operation
    principal = state.get("principal")
    if isinstance(principal, Principal):
        fields |= {"agent": principal.subject, "auth_mode": principal.mode.value}
        fields["principal"] = principal.identity
    access_log.info("request", extra=fields)
