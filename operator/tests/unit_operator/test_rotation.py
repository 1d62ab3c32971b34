"""rotation: when a secret_id is rotated and when the replaced one may be destroyed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vault_mcp_operator.rotation import grace_over, next_due, rotate_at, rotation_due

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = 24 * 3600


@pytest.mark.parametrize(
    ("elapsed_hours", "due"),
    [(0, False), (15.9, False), (16.01, True), (23, True), (24, True), (30, True)],
)
def test_rotation_after_two_thirds_of_the_ttl(elapsed_hours: float, due: bool) -> None:
    expires = T0 + timedelta(seconds=DAY)
    now = T0 + timedelta(hours=elapsed_hours)
    assert rotation_due(expires, DAY, 1 / 3, now) is due


def test_rotate_at_is_where_due_turns_true() -> None:
    expires = T0 + timedelta(seconds=DAY)
    at = rotate_at(expires, DAY, 1 / 3)
    assert at == T0 + timedelta(hours=16)
    assert not rotation_due(expires, DAY, 1 / 3, at - timedelta(seconds=1))
    assert rotation_due(expires, DAY, 1 / 3, at + timedelta(seconds=1))


@pytest.mark.parametrize(("seconds", "over"), [(0, False), (299, False), (300, True), (900, True)])
def test_grace(seconds: int, over: bool) -> None:
    assert grace_over(T0, 300, T0 + timedelta(seconds=seconds)) is over


def test_next_due_is_rotation_or_end_of_grace() -> None:
    expires = T0 + timedelta(seconds=DAY)
    assert next_due(expires, DAY, 1 / 3, None, 300) == T0 + timedelta(hours=16)
    rotated = T0 + timedelta(minutes=1)
    assert next_due(expires, DAY, 1 / 3, rotated, 300) == rotated + timedelta(seconds=300)
