"""`vault-mcp-sidecar` / `python -m vault_mcp_sidecar`: serve (default) or print a policy."""

from __future__ import annotations

import argparse
import sys

from vault_mcp_sidecar.config import ConfigError, load_settings
from vault_mcp_sidecar.naming import InvalidName
from vault_mcp_sidecar.policy import agent_policy_hcl


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "policy":
        return _policy(args)
    return _serve()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vault-mcp-sidecar", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the HTTP/MCP server (default); config from env")
    policy = commands.add_parser("policy", help="print an agent's Vault policy (HCL)")
    policy.add_argument("--agent", required=True, help="agent id, e.g. alice or team-a.alice")
    policy.add_argument("--mount", default="secret", help="KV v2 mount (KV_MOUNT)")
    policy.add_argument("--prefix", default="mcp", help="agent folder prefix (DEFAULT_PREFIX)")
    policy.add_argument("--transit-mount", default="transit", help="Transit mount")
    return parser


def _policy(args: argparse.Namespace) -> int:
    try:
        hcl = agent_policy_hcl(
            args.agent, mount=args.mount, prefix=args.prefix, transit_mount=args.transit_mount
        )
    except InvalidName as exc:
        print(f"vault-mcp-sidecar: policy: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(hcl)
    return 0


def _serve() -> int:
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"vault-mcp-sidecar: {exc}", file=sys.stderr)
        return 2
    # Imported after the settings are known good: a bad configuration fails in ~0.2 s instead
    # of after loading FastAPI and MCP (~0.7 s), which matters to crash-looping pods and tests.
    import uvicorn

    from vault_mcp_sidecar.app import create_app

    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,  # the peer address must be the real one for MTLS_TRUSTED_PROXIES
    )
    return 0
