"""durations: Go/Vault duration strings to seconds and back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vault_mcp_operator.durations import (
    MAX_SECONDS,
    DurationError,
    format_duration,
    parse_duration,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("1h", 3600), ("1h30m", 5400), ("1h0m5s", 3605), ("45", 45)],
)
def test_parse(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


def test_integers_are_seconds() -> None:
    assert parse_duration(300) == 300


@pytest.mark.parametrize(
    "bad", ["", "0s", "0", "-5s", "1d", "1m1h", "1h1h", "1.5h", "h", "1 h", " 1h", "1H", "∞"]
)
def test_refused(bad: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(bad)


@pytest.mark.parametrize("bad", [0, -1, True, MAX_SECONDS + 1])
def test_refused_numbers(bad: int) -> None:
    with pytest.raises(DurationError):
        parse_duration(bad)


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (90, "1m30s"), (3600, "1h"), (5400, "1h30m"), (86400, "24h")]
)
def test_format(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.integers(min_value=1, max_value=MAX_SECONDS))
def test_round_trip(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds
