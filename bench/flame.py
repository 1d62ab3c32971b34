"""Pure reading of a sampling profile in collapsed-stack form (`py-spy record --format raw`).

Each line is `frame;frame;...;leaf <count>`, outermost frame first, a frame being
`function (file:line)`. From it: the share of samples each frame is *on the stack* for
(inclusive: "a read spends 30 % inside aiohttp's request") and the share it is the *leaf* for
(self: "8 % of the time is json.dumps itself"), and the same grouped by package.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^():]*)(?::(?P<line>\d+))?\)$")
_SITE = re.compile(r".*/(?:site-packages|dist-packages|lib/python3\.\d+)/")


@dataclass(frozen=True, slots=True)
class Stack:
    frames: tuple[str, ...]  # outermost first
    count: int


@dataclass(frozen=True, slots=True)
class Share:
    name: str
    fraction: float  # of all samples


def parse_collapsed(text: str) -> list[Stack]:
    """Every `stack count` line; blank or malformed lines are skipped."""
    stacks = []
    for line in text.splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        stacks.append(Stack(tuple(stack.split(";")), int(count)))
    return stacks


def frame_name(frame: str) -> str:
    """`function (path/to/module.py:12)` -> `module.py:function`, line numbers dropped so that
    the samples of one function add up."""
    match = _FRAME.match(frame)
    if match is None:
        return frame
    return f"{_short_file(match['file'])}:{match['function']}"


def package(frame: str) -> str:
    """The top-level package (or stdlib module) a frame's file belongs to."""
    match = _FRAME.match(frame)
    path = match["file"] if match else frame
    relative = _SITE.sub("", path)
    if relative == path:  # not under a site or stdlib dir: the repo's own source trees
        for marker in ("/src/", "src/"):
            if marker in path:
                relative = path.split(marker, 1)[1]
                break
    head = relative.split("/", 1)[0]
    return head.removesuffix(".py") or "?"


def _short_file(path: str) -> str:
    relative = _SITE.sub("", path)
    if "/src/" in relative:
        relative = relative.split("/src/", 1)[1]
    return relative


def total(stacks: Iterable[Stack]) -> int:
    return sum(stack.count for stack in stacks)


def self_shares(stacks: Sequence[Stack], top: int, key: str = "frame") -> list[Share]:
    """Leaf frames (or their packages, `key="package"`) by share of samples, largest first."""
    name = frame_name if key == "frame" else package
    counts: Counter[str] = Counter()
    for stack in stacks:
        counts[name(stack.frames[-1])] += stack.count
    return _ranked(counts, total(stacks), top)


def inclusive_shares(
    stacks: Sequence[Stack], top: int, key: str = "frame", skip: Iterable[str] = ()
) -> list[Share]:
    """Frames (or packages) by share of samples they appear anywhere in, counted once per stack.

    `skip` drops names (e.g. the event loop's run_forever) that are on every stack and say
    nothing.
    """
    name = frame_name if key == "frame" else package
    ignored = set(skip)
    counts: Counter[str] = Counter()
    for stack in stacks:
        for seen in {name(frame) for frame in stack.frames} - ignored:
            counts[seen] += stack.count
    return _ranked(counts, total(stacks), top)


def only_threads(stacks: Iterable[Stack], marker: str) -> list[Stack]:
    """The stacks whose frames mention `marker` (e.g. one thread's entry function)."""
    return [stack for stack in stacks if any(marker in frame for frame in stack.frames)]


def _ranked(counts: Counter[str], samples: int, top: int) -> list[Share]:
    if samples == 0:
        return []
    return [Share(name, count / samples) for name, count in counts.most_common(top)]


def share_table(title: str, shares: Sequence[Share]) -> str:
    """A Markdown table: name and percentage of samples."""
    rows = [f"| {title} | share of samples |", "|---|---:|"]
    rows += [f"| `{share.name}` | {share.fraction:.1%} |" for share in shares]
    return "\n".join(rows)
