"""`make demo`: OpenBao + three agents + the sidecar with every auth mode (DESIGN §10).

    .venv/bin/python -m scripts.demo           # run until Ctrl-C, printing calls to paste
    .venv/bin/python -m scripts.demo --check   # start, self-check, stop; the exit status says

Starts an OpenBao dev server (bundled binary, 127.0.0.1:8200 or a free port), provisions
demo.agent-api (API key), demo.agent-jwt (JWT HS256) and demo.agent-mtls (mTLS identity
headers) as in the seed's three-agent scenario, from the VaultAgent file
manifests/examples/demo-agents.yaml through the operator's offline apply, starts the
sidecar on 127.0.0.1:8089 logged in with a least-privilege AppRole and minting a child token
per request through the agents' token roles, checks every auth mode for real, prints
ready-to-paste calls, and on Ctrl-C / SIGTERM stops everything and verifies nothing is left
running. Fresh random secrets every run, written to `.demo/env` (0600).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import socket
import sys
import time
import urllib.error
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import httpx

from devkit.openbao import OpenBao, OpenBaoUnavailable, bao_binary
from devkit.ports import free_port
from devkit.sidecar import SidecarProcess
from scripts.demo_check import Credentials, run_checks
from scripts.demo_provision import AGENTS_FILE, SidecarLogin, provision
from scripts.demo_text import DemoInfo, check_lines, env_file, instructions, stopped_line, summary

HOST = "127.0.0.1"
SIDECAR_PORT = 8089  # the seed's port: part of the contract, never silently moved
VAULT_PORT = 8200
# Agent ids "{namespace}.{name}" of the VaultAgents in manifests/examples/demo-agents.yaml.
AGENTS = ("demo.agent-api", "demo.agent-jwt", "demo.agent-mtls")
JWT_ISSUER = "vault-mcp-demo"
JWT_AUDIENCE = "vault-mcp"
CHILD_TOKEN_TTL = "90s"
LOG_TAIL_LINES = 40
SIDECAR_PORT_BUSY = (
    f"{HOST}:{SIDECAR_PORT} is in use; the demo sidecar needs that port "
    "(the seed's default). Stop whatever listens there and run again."
)


class Stopped(BaseException):
    """SIGTERM or SIGHUP arrived: shut down like on Ctrl-C.

    A BaseException, like KeyboardInterrupt, so no `except Exception` on the way swallows it.
    """


class PortBusy(RuntimeError):
    """The sidecar's fixed port is taken (possibly only after the preflight check)."""


@dataclass
class Started:
    """What this run started, so the end can prove it is all gone."""

    pids: dict[str, int] = field(default_factory=dict)
    ports: list[int] = field(default_factory=list)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    problem = _preflight()
    if problem:
        print(f"demo: {problem}", file=sys.stderr)
        return 2
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_stopped)
    started = Started()
    try:
        status = _run(args, started)
    except (KeyboardInterrupt, Stopped):
        status = 0
    except PortBusy as exc:
        print(f"demo: {exc}", file=sys.stderr)
        status = 2
    except (RuntimeError, OSError) as exc:
        print(f"demo: {_describe(exc)}", file=sys.stderr)
        status = 1
    return _report_stopped(started) or status


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="start, self-check, stop, exit 0 if all is well"
    )
    parser.add_argument(
        "--state-dir", type=Path, default=Path(".demo"), help="where env, credentials, log go"
    )
    return parser


def _preflight() -> str:
    if not port_free(SIDECAR_PORT):
        return SIDECAR_PORT_BUSY
    try:
        bao_binary()
    except OpenBaoUnavailable as exc:
        return f"{exc}; run `make install` first"
    return ""


def _raise_stopped(signum: int, _frame: FrameType | None) -> None:
    raise Stopped(signal.Signals(signum).name)


def _ignore_signals() -> None:
    """Once shutdown starts, a second Ctrl-C must not cut it short and leave processes."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)


def _run(args: argparse.Namespace, started: Started) -> int:
    stack = ExitStack()
    try:
        return _start_and_serve(args, stack, started)
    finally:
        _ignore_signals()
        print("\nStopping the sidecar and OpenBao ...", flush=True)
        stack.close()


def _start_and_serve(args: argparse.Namespace, stack: ExitStack, started: Started) -> int:
    print("Starting OpenBao, provisioning three agents, starting the sidecar ...", flush=True)
    vault_port, vault_note = choose_vault_port()
    bao = _start_openbao(stack, vault_port, started)
    provisioned = provision(bao)
    if provisioned.agents != AGENTS:
        raise RuntimeError(f"{AGENTS_FILE} defines {provisioned.agents}, expected {AGENTS}")
    print("\n".join(f"  vault-mcp-operator apply: {line}" for line in provisioned.lines))
    login = provisioned.login
    creds = _fresh_credentials()
    state = _prepare_state_dir(args.state_dir)
    env = _write_state(stack, state, bao, login, creds)
    sidecar = _start_sidecar(stack, sidecar_env(bao.addr, state, creds), state, started)
    info = _info(bao.addr, vault_note, started, sidecar, env)
    print(summary(info), flush=True)
    results = run_checks(sidecar.url, creds, AGENTS)
    print(check_lines(results), flush=True)
    if not all(r.ok for r in results):
        print(_log_tail(sidecar), file=sys.stderr)
        return 1
    if args.check:
        return 0
    print(instructions(info), flush=True)
    return _serve_until_stopped(bao, sidecar)


# -- Ports -----------------------------------------------------------------------------------


def port_free(port: int) -> bool:
    """Nothing listens on 127.0.0.1:port (SO_REUSEADDR as servers use, so TIME_WAIT is ok)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def choose_vault_port() -> tuple[int, str]:
    """8200 if free (with 8201, the dev server's cluster port), else a free pair; and a note."""
    if port_free(VAULT_PORT) and port_free(VAULT_PORT + 1):
        return VAULT_PORT, ""
    for _ in range(50):
        port = free_port()
        if port < 65535 and port_free(port + 1):
            return port, f"({HOST}:{VAULT_PORT} is in use, so OpenBao took port {port})"
    raise RuntimeError("no free port pair for OpenBao")


# -- Processes -------------------------------------------------------------------------------


def _start_openbao(stack: ExitStack, port: int, started: Started) -> OpenBao:
    # A random root token: a dev server on a fixed port must not have a well-known one.
    # Entering stops and tidies a server whose start() fails after the process exists.
    bao = stack.enter_context(OpenBao(dev=True, port=port, token=secrets.token_urlsafe(24)))
    assert bao.pid is not None
    started.pids["OpenBao"] = bao.pid
    started.ports += [port, port + 1]
    return bao


def _start_sidecar(
    stack: ExitStack, env: dict[str, str], state: Path, started: Started
) -> SidecarProcess:
    log_file = state / "sidecar.log"
    log_file.write_bytes(b"")  # SidecarProcess appends; each run gets its own log
    sidecar = SidecarProcess(env, port=SIDECAR_PORT, log_file=log_file)
    stack.callback(sidecar.stop)
    try:
        sidecar.start()
    except RuntimeError:
        if "address already in use" in sidecar.logs():
            raise PortBusy(SIDECAR_PORT_BUSY) from None  # taken since the preflight check
        raise
    started.pids["sidecar"] = sidecar.pid
    started.ports.append(SIDECAR_PORT)
    return sidecar


def sidecar_env(vault_addr: str, state: Path, creds: Credentials) -> dict[str, str]:
    """Every auth mode on; AppRole login from files; a child token per request."""
    return {
        "VAULT_ADDR": vault_addr,
        "VAULT_ROLE_ID_FILE": str((state / "role_id").resolve()),
        "VAULT_SECRET_ID_FILE": str((state / "secret_id").resolve()),
        "CHILD_TOKEN_ENABLED": "true",
        "CHILD_TOKEN_TTL": CHILD_TOKEN_TTL,
        "AUTH_API_KEY_ENABLED": "true",
        "API_KEYS_JSON": json.dumps({creds.api_key: AGENTS[0]}),
        "AUTH_JWT_ENABLED": "true",
        "JWT_HS256_SECRET": creds.jwt_secret,
        "JWT_ISSUER": creds.jwt_issuer,
        "JWT_AUDIENCE": creds.jwt_audience,
        "AUTH_MTLS_ENABLED": "true",  # identity headers believed from loopback only (default)
        "LOG_LEVEL": "info",
    }


def _serve_until_stopped(bao: OpenBao, sidecar: SidecarProcess) -> int:
    """Block until a signal; if a child dies meanwhile, say so and fail."""
    misses = 0
    while True:
        time.sleep(1)
        if not bao.running:
            print(f"demo: OpenBao exited unexpectedly; see {bao.log_file}", file=sys.stderr)
            return 1
        misses = 0 if _healthy(sidecar.url) else misses + 1
        if misses >= 3:
            print(_log_tail(sidecar), file=sys.stderr)
            print("demo: the sidecar stopped answering /healthz", file=sys.stderr)
            return 1


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _report_stopped(started: Started) -> int:
    """Prove nothing this run started is still there; 1 if something is."""
    if not started.pids and not started.ports:
        return 0
    alive = [f"{name} (pid {pid})" for name, pid in started.pids.items() if _alive(pid)]
    busy = [str(port) for port in started.ports if not port_free(port)]
    names = ", ".join(f"{name} (pid {pid})" for name, pid in started.pids.items())
    if alive or busy:
        detail = f"still running: {', '.join(alive) or '-'}; ports in use: {', '.join(busy) or '-'}"
        print(stopped_line(False, detail), file=sys.stderr)
        return 1
    ports = ", ".join(str(p) for p in started.ports)
    print(stopped_line(True, f"stopped {names}; ports {ports} free; nothing left running"))
    return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _log_tail(sidecar: SidecarProcess) -> str:
    lines = sidecar.logs().splitlines()[-LOG_TAIL_LINES:]
    return "\n".join([f"--- last {len(lines)} lines of {sidecar.log_file} ---", *lines])


# -- Secrets and files -----------------------------------------------------------------------


def _fresh_credentials() -> Credentials:
    return Credentials(
        api_key=secrets.token_urlsafe(32),
        jwt_secret=secrets.token_urlsafe(48),  # 64 characters, well over the 32-byte minimum
        jwt_issuer=JWT_ISSUER,
        jwt_audience=JWT_AUDIENCE,
    )


def _prepare_state_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def _write_state(
    stack: ExitStack, state: Path, bao: OpenBao, login: SidecarLogin, creds: Credentials
) -> Path:
    """The sidecar's AppRole files and the user's `source`-able env; removed at the end."""
    files = {
        state / "role_id": login.role_id + "\n",
        state / "secret_id": login.secret_id + "\n",
        state / "env": env_file(_user_env(bao, creds)),
    }
    for path, text in files.items():
        stack.callback(_remove, path)
        write_private(path, text)
    return state / "env"


def _user_env(bao: OpenBao, creds: Credentials) -> dict[str, str]:
    return {
        "VAULT_ADDR": bao.addr,
        "VAULT_DEV_ROOT_TOKEN": bao.token,  # for looking inside; deliberately not VAULT_TOKEN
        "DEMO_API_KEY": creds.api_key,
        "JWT_HS256_SECRET": creds.jwt_secret,
        "JWT_ISSUER": creds.jwt_issuer,
        "JWT_AUDIENCE": creds.jwt_audience,
        "MCP_URL": f"http://{HOST}:{SIDECAR_PORT}/mcp",
    }


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, also when it already existed with other modes."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


# -- Presentation helpers ----------------------------------------------------------------------


def _info(
    vault_addr: str, vault_note: str, started: Started, sidecar: SidecarProcess, env: Path
) -> DemoInfo:
    python = Path(sys.executable)
    bao_cli = python.parent / "bao"
    return DemoInfo(
        vault_addr=vault_addr,
        vault_note=vault_note,
        bao_pid=started.pids["OpenBao"],
        sidecar_url=sidecar.url,
        sidecar_pid=started.pids["sidecar"],
        sidecar_log=display(sidecar.log_file),
        env_file=display(env),
        workdir=str(Path.cwd()),
        python=display(python),
        bao_cli=display(bao_cli) if bao_cli.exists() else bao_binary(),
        child_ttl=CHILD_TOKEN_TTL,
        agents=AGENTS,
    )


def display(path: Path) -> str:
    """A path as the user would type it from the current directory."""
    absolute = Path(os.path.abspath(path))
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        body = exc.read().decode(errors="replace")[:300]
        return f"OpenBao refused {exc.url.split('/v1/', 1)[-1]}: HTTP {exc.code} {body}"
    return str(exc)


if __name__ == "__main__":
    sys.exit(main())
