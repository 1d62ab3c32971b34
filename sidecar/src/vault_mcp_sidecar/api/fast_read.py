"""`GET /secrets/{path}` served in front of FastAPI: the hot path of every agent.

Measured with the same wrk load and OpenBao (docs/BENCHMARKS.md): through FastAPI's routing,
dependency solving and response validation a read costs the sidecar ~320 µs of CPU, of which
the Vault call itself is ~105 µs; answered here, ~150 µs — the difference between 0.3x and
0.5x of direct OpenBao throughput on a 2-core machine.

Nothing is implemented twice: authentication, scope and rate-limit admission, path checks, the
read itself and the error responses are the very functions the FastAPI route uses. Requests
this lane does not fully understand — percent-encoded or invalid paths, any query other than
`version=<n>`, in-process MCP replays — go on to FastAPI unchanged, so their answers
(validation errors included) have exactly one source.
"""

from __future__ import annotations

import json
import re

from fastapi import Request
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from vault_mcp_sidecar.api.errors import handler_for
from vault_mcp_sidecar.api.routes.secrets import read
from vault_mcp_sidecar.auth.trusted_proxies import IN_PROCESS_PEER
from vault_mcp_sidecar.operations import required_scope
from vault_mcp_sidecar.paths import PathError, validate_path
from vault_mcp_sidecar.runtime import Runtime

PREFIX = "/secrets/"
_VERSION_QUERY = re.compile(rb"version=([1-9][0-9]{0,8})")
_READ_SCOPE = required_scope("read_secret")


class FastReadMiddleware:
    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = _parse(scope)
        if request is None:
            await self.app(scope, receive, send)
            return
        path, version = request
        try:
            caller = await self.runtime.authenticate(Headers(scope=scope))
            _state(scope)["principal"] = caller
            self.runtime.admit(caller, _READ_SCOPE)
            body = await read(self.runtime, caller, path, version)
        except Exception as exc:
            handler = handler_for(exc)
            if handler is None:
                raise
            await handler(Request(scope), exc)(scope, receive, send)
            return
        await _send_json(send, body)


def _parse(scope: Scope) -> tuple[str, int | None] | None:
    """(path, version) of a plain read this lane may answer; None to leave it to FastAPI."""
    if scope["type"] != "http" or scope["method"] != "GET":
        return None
    path: str = scope["path"]
    if not path.startswith(PREFIX) or b"%" in scope.get("raw_path", b"%"):
        return None
    client = scope.get("client")
    if client is not None and client[0] == IN_PROCESS_PEER:
        return None
    version = _version(scope.get("query_string", b""))
    if version is False:
        return None
    try:
        relative = validate_path(path[len(PREFIX) :])
    except PathError:
        return None
    _state(scope)["operation"] = "read_secret"
    return relative, version


def _version(query: bytes) -> int | bool | None:
    if not query:
        return None
    match = _VERSION_QUERY.fullmatch(query)
    return int(match.group(1)) if match else False


def _state(scope: Scope) -> dict[str, object]:
    state: dict[str, object] = scope.setdefault("state", {})
    return state


async def _send_json(send: Send, body: dict[str, object]) -> None:
    payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
