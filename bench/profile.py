"""Where a sidecar read's CPU goes: py-spy on the sidecar while wrk loads it.

    .venv/bin/python -m bench.profile [--modes sidecar,sidecar-child] [--duration 15] [--quick]

For each mode (bench/config.py SIDECAR_MODES keys: sidecar, sidecar-cache, sidecar-child,
sidecar-batch): a dev OpenBao provisioned as for `make bench`, one standalone sidecar, wrk at 16
connections for `--duration` seconds, and py-spy sampling the sidecar meanwhile (250 Hz,
non-blocking: the sampled process is never paused). py-spy sees Python frames only; time in
uvloop's C event loop (epoll, socket reads and writes, httptools parsing) has the loop's entry
`Runner.run` as its innermost Python frame, and is reported as such. Reports, per mode:

- the sidecar's CPU per read, from /proc/<pid>/stat over the run (the figure each optimisation
  in docs/PERFORMANCE.md is judged by), and its req/s under the profiler;
- the heaviest frames by self time, by inclusive time (event-loop scaffolding left out) and the
  packages the self time falls in.

Writes the raw collapsed stacks (.bench/profile-<mode>.txt: feed them to any flame-graph tool)
and a JSON summary (.bench/profile.json); prints Markdown tables.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from bench import config
from bench.flame import (
    Share,
    inclusive_shares,
    parse_collapsed,
    self_shares,
    share_table,
    total,
)
from bench.load import LoadError, Target, probe, run_wrk, wrk_binary
from bench.output import OUT, REPO, save_json
from bench.results import WrkOutputError
from bench.stack import (
    StackError,
    cpu_seconds,
    provision,
    sidecar_source,
    start_openbao,
    start_sidecar,
)
from devkit.openbao import OpenBaoUnavailable

RATE_HZ = 250
# Frames on (nearly) every stack of an asyncio server: they say nothing about the cost.
SCAFFOLDING = (
    "asyncio/runners.py:run",
    "asyncio/runners.py:Runner.run",
    "asyncio/base_events.py:BaseEventLoop.run_until_complete",
    "asyncio/base_events.py:BaseEventLoop.run_forever",
    "asyncio/base_events.py:BaseEventLoop._run_once",
    "asyncio/events.py:Handle._run",
    "<frozen runpy>:_run_module_as_main",
    "<frozen runpy>:_run_code",
    "vault_mcp_sidecar/__main__.py:<module>",
    "vault_mcp_sidecar/cli.py:main",
    "vault_mcp_sidecar/cli.py:_serve",
    "uvicorn/main.py:run",
    "uvicorn/server.py:Server.run",
    "uvicorn/_compat.py:asyncio_run",
)
# py-spy sees no C frames: uvloop's loop (epoll, socket I/O, httptools) ends at this one.
_LOOP_FRAME = "asyncio/runners.py:Runner.run"
_LOOP_LABEL = f"{_LOOP_FRAME} (beneath it: uvloop in C: epoll, socket I/O, HTTP parsing)"


class ProfileError(RuntimeError):
    """py-spy is missing or failed."""


@dataclass(frozen=True, slots=True)
class Profile:
    mode: str
    label: str
    rps: float
    cpu_us_per_read: float
    samples: int
    top_self: list[Share]
    top_inclusive: list[Share]
    top_packages: list[Share]


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise ProfileError("py-spy not found: `make install` installs it (requirements-dev.txt)")
    return found


def profile_mode(mode: config.SidecarMode, duration_s: int, workdir: Path) -> Profile:
    with contextlib.ExitStack() as stack:
        bao = start_openbao(stack)
        provision(bao)
        sidecar = start_sidecar(stack, bao, workdir, mode)
        url = f"{sidecar.url}/secrets/{config.SECRET_PATH}"
        target = Target(mode.key, mode.label, url, {"X-API-Key": config.API_KEY}, ("data", "v"))
        probe(target, config.SECRET_VALUE)
        run_wrk(target, 16, 2, 2)  # warm-up
        raw = OUT / f"profile-{mode.key}.txt"
        spy = subprocess.Popen(
            [
                py_spy(),
                "record",
                "--pid",
                str(sidecar.pid),
                "--rate",
                str(RATE_HZ),
                "--format",
                "raw",
                "--nonblocking",  # never pause the sidecar (--native would, and skew it)
                "--output",
                str(raw),
                "--duration",
                str(duration_s + 2),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        stack.callback(_stop, spy)
        time.sleep(1)  # py-spy attached before the load starts
        cpu_before = cpu_seconds(sidecar.pid)
        run = run_wrk(target, 16, 2, duration_s)
        cpu = cpu_seconds(sidecar.pid) - cpu_before
        _, err = spy.communicate(timeout=duration_s + 30)
        if spy.returncode != 0 or not raw.exists():
            raise ProfileError(f"py-spy failed ({spy.returncode}): {err.decode()[-1000:]}")
    stacks = parse_collapsed(raw.read_text())
    return Profile(
        mode=mode.key,
        label=mode.label,
        rps=run.rps,
        cpu_us_per_read=cpu / run.requests * 1e6,
        samples=total(stacks),
        top_self=_named(self_shares(stacks, 15)),
        top_inclusive=inclusive_shares(stacks, 20, skip=SCAFFOLDING),
        top_packages=self_shares(stacks, 10, key="package"),
    )


def _named(shares: list[Share]) -> list[Share]:
    return [Share(_LOOP_LABEL, s.fraction) if s.name == _LOOP_FRAME else s for s in shares]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)


def markdown(found: Profile) -> str:
    head = (
        f"### {found.label}\n\n{found.rps:.0f} req/s under the profiler; sidecar CPU "
        f"**{found.cpu_us_per_read:.0f} µs per read**; {found.samples} samples\n"
    )
    return "\n\n".join(
        [
            head,
            share_table("self time: frame", found.top_self),
            share_table("inclusive: frame (event loop left out)", found.top_inclusive),
            share_table("self time: package", found.top_packages),
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.profile",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    keys = [mode.key for mode in config.SIDECAR_MODES]
    parser.add_argument("--modes", default="sidecar,sidecar-child", help=", ".join(keys))
    parser.add_argument("--duration", type=int, default=15, help="seconds under load (15)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 s")
    args = parser.parse_args(argv)
    wanted = [m for m in args.modes.split(",") if m]
    if not set(wanted) <= set(keys):
        parser.error(f"--modes: from {', '.join(keys)}")
    duration = 3 if args.quick else args.duration
    load_before = os.getloadavg()[0]
    profiles = []
    try:
        wrk_binary()
        py_spy()
        OUT.mkdir(exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
            for key in wanted:
                profiles.append(profile_mode(config.mode(key), duration, Path(tmp)))
    except (ProfileError, LoadError, StackError, WrkOutputError, OpenBaoUnavailable) as exc:
        print(f"bench.profile failed: {exc}", file=sys.stderr)
        return 1
    print(
        f"Profile: py-spy {RATE_HZ} Hz non-blocking, wrk 16 connections x {duration} s; "
        f"{os.cpu_count()} CPU(s), load average before {load_before:.2f}; "
        f"sidecar {sidecar_source(REPO)}\n"
    )
    for found in profiles:
        print(markdown(found) + "\n")
    summary = {
        "source": sidecar_source(REPO),
        "load_before": load_before,
        "duration_s": duration,
        "profiles": [asdict(p) for p in profiles],
    }
    save_json(OUT / "profile.json", summary)
    print(f"Raw stacks: {OUT}/profile-<mode>.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
