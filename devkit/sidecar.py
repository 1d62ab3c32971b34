"""The sidecar as a real server process on a free port, for tests, the demo and the benchmark."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from devkit.ports import free_port
from devkit.process import ManagedProcess, spawn
from vault_mcp_sidecar.config import Settings


@dataclass
class SidecarProcess(ManagedProcess):
    """`python -m vault_mcp_sidecar` with the given environment (plus HOST/PORT)."""

    env: dict[str, str]
    port: int = field(default_factory=free_port)
    log_file: Path = field(
        default_factory=lambda: Path(tempfile.mkstemp(prefix="sidecar-", suffix=".log")[1])
    )
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def tidy(self) -> None:
        self.log_file.unlink(missing_ok=True)

    def start(self) -> None:
        env = {
            **sidecar_base_env(os.environ),
            **self.env,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
        }
        self._proc = spawn([sys.executable, "-m", "vault_mcp_sidecar"], self.log_file, env)
        self._wait_ready()

    def logs(self) -> str:
        return self.log_file.read_text(errors="replace")

    def _wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(f"sidecar exited early:\n{self.logs()[-3000:]}")
            try:
                urllib.request.urlopen(f"{self.url}/healthz", timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"sidecar not ready within {timeout}s:\n{self.logs()[-3000:]}")


def sidecar_base_env(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` minus every sidecar setting (any case), so nothing from a developer's shell
    leaks into a test, the demo or the benchmark."""
    settings = {name.lower() for name in Settings.model_fields}
    return {k: v for k, v in environ.items() if k.lower() not in settings}
