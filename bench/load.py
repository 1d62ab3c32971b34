"""Drive wrk against one target and check the target answers correctly before loading it.

wrk (C, epoll) is the load generator because a Python one saturates before the servers do:
the bench would then measure the generator. Every target gets the very same binary and flags.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.results import WrkRun, parse_wrk

REPORT_SCRIPT = Path(__file__).with_name("report.lua")
ROTATE_SCRIPT = Path(__file__).with_name("rotate.lua")


class LoadError(RuntimeError):
    """A target answered wrongly or wrk failed: the bench stops, since a fast error is no result."""


@dataclass(frozen=True, slots=True)
class Target:
    """One thing to load: where, with which headers, and where the seeded value sits in the body.

    With `requests_file` (bench/fleet.py's lines) wrk rotates over many agents' credentials
    and paths instead (bench/rotate.lua); `url` then only names the server.
    """

    key: str
    label: str
    url: str
    headers: Mapping[str, str]
    value_path: tuple[str, ...]
    requests_file: Path | None = None


def wrk_binary() -> str:
    """wrk from PATH (Debian package `wrk`); a clear error where it is missing."""
    path = shutil.which("wrk")
    if path is None:
        raise LoadError("wrk not found: install it (Debian/Ubuntu: apt-get install wrk)")
    return path


def wrk_version() -> str:
    """wrk's first -v line, e.g. `wrk debian/4.1.0-3 [epoll]`, for the report header."""
    proc = subprocess.run([wrk_binary(), "-v"], capture_output=True, text=True, check=False)
    return (proc.stdout or proc.stderr).splitlines()[0].split(" Copyright")[0]


def wrk_command(target: Target, connections: int, threads: int, duration_s: int) -> list[str]:
    """The wrk invocation; the Lua script only reports (or rotates), headers go in as -H."""
    args = [wrk_binary(), f"-c{connections}", f"-t{threads}", f"-d{duration_s}s"]
    script = REPORT_SCRIPT if target.requests_file is None else ROTATE_SCRIPT
    args += ["-s", str(script)]
    for name, value in target.headers.items():
        args += ["-H", f"{name}: {value}"]
    args.append(target.url)
    if target.requests_file is not None:
        args += ["--", str(target.requests_file)]
    return args


def run_wrk(target: Target, connections: int, threads: int, duration_s: int) -> WrkRun:
    """One wrk run; raises LoadError on any error response, socket error or timeout."""
    command = wrk_command(target, connections, threads, duration_s)
    try:
        proc = subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=False,
            timeout=duration_s + 60,
            env={**os.environ, "BENCH_REPORT_LUA": str(REPORT_SCRIPT)},  # for rotate.lua
        )
    except subprocess.TimeoutExpired as exc:
        raise LoadError(f"wrk hung on {target.label} (> {duration_s + 60} s)") from exc
    if proc.returncode != 0:
        raise LoadError(f"wrk failed on {target.label} ({proc.returncode}): {proc.stderr.strip()}")
    run = parse_wrk(proc.stdout)
    if run.error_count or run.requests == 0:
        raise LoadError(
            f"{target.label} at {connections} connection(s): {run.error_summary() or 'no answers'}"
            f" in {run.requests} requests; a fast error is not a result"
        )
    return run


def probe(target: Target, expected: str) -> None:
    """One GET: 200 and the seeded value where it belongs, or LoadError saying what came back."""
    request = urllib.request.Request(target.url, headers=dict(target.headers))  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            body: Any = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode(errors="replace")
        raise LoadError(f"{target.label}: {target.url} answered {exc.code}: {detail}") from exc
    found = _dig(body, target.value_path)
    if found != expected:
        raise LoadError(f"{target.label}: seeded value not at {'.'.join(target.value_path)}")


def _dig(body: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(body, dict):
            return None
        body = body.get(key)
    return body
