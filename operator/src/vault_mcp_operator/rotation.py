"""When to rotate a secret_id and when to destroy the one it replaced: pure timing rules.

A secret_id is replaced once less than `fraction` of its TTL remains (default 1/3: a 24h
secret_id is rotated after 16h), so pods have hours, not seconds, to pick up the new one.
The replaced one stays valid for a grace period, then is destroyed at a later reconcile.
"""

from __future__ import annotations

from datetime import datetime, timedelta


def rotation_due(expires_at: datetime, ttl_seconds: int, fraction: float, now: datetime) -> bool:
    """True once less than `fraction * ttl` remains before `expires_at` (or it has passed)."""
    return expires_at - now < timedelta(seconds=ttl_seconds * fraction)


def rotate_at(expires_at: datetime, ttl_seconds: int, fraction: float) -> datetime:
    """The moment `rotation_due` turns true: for scheduling the next check."""
    return expires_at - timedelta(seconds=ttl_seconds * fraction)


def grace_over(rotated_at: datetime, grace_seconds: int, now: datetime) -> bool:
    """The replaced secret_id may be destroyed: its grace period has passed."""
    return now - rotated_at >= timedelta(seconds=grace_seconds)


def next_due(
    expires_at: datetime,
    ttl_seconds: int,
    fraction: float,
    rotated_at: datetime | None,
    grace_seconds: int,
) -> datetime:
    """When the credentials next need the operator: rotation, or the end of the grace
    period of a replaced secret_id, whichever comes first (for scheduling a timer)."""
    due = rotate_at(expires_at, ttl_seconds, fraction)
    if rotated_at is not None:
        due = min(due, rotated_at + timedelta(seconds=grace_seconds))
    return due
