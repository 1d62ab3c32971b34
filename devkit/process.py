"""Starting and stopping the harness's child processes (OpenBao, nginx, sidecar, operator)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path


def spawn(
    args: Sequence[str], log_file: Path, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start `args` in a session of its own, stdout and stderr appended to `log_file`.

    Its own session makes it a process-group leader, so `stop` can reach its children too.
    """
    with log_file.open("ab") as log:
        return subprocess.Popen(
            list(args),
            env=dict(env) if env is not None else None,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL to the whole process group if it lingers past `timeout`."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
