"""The demo's self-check: real calls through the running sidecar, one result line each.

Every agent writes and reads a secret with its own kind of credential, the API-key agent lists
and round-trips Transit, a missing credential and an under-scoped token are refused, and the
official MCP client lists the tools and calls one. Each check returns a CheckResult rather
than raising, so the user sees every line before the demo decides to stop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from scripts.demo_text import (
    LIST_PREFIX,
    PLAINTEXT_B64,
    SECRET_PATH,
    TRANSIT_KEY,
    CheckResult,
    mtls_headers,
    sample_secret,
)
from scripts.mcp_client import call_tool, list_tools
from scripts.mint_jwt import mint_jwt
from vault_mcp_sidecar.mcp_server import TOOLS

TIMEOUT_SECONDS = 15.0


class CheckFailed(Exception):
    """A check saw something other than what a working demo returns."""


@dataclass(frozen=True)
class Credentials:
    api_key: str
    jwt_secret: str
    jwt_issuer: str
    jwt_audience: str

    def jwt(self, subject: str, scopes: list[str] | None = None) -> str:
        return mint_jwt(
            self.jwt_secret,
            subject=subject,
            issuer=self.jwt_issuer,
            audience=self.jwt_audience,
            scopes=scopes,
            ttl_seconds=300,
        )


def run_checks(url: str, creds: Credentials, agents: tuple[str, str, str]) -> list[CheckResult]:
    api, jwt, mtls = agents
    api_auth = {"X-API-Key": creds.api_key}
    jwt_auth = {"Authorization": f"Bearer {creds.jwt(jwt)}"}
    with httpx.Client(base_url=url, timeout=TIMEOUT_SECONDS) as client:
        results = [
            _attempt(f"{api} (API key)", lambda: _kv(client, api, "api_key", api_auth)),
            _attempt(f"{api} (API key)", lambda: _list_and_transit(client, api_auth)),
            _attempt(f"{jwt} (JWT)", lambda: _kv(client, jwt, "jwt", jwt_auth)),
            _attempt(
                f"{mtls} (mTLS headers)", lambda: _kv(client, mtls, "mtls", mtls_headers(mtls))
            ),
            _attempt("refusals", lambda: _refusals(client, creds.jwt(jwt, ["read"]))),
        ]
    results.append(_attempt("MCP (streamable HTTP)", lambda: _mcp(f"{url}/mcp", api_auth, api)))
    return results


def _attempt(name: str, check: Callable[[], str]) -> CheckResult:
    try:
        return CheckResult(name, True, check())
    except CheckFailed as exc:
        return CheckResult(name, False, str(exc))
    except Exception as exc:  # any failure is a red line, not a traceback
        return CheckResult(name, False, f"{type(exc).__name__}: {exc}")


def _expect(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    if response.status_code != status:
        detail = response.text[:200]
        raise CheckFailed(
            f"{response.request.method} {response.request.url.path} -> "
            f"{response.status_code} (expected {status}): {detail}"
        )
    body: dict[str, Any] = response.json()
    return body


def _kv(client: httpx.Client, agent: str, mode: str, auth: dict[str, str]) -> str:
    who = _expect(client.get("/whoami", headers=auth))
    if (who["subject"], who["auth_mode"]) != (agent, mode):
        raise CheckFailed(f"whoami says {who['subject']} via {who['auth_mode']}")
    data = sample_secret(agent)
    path = f"/secrets/{SECRET_PATH}"
    version = _expect(client.put(path, json={"data": data}, headers=auth))["version"]
    read = _expect(client.get(path, headers=auth))
    if read["data"] != data:
        raise CheckFailed(f"read back something else than written at {SECRET_PATH}")
    return f"whoami, write v{version} + read {SECRET_PATH}"


def _list_and_transit(client: httpx.Client, auth: dict[str, str]) -> str:
    keys = _expect(client.get("/secrets", params={"prefix": LIST_PREFIX}, headers=auth))["keys"]
    if SECRET_PATH.removeprefix(LIST_PREFIX) not in keys:
        raise CheckFailed(f"list {LIST_PREFIX} returned {keys}")
    body = {"key": TRANSIT_KEY, "plaintext": PLAINTEXT_B64}
    ciphertext = _expect(client.post("/transit/encrypt", json=body, headers=auth))["ciphertext"]
    body = {"key": TRANSIT_KEY, "ciphertext": ciphertext}
    plaintext = _expect(client.post("/transit/decrypt", json=body, headers=auth))["plaintext"]
    if plaintext != PLAINTEXT_B64:
        raise CheckFailed("transit decrypt did not return the plaintext")
    return f"list {LIST_PREFIX}, transit encrypt + decrypt"


def _refusals(client: httpx.Client, read_only_jwt: str) -> str:
    _expect(client.get("/whoami"), 401)
    auth = {"Authorization": f"Bearer {read_only_jwt}"}
    _expect(client.put(f"/secrets/{SECRET_PATH}", json={"data": {"x": 1}}, headers=auth), 403)
    return "no credential -> 401, read-only JWT writing -> 403"


def _mcp(url: str, auth: dict[str, str], agent: str) -> str:
    tools = asyncio.run(list_tools(url, auth))
    missing = sorted(set(TOOLS) - set(tools))
    if missing:
        raise CheckFailed(f"tools missing: {', '.join(missing)}")
    text = asyncio.run(call_tool(url, auth, "read_secret", {"path": SECRET_PATH}))
    if sample_secret(agent)["message"] not in text:
        raise CheckFailed("read_secret via MCP did not return the secret")
    return f"list_tools ({len(tools)} tools), call read_secret"
