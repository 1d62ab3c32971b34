"""Pure timing arithmetic for the smaller benches: samples to a summary, to a verdict.

No I/O and no clock here: the benches measure, this module only counts, so every printed figure
can be checked from the samples in the JSON record.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank `q`-th percentile (0 < q <= 100): a value that was actually measured.

    Nearest rank rather than interpolation, so "p99 of 10,000 samples" is the 9,900th smallest
    sample and a reader can find it in the raw data.
    """
    if not values:
        raise ValueError("no samples")
    if not 0 < q <= 100:
        raise ValueError(f"percentile must be in (0, 100], not {q}")
    ordered = sorted(values)
    rank = math.ceil(q / 100 * len(ordered))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class Summary:
    """Samples in one unit (the caller's: ms or s), summarised."""

    count: int
    minimum: float
    median: float
    p99: float
    maximum: float
    mean: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        if not values:
            raise ValueError("no samples")
        return cls(
            count=len(values),
            minimum=min(values),
            median=statistics.median(values),
            p99=percentile(values, 99),
            maximum=max(values),
            mean=statistics.fmean(values),
        )

    def record(self) -> dict[str, Any]:
        return asdict(self)


def verdict(value: float, limit: float) -> str:
    """`PASS` when `value` is within the upper bound `limit`, else `MISS` (never an error)."""
    return "PASS" if value <= limit else "MISS"


def at_least(value: float, floor: float) -> str:
    """`PASS` when `value` reaches the lower bound `floor`, else `MISS`."""
    return "PASS" if value >= floor else "MISS"
