"""The harness's process handling: a failed start must not leave its child running.

Python calls no `__exit__` when `__enter__` raises, so a server spawned but never ready would
outlive the test (and hold its port) unless `__enter__` stops it itself.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from devkit.process import ManagedProcess, spawn
from devkit.sidecar import SidecarProcess

_SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


@dataclass
class _NeverReady(ManagedProcess):
    log: Path
    spawned: subprocess.Popen[bytes] | None = None
    _proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._proc = self.spawned = spawn(_SLEEPER, self.log)
        raise RuntimeError("never ready")

    def tidy(self) -> None:
        self.log.unlink(missing_ok=True)


def test_a_failed_start_stops_the_child_and_tidies(tmp_path: Path) -> None:
    server = _NeverReady(tmp_path / "sleeper.log")
    with pytest.raises(RuntimeError, match="never ready"), server:
        pytest.fail("the body must not run")
    assert server.spawned is not None
    assert server.spawned.poll() is not None  # stopped, not left sleeping
    assert not server.running
    assert not server.log.exists()


@dataclass
class _SidecarNeverReady(SidecarProcess):
    spawned: subprocess.Popen[bytes] | None = None

    def _wait_ready(self, timeout: float = 20.0) -> None:
        self.spawned = self._proc
        raise RuntimeError("sidecar not ready (as if it hung)")


def test_a_sidecar_that_never_gets_ready_is_stopped(tmp_path: Path) -> None:
    sidecar = _SidecarNeverReady({}, log_file=tmp_path / "sidecar.log")
    with pytest.raises(RuntimeError, match="not ready"), sidecar:
        pytest.fail("the body must not run")
    assert sidecar.spawned is not None
    assert sidecar.spawned.poll() is not None
    assert not sidecar.log_file.exists()


def test_stop_and_kill_are_safe_before_start_and_twice(tmp_path: Path) -> None:
    server = _NeverReady(tmp_path / "unused.log")
    server.stop()
    server.kill()
    assert not server.running
