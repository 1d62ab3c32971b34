"""`vault-mcp-operator`: offline apply/delete of VaultAgent files, the operator's policy, and
`run` (the Kubernetes operator itself, in `vault_mcp_operator.run`).

    vault-mcp-operator apply -f agents.yaml [-f more.yaml] [--credentials-dir DIR]
    vault-mcp-operator delete -f agents.yaml
    vault-mcp-operator policy > operator-policy.hcl
    vault-mcp-operator run [...]

Settings come from the environment (config.py). Every file is validated before anything is
written to Vault: one bad document, and nothing is applied.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from pathlib import Path

from vault_mcp_operator.config import ConfigError, OperatorSettings, load_settings
from vault_mcp_operator.credentials import FileCredentialStore
from vault_mcp_operator.login import LoginError, login
from vault_mcp_operator.manifests import ManifestError, load_agents
from vault_mcp_operator.offline import DEFAULT_WORKERS, apply_agents, delete_agents
from vault_mcp_operator.operator_policy import operator_policy_hcl
from vault_mcp_operator.vault_admin import VaultAdmin

PROG = "vault-mcp-operator"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["run"]:
        # Everything after `run` is the operator's own: argparse's REMAINDER would refuse
        # options that come first (`run --all-namespaces`), so hand them over untouched.
        return _run(argv[1:])
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        return _fail(str(exc))
    if args.command == "policy":
        sys.stdout.write(operator_policy_hcl(settings))
        return 0
    return _agents_command(args, settings)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("apply", "create or update agents"), ("delete", "remove agents")):
        command = commands.add_parser(name, help=f"{text} in Vault from VaultAgent files")
        command.add_argument("-f", "--filename", action="append", type=Path, required=True)
        command.add_argument(
            "--credentials-dir", type=Path, help="AppRole credentials as DIR/<agent id>.json"
        )
        command.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="threads")
    commands.add_parser("policy", help="print the operator's own Vault policy (HCL)")
    commands.add_parser("run", help="run the Kubernetes operator (options: run --help)")
    return parser


def _run(argv: list[str]) -> int:
    try:
        module = importlib.import_module("vault_mcp_operator.run")
    except ModuleNotFoundError as exc:
        if exc.name != "vault_mcp_operator.run":
            raise
        return _fail("run: the Kubernetes operator is not available in this build")
    entry: Callable[[list[str]], int] = module.main
    return entry(argv)


def _agents_command(args: argparse.Namespace, settings: OperatorSettings) -> int:
    try:
        agents = load_agents(args.filename)  # all of them, before anything touches Vault
        admin = VaultAdmin(login(settings, pool_size=args.workers), settings)
    except (ManifestError, LoginError) as exc:
        return _fail(str(exc))
    store = FileCredentialStore(args.credentials_dir) if args.credentials_dir else None
    action = apply_agents if args.command == "apply" else delete_agents
    results = action(admin, store, agents, settings, args.workers)
    for result in results:
        print(result.line, file=sys.stdout if result.ok else sys.stderr)
    return 0 if all(result.ok for result in results) else 1


def _fail(message: str) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return 2
