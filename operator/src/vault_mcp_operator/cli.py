"""`vault-mcp-operator`: offline apply/delete of VaultAgent files, the operator's policy, and
`run` (the Kubernetes operator itself, in `vault_mcp_operator.run`).

    vault-mcp-operator apply -f agents.yaml [-f more.yaml] [--credentials-dir DIR]
    vault-mcp-operator delete -f agents.yaml
    vault-mcp-operator policy > operator-policy.hcl
    vault-mcp-operator inject -f app.yaml [--agent-file alice.yaml | --agent-scopes ...]
    vault-mcp-operator run [...]

Settings come from the environment (config.py). Every file is validated before anything is
written to Vault: one bad document, and nothing is applied.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from vault_mcp_operator.config import ConfigError, OperatorSettings, load_settings
from vault_mcp_operator.credentials import FileCredentialStore
from vault_mcp_operator.inject_files import (
    READY_STATUS,
    InjectError,
    dump,
    inject_documents,
    offline_agent,
)
from vault_mcp_operator.injection import SidecarSettings
from vault_mcp_operator.login import LoginError, login
from vault_mcp_operator.manifests import ManifestError, load_agents
from vault_mcp_operator.offline import DEFAULT_WORKERS, apply_agents, delete_agents
from vault_mcp_operator.operator_policy import operator_policy_hcl
from vault_mcp_operator.spec import SpecError, parse_spec
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
    if args.command == "inject":
        return _inject(args, settings)
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
    _inject_parser(commands.add_parser("inject", help="add the sidecar to manifests offline"))
    commands.add_parser("run", help="run the Kubernetes operator (options: run --help)")
    return parser


def _inject_parser(command: argparse.ArgumentParser) -> None:
    command.description = (
        "Print FILE with the sidecar injected into every pod template annotated "
        'vaultmcp.dev/inject: "true", as the admission webhook would. The agents come from '
        "--agent-file; an agent not in those files is described by the flags below (API keys "
        "from the Secret <agent>-api-keys unless an auth flag says otherwise)."
    )
    command.add_argument(
        "-f",
        "--filename",
        action="append",
        type=Path,
        required=True,
        help="manifests to inject; - for stdin",
    )
    command.add_argument(
        "--agent-file",
        action="append",
        type=Path,
        default=[],
        help="VaultAgent files (the agents the pods name)",
    )
    command.add_argument("--agent-scopes", default="read,list", help="comma-separated scopes")
    command.add_argument("--api-keys-secret", help="Secret with the callers' API keys")
    command.add_argument("--jwt-issuer")
    command.add_argument("--jwt-audience")
    command.add_argument("--jwt-jwks-url")
    command.add_argument("--jwt-subject", action="append", default=[])
    command.add_argument("--mtls-identity", action="append", default=[])
    command.add_argument("--child-ttl", default="90s")
    command.add_argument("--child-num-uses", type=int, default=0)
    command.add_argument("--child-type", choices=("service", "batch"), default="service")
    command.add_argument("--rate-limit-requests", type=int, default=60)
    command.add_argument("--rate-limit-window-seconds", type=int, default=60)


def _inject(args: argparse.Namespace, settings: OperatorSettings) -> int:
    try:
        known = {(a.namespace, a.name): offline_agent(a) for a in load_agents(args.agent_file)}
        documents = [doc for path in args.filename for doc in _read_documents(path)]
        agents = FlagAgents(known, _flag_spec(args))
        out = dump(inject_documents(documents, agents, SidecarSettings.from_settings(settings)))
    except (ManifestError, InjectError, SpecError) as exc:
        return _fail(f"inject: {exc}")
    sys.stdout.write(out)
    return 0


def _read_documents(path: Path) -> list[Any]:
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text()
        # A copy of each: YAML anchors would otherwise share one template between workloads.
        return [copy.deepcopy(doc) for doc in yaml.safe_load_all(text) if doc is not None]
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None


def _flag_spec(args: argparse.Namespace) -> dict[str, Any]:
    """The spec of an agent described by flags (`auth` filled in per agent by FlagAgents)."""
    auth: dict[str, Any] = {}
    if args.api_keys_secret:
        auth["apiKeys"] = {"secretRef": {"name": args.api_keys_secret}}
    jwt = {"issuer": args.jwt_issuer, "audience": args.jwt_audience, "jwksURL": args.jwt_jwks_url}
    jwt = {key: value for key, value in jwt.items() if value}
    if jwt or args.jwt_subject:
        auth["jwt"] = {**jwt, "subjects": args.jwt_subject}
    if args.mtls_identity:
        auth["mtls"] = {"allowedIdentities": args.mtls_identity}
    spec = {
        "scopes": [s.strip() for s in args.agent_scopes.split(",") if s.strip()],
        "token": {
            "childTTL": args.child_ttl,
            "childNumUses": args.child_num_uses,
            "childType": args.child_type,
        },
        "rateLimit": {
            "requests": args.rate_limit_requests,
            "windowSeconds": args.rate_limit_window_seconds,
        },
        "auth": auth,
    }
    parse_spec(spec | {"auth": auth or {"apiKeys": {"secretRef": {"name": "x"}}}})
    return spec


class FlagAgents(Mapping[tuple[str, str], Mapping[str, Any]]):
    """The agents from files; any other (namespace, name) is the agent the flags describe."""

    def __init__(self, known: dict[tuple[str, str], Any], spec: dict[str, Any]) -> None:
        self._known = known
        self._spec = spec

    def __getitem__(self, key: tuple[str, str]) -> Mapping[str, Any]:
        if key in self._known:
            return self._known[key]  # type: ignore[no-any-return]
        namespace, name = key
        auth = self._spec["auth"] or {"apiKeys": {"secretRef": {"name": f"{name}-api-keys"}}}
        return {
            "metadata": {"name": name, "namespace": namespace},
            "spec": {**self._spec, "auth": auth},
            "status": READY_STATUS,
        }

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._known)

    def __len__(self) -> int:
        return len(self._known)


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
