"""Starting and stopping the harness's child processes (OpenBao, nginx, sidecar, operator)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar, Self


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


class ManagedProcess:
    """What the harness's servers share: `with` support, stop, kill and whether it runs.

    A subclass (a dataclass) holds its child in `_proc` and supplies `start` (spawn, then wait
    until ready) and `tidy` (remove the files it leaves). A start that fails after the spawn gets
    no `__exit__` from Python, so `__enter__` stops the child itself: no server outlives a
    failed `with`.
    """

    _proc: subprocess.Popen[bytes] | None
    stop_timeout: ClassVar[float] = 10.0

    def start(self) -> None:
        raise NotImplementedError

    def tidy(self) -> None:
        """Remove what the process leaves behind (logs, a work directory); nothing here."""

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.tidy()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        """SIGTERM; the whole process group is killed if it lingers past `stop_timeout`."""
        if self._proc is None:
            return
        stop(self._proc, self.stop_timeout)
        self._proc = None

    def kill(self) -> None:
        """SIGKILL, no graceful shutdown: a crash, as when a node dies."""
        if self._proc is None:
            return
        self._proc.kill()
        self._proc.wait()
        self._proc = None
