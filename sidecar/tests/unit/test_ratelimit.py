"""ratelimit.AgentRateLimiter: N requests per window per agent, then RateLimited."""

from __future__ import annotations

import pytest

from vault_mcp_sidecar.ratelimit import AgentRateLimiter, RateLimited

# A long window, so no request in these tests can age out of it while they run.
WINDOW = 3600


@pytest.mark.parametrize("limit", [1, 3, 60])
def test_n_hits_pass_and_the_next_is_refused(limit: int) -> None:
    limiter = AgentRateLimiter(limit, WINDOW)
    for _ in range(limit):
        limiter.hit("alice")
    with pytest.raises(RateLimited) as info:
        limiter.hit("alice")
    assert 1 <= info.value.retry_after <= WINDOW
    assert str(info.value) == "rate limit exceeded"


def test_refused_hits_keep_being_refused() -> None:
    limiter = AgentRateLimiter(2, WINDOW)
    limiter.hit("alice")
    limiter.hit("alice")
    for _ in range(3):
        with pytest.raises(RateLimited):
            limiter.hit("alice")


def test_subjects_are_independent() -> None:
    limiter = AgentRateLimiter(2, WINDOW)
    limiter.hit("alice")
    limiter.hit("alice")
    with pytest.raises(RateLimited):
        limiter.hit("alice")
    limiter.hit("bob")
    limiter.hit("bob")
    with pytest.raises(RateLimited):
        limiter.hit("bob")
    limiter.hit("team-a.alice")


def test_limiters_do_not_share_state() -> None:
    first = AgentRateLimiter(1, WINDOW)
    second = AgentRateLimiter(1, WINDOW)
    first.hit("alice")
    second.hit("alice")
    with pytest.raises(RateLimited):
        first.hit("alice")
