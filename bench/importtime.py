"""Pure reading of `python -X importtime` output: where an interpreter's start goes, by package.

Each line is `import time: <self us> | <cumulative us> | <indent><module>`. Cumulative times
nest (fastapi's includes pydantic's), so adding them double-counts; self times do not, so the
sum of self times per top-level package splits the whole import cost without overlap.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_PREFIX = "import time:"


@dataclass(frozen=True, slots=True)
class ImportLine:
    module: str
    self_us: int
    cumulative_us: int


@dataclass(frozen=True, slots=True)
class ImportCost:
    """All modules of one top-level package: their self times added up."""

    package: str
    self_ms: float
    modules: int


def parse_importtime(stderr: str) -> list[ImportLine]:
    """Every import line; the header line and anything else on stderr are skipped."""
    found = []
    for line in stderr.splitlines():
        if not line.startswith(_PREFIX):
            continue
        fields = line[len(_PREFIX) :].split("|")
        if len(fields) != 3 or not fields[0].strip().isdigit():
            continue  # the "self [us] | cumulative | imported package" header
        found.append(ImportLine(fields[2].strip(), int(fields[0]), int(fields[1])))
    return found


def heaviest_packages(lines: Iterable[ImportLine], top: int) -> list[ImportCost]:
    """The `top` top-level packages by summed self time, heaviest first."""
    self_us: dict[str, int] = defaultdict(int)
    modules: dict[str, int] = defaultdict(int)
    for line in lines:
        package = line.module.split(".", 1)[0]
        self_us[package] += line.self_us
        modules[package] += 1
    ranked = sorted(self_us, key=lambda name: self_us[name], reverse=True)[:top]
    return [ImportCost(name, self_us[name] / 1000, modules[name]) for name in ranked]


def total_ms(lines: Sequence[ImportLine]) -> float:
    """All imports' self times: the whole import phase of the measured interpreter."""
    return sum(line.self_us for line in lines) / 1000
