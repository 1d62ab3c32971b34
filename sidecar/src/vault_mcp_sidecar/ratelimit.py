"""Per-agent rate limiting with the `limits` library (moving window, in memory)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__("rate limit exceeded")
        self.retry_after = retry_after


class AgentRateLimiter:
    """`requests` per `window_seconds` for each agent id, counted in this process."""

    def __init__(
        self,
        requests: int,
        window_seconds: int,
        on_limited: Callable[[str], None] | None = None,
    ) -> None:
        self._item = RateLimitItemPerSecond(requests, window_seconds)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._on_limited = on_limited  # told the agent id of every refused hit (metrics)

    def hit(self, subject: str) -> None:
        if self._limiter.hit(self._item, subject):
            return
        if self._on_limited is not None:
            self._on_limited(subject)
        reset_at = self._limiter.get_window_stats(self._item, subject).reset_time
        raise RateLimited(max(1, math.ceil(reset_at - time.time())))
