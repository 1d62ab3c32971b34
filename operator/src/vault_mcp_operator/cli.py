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
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from vault_mcp_operator.config import ConfigError, OperatorSettings, load_settings
from vault_mcp_operator.credentials import CredentialStore, FileCredentialStore
from vault_mcp_operator.login import LoginError, login
from vault_mcp_operator.manifests import AgentDocument, ManifestError, load_agents
from vault_mcp_operator.names import AgentNames, agent_names
from vault_mcp_operator.operator_policy import operator_policy_hcl
from vault_mcp_operator.reconcile import Outcome, reconcile, remove
from vault_mcp_operator.vault_admin import VaultAdmin, VaultAdminError

PROG = "vault-mcp-operator"
DEFAULT_WORKERS = 8


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
    action = _apply_one if args.command == "apply" else _delete_one

    def one(agent: AgentDocument) -> tuple[bool, str]:
        try:
            return True, action(admin, store, agent, settings)
        except VaultAdminError as exc:
            return False, f"{agent.source}: {agent.key}: {exc}"

    with ThreadPoolExecutor(max_workers=max(1, args.workers)) as pool:
        results = list(pool.map(one, agents))
    for ok, line in results:
        print(line, file=sys.stdout if ok else sys.stderr)
    return 0 if all(ok for ok, _ in results) else 1


def _names(agent: AgentDocument, settings: OperatorSettings) -> AgentNames:
    return agent_names(agent.namespace, agent.name, settings, agent.spec.transit.keys)


def _apply_one(
    admin: VaultAdmin,
    store: CredentialStore | None,
    agent: AgentDocument,
    settings: OperatorSettings,
) -> str:
    names = _names(agent, settings)
    outcome = reconcile(admin, store, names, agent.spec, settings, datetime.now(UTC))
    return f"{agent.key}: {describe(outcome)}"


def describe(outcome: Outcome) -> str:
    """`created (7 Vault writes)`, `unchanged (0 Vault writes)`, plus what happened."""
    text = f"{outcome.verb} ({outcome.vault_writes} Vault writes)"
    creds = outcome.credentials
    if creds is not None and creds.issued:
        text += f"; secret_id issued ({creds.reason})"
    if creds is not None and creds.destroyed:
        text += f"; {len(creds.destroyed)} old secret_id(s) destroyed"
    return text


def _delete_one(
    admin: VaultAdmin,
    store: CredentialStore | None,
    agent: AgentDocument,
    settings: OperatorSettings,
) -> str:
    policy = agent.spec.deletion_policy
    writes = remove(admin, store, _names(agent, settings), policy)
    return f"{agent.key}: deleted, deletionPolicy {policy} ({writes} Vault writes)"


def _fail(message: str) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return 2
