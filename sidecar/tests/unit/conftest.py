"""Unit-test fixtures: no test sees the developer's or CI's sidecar environment."""

from __future__ import annotations

import os

import pytest

from vault_mcp_sidecar.config import Settings


@pytest.fixture(autouse=True)
def _clean_settings_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove every environment variable Settings would read (its names are case-insensitive)."""
    fields = set(Settings.model_fields)
    for name in list(os.environ):
        if name.lower() in fields:
            monkeypatch.delenv(name)
