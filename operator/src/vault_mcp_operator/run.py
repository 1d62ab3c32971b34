"""`vault-mcp-operator run`: the Kubernetes operator (kopf) with this project's handlers.

    vault-mcp-operator run (--all-namespaces | --namespace NS [--namespace NS2 ...])
                           [--standalone | --peering NAME] [--liveness URL]
                           [--metrics-port N] [--metrics-address ADDR] [--verbose | --debug]

Vault settings come from the environment (config.py), timing from RECONCILE_INTERVAL_SECONDS,
RECONCILE_IDLE_SECONDS, RETRY_BASE_SECONDS and RETRY_MAX_SECONDS (handlers.HandlerOptions).
The Kubernetes API is found as kopf finds it: the pod's service account, else the kubeconfig.
A bad setting stops the start with one line naming it (exit code 2), before anything connects.
"""

from __future__ import annotations

import argparse
import logging
import sys

import kopf
import prometheus_client

from vault_mcp_operator.config import ConfigError, OperatorSettings, load_settings
from vault_mcp_operator.handlers import (
    HandlerOptions,
    Runtime,
    configure_kopf,
    register,
)
from vault_mcp_operator.login import LoginError, VaultSession, auth_method
from vault_mcp_operator.metrics import Metrics
from vault_mcp_operator.webhook import configure_webhook
from vault_mcp_operator.webhook import register as register_webhook
from vault_mcp_sidecar.settings_checks import load

PROG = "vault-mcp-operator run"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings, options = _load()
    except (ConfigError, LoginError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    if args.metrics_port:
        prometheus_client.start_http_server(args.metrics_port, addr=args.metrics_address)
    # "[namespace/name]" on every object's log line: with many agents, a line needs its owner.
    kopf.configure(verbose=args.verbose, debug=args.debug, log_prefix=True)
    # Every liveness probe would otherwise log an access line.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    _run(args, settings, options)
    return 0


def _load() -> tuple[OperatorSettings, HandlerOptions]:
    settings = load_settings()
    auth_method(settings)  # no Vault credentials at all: say so now, not at the first agent
    return settings, load(HandlerOptions)  # ConfigError naming the variable, as load_settings


def _run(args: argparse.Namespace, settings: OperatorSettings, options: HandlerOptions) -> None:
    registry = kopf.OperatorRegistry()
    register(registry, options)
    kopf_settings = kopf.OperatorSettings()
    configure_kopf(kopf_settings)
    kopf_settings.execution.max_workers = options.reconcile_workers
    if settings.webhook_enabled:  # the sidecar injection, at /inject-sidecar (webhook.py)
        register_webhook(registry)
        configure_webhook(kopf_settings, settings)
    runtime = Runtime(settings, options, Metrics(), VaultSession(settings))
    kopf.run(
        registry=registry,
        settings=kopf_settings,
        memo=kopf.Memo(runtime=runtime),
        standalone=args.peering is None,
        peering_name=args.peering,
        clusterwide=args.all_namespaces,
        namespaces=args.namespace or (),
        liveness_endpoint=args.liveness,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    scope = parser.add_mutually_exclusive_group(required=True)
    scope.add_argument("-A", "--all-namespaces", action="store_true", help="watch every namespace")
    scope.add_argument(
        "-n", "--namespace", action="append", help="watch this namespace (or glob); repeatable"
    )
    peering = parser.add_mutually_exclusive_group()
    peering.add_argument(
        "--standalone", action="store_true", help="no peering: one replica (the default)"
    )
    peering.add_argument("--peering", metavar="NAME", help="kopf peering object, for replicas")
    parser.add_argument("--liveness", metavar="URL", help="e.g. http://0.0.0.0:8080/healthz")
    parser.add_argument("--metrics-port", type=int, default=0, help="Prometheus port; 0 = off")
    parser.add_argument("--metrics-address", default="0.0.0.0", help="Prometheus address")  # noqa: S104
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--debug", action="store_true")
    return parser
