"""Go/Vault style durations (`90s`, `15m`, `1h30m`) to whole seconds, and back.

Vault reads durations back as integer seconds, so the operator compares in seconds.
"""

from __future__ import annotations

import re

_PART = re.compile(r"([0-9]+)([hms])")
_UNIT = {"h": 3600, "m": 60, "s": 1}
# Larger than any TTL Vault accepts in practice (its system max TTL default is 32 days).
MAX_SECONDS = 10 * 365 * 24 * 3600


class DurationError(ValueError):
    """Not a duration this operator understands."""


def parse_duration(value: str | int) -> int:
    """Seconds in `value`: `1h30m`, `90s`, `15m`, or a bare integer of seconds; must be > 0.

    Units appear at most once and in the order h, m, s, as Go prints them, so each duration
    has one spelling that a reader cannot misread (`1m1h` is refused).
    """
    if isinstance(value, bool):
        raise DurationError("must be a duration such as 90s, 15m or 1h30m")
    seconds = value if isinstance(value, int) else _parse_text(value)
    if seconds <= 0:
        raise DurationError("must be greater than zero")
    if seconds > MAX_SECONDS:
        raise DurationError("is longer than ten years")
    return seconds


def _parse_text(text: str) -> int:
    if text.isdigit():
        return int(text)
    parts = _PART.findall(text)
    units = [unit for _, unit in parts]
    well_formed = "".join(f"{n}{u}" for n, u in parts) == text and text != ""
    if not well_formed or units != sorted(set(units), key="hms".index):
        raise DurationError("must be a duration such as 90s, 15m or 1h30m")
    return sum(int(number) * _UNIT[unit] for number, unit in parts)


def format_duration(seconds: int) -> str:
    """The shortest Go-style spelling: 5400 -> `1h30m`, 90 -> `1m30s`, 0 -> `0s`."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = "".join(f"{n}{u}" for n, u in ((hours, "h"), (minutes, "m"), (secs, "s")) if n)
    return text or "0s"
