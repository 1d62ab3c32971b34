"""Everything the demo prints, as pure functions of plain data: no I/O, no secrets.

Secret values never pass through here: the printed commands refer to them as shell variables
(`$DEMO_API_KEY`, `$TOKEN`) that `source .demo/env` and `scripts/mint_jwt.py` provide.
The sample request data is shared with the self-check, so what is printed is what was tested.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Sample data used by the printed commands and by the self-check alike.
SECRET_PATH = "demo/greeting"
LIST_PREFIX = "demo/"
TRANSIT_KEY = "demo"
PLAINTEXT_B64 = "aGVsbG8gd29ybGQ="  # "hello world"
CHECK_MARK, CROSS_MARK = "\u2713", "\u2717"


def mtls_headers(agent: str) -> dict[str, str]:
    """What a TLS-terminating proxy sets for a verified client certificate with CN=agent."""
    return {"X-SSL-Client-S-DN": f"CN={agent}", "X-SSL-Client-Verify": "SUCCESS"}


def sample_secret(agent: str) -> dict[str, Any]:
    return {"message": f"hello from {agent}"}


@dataclass(frozen=True)
class DemoInfo:
    """What is running and where, as shown to the user (paths already made displayable)."""

    vault_addr: str
    vault_note: str  # e.g. why the default port was not used; "" if it was
    bao_pid: int
    sidecar_url: str
    sidecar_pid: int
    sidecar_log: str
    env_file: str
    workdir: str  # where the commands must run (the repository root)
    python: str  # the interpreter to show in commands, e.g. .venv/bin/python
    bao_cli: str
    child_ttl: str
    agents: tuple[str, str, str]  # (API key, JWT, mTLS)


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


# -- Files ---------------------------------------------------------------------------------


def env_file(values: Mapping[str, str]) -> str:
    """A file of `export NAME=value` lines for `source`."""
    header = "# Vault MCP Bridge demo: written by `make demo` on every run, valid while it runs.\n"
    lines = [f"export {name}={shlex.quote(value)}\n" for name, value in values.items()]
    return header + "".join(lines)


# -- Status lines --------------------------------------------------------------------------


def summary(info: DemoInfo) -> str:
    api, jwt, mtls = info.agents
    rows = [
        ("OpenBao", f"{info.vault_addr}  (dev server, in memory; pid {info.bao_pid})"),
        ("agents", f"{api} (API key), {jwt} (JWT HS256), {mtls} (mTLS headers)"),
        ("sidecar", f"{info.sidecar_url}  (pid {info.sidecar_pid}; log {info.sidecar_log})"),
        (
            "child tokens",
            f"each request runs on a {info.child_ttl} token bound to mcp-agent-<agent>",
        ),
    ]
    lines = [f"  {label:<14}{value}" for label, value in rows]
    if info.vault_note:
        lines.insert(1, f"  {'':<14}{info.vault_note}")
    return "\n".join(["", "Vault MCP Bridge demo", *lines, ""])


def check_lines(results: Iterable[CheckResult]) -> str:
    lines = [f"  {CHECK_MARK if r.ok else CROSS_MARK} {r.name:<31} {r.detail}" for r in results]
    return "\n".join(["Self-check", *lines, ""])


def stopped_line(ok: bool, detail: str) -> str:
    return f"{CHECK_MARK if ok else CROSS_MARK} {detail}"


# -- Ready-to-paste commands ---------------------------------------------------------------


def curl(
    method: str, url: str, auth: str, body: dict[str, Any] | None = None, newline: bool = True
) -> str:
    """One pasteable curl line; `auth` is already shell syntax (it may expand variables)."""
    parts = ["curl -s" + (" -w '\\n'" if newline else "")]
    if method != "GET":
        parts.append(f"-X {method}")
    parts += [shlex.quote(url), auth]
    if body is not None:
        parts += ["-H 'Content-Type: application/json'", "-d " + shlex.quote(json.dumps(body))]
    return " ".join(parts)


def _kv_calls(url: str, auth: str, agent: str) -> list[str]:
    return [
        curl("PUT", f"{url}/secrets/{SECRET_PATH}", auth, {"data": sample_secret(agent)}),
        curl("GET", f"{url}/secrets/{SECRET_PATH}", auth),
    ]


def _transit_calls(url: str, auth: str) -> list[str]:
    encrypt = curl(
        "POST",
        f"{url}/transit/encrypt",
        auth,
        {"key": TRANSIT_KEY, "plaintext": PLAINTEXT_B64},
        newline=False,
    )
    capture = 'sed -E \'s/.*"ciphertext":"([^"]*)".*/\\1/\''
    decrypt_body = f'-d "{{\\"key\\": \\"{TRANSIT_KEY}\\", \\"ciphertext\\": \\"$CT\\"}}"'
    decrypt = curl("POST", f"{url}/transit/decrypt", auth)
    return [
        f'CT=$({encrypt} | {capture}); echo "$CT"',
        f"{decrypt} -H 'Content-Type: application/json' {decrypt_body}"
        f"   # plaintext {PLAINTEXT_B64} = 'hello world'",
    ]


def _section(title: str, lines: Iterable[str], notes: Iterable[str] = ()) -> str:
    body = [f"  # {note}" for note in notes] + [f"  {line}" for line in lines]
    return "\n".join([title, *body, ""])


def api_key_section(info: DemoInfo) -> str:
    agent, url, auth = info.agents[0], info.sidecar_url, '-H "X-API-Key: $DEMO_API_KEY"'
    lines = [
        *_kv_calls(url, auth, agent),
        curl("GET", f"{url}/secrets?prefix={LIST_PREFIX}", auth),
        *_transit_calls(url, auth),
    ]
    return _section(f"{agent} \u2014 API key (X-API-Key)", lines)


def jwt_section(info: DemoInfo) -> str:
    agent, url, auth = info.agents[1], info.sidecar_url, '-H "Authorization: Bearer $TOKEN"'
    mint = f"{info.python} scripts/mint_jwt.py --sub {agent}"
    lines = [
        f"TOKEN=$({mint})",
        curl("GET", f"{url}/whoami", auth),
        *_kv_calls(url, auth, agent),
        f"TOKEN=$({mint} --scopes read)   # a read-only token: the write below is a 403",
        _kv_calls(url, auth, agent)[0],
    ]
    notes = ["HS256, iss=$JWT_ISSUER, aud=$JWT_AUDIENCE; optional --scopes read,write --ttl 600"]
    return _section(f"{agent} \u2014 JWT (Authorization: Bearer)", lines, notes)


def mtls_section(info: DemoInfo) -> str:
    agent, url = info.agents[2], info.sidecar_url
    auth = " ".join(f"-H {shlex.quote(f'{k}: {v}')}" for k, v in mtls_headers(agent).items())
    lines = [curl("GET", f"{url}/whoami", auth), *_kv_calls(url, auth, agent)]
    notes = [
        "Identity headers a TLS-terminating proxy (nginx, Envoy) sets after verifying the client",
        "certificate. They are believed only from MTLS_TRUSTED_PROXIES (default: loopback) and",
        "stripped from every other peer; in production only the proxy can reach the sidecar.",
    ]
    return _section(f"{agent} \u2014 mTLS identity headers", lines, notes)


def mcp_section(info: DemoInfo) -> str:
    url = f"{info.sidecar_url}/mcp"
    config = {
        "mcpServers": {
            "vault-mcp-bridge": {
                "type": "http",
                "url": url,
                "headers": {"X-API-Key": "${DEMO_API_KEY}"},
            }
        }
    }
    lines = [
        f"{info.python} scripts/mcp_client.py list",
        f"{info.python} scripts/mcp_client.py call read_secret "
        + shlex.quote(json.dumps({"path": SECRET_PATH})),
        "# in an MCP client's JSON config (clients that expand ${VAR}; else paste the key):",
        *json.dumps(config, indent=2).splitlines(),
    ]
    notes = [f"Streamable HTTP at {url}; every REST route is a tool, with the same auth."]
    return _section(f"MCP (as {info.agents[0]})", lines, notes)


def instructions(info: DemoInfo) -> str:
    inspect = (
        f"VAULT_TOKEN=$VAULT_DEV_ROOT_TOKEN {info.bao_cli} kv get "
        f"secret/mcp/{info.agents[0]}/{SECRET_PATH}"
    )
    return "\n".join(
        [
            "Try it \u2014 in another terminal:",
            f"  cd {shlex.quote(info.workdir)} && source {info.env_file}",
            "",
            api_key_section(info),
            jwt_section(info),
            mtls_section(info),
            mcp_section(info),
            _section("Look inside OpenBao (dev root token, throwaway server)", [inspect]),
            "Running. Ctrl-C stops the sidecar and OpenBao.",
        ]
    )
