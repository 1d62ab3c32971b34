"""credentials: the JSON round trip and the file store (0600, atomic, idempotent delete)."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

from vault_mcp_operator.credentials import Credentials, FileCredentialStore
from vault_mcp_operator.names import AgentNames

CREDS = Credentials(
    role_id="r",
    secret_id="s",
    accessor="a",
    expires_at=datetime(2026, 1, 2, tzinfo=UTC),
    previous_accessor="old",
    rotated_at=datetime(2026, 1, 1, 12, tzinfo=UTC),
)


def test_json_round_trip() -> None:
    assert Credentials.from_json(CREDS.to_json()) == CREDS
    fresh = Credentials("r", "s", "a", datetime(2026, 1, 2, tzinfo=UTC))
    assert Credentials.from_json(fresh.to_json()) == fresh


def test_file_store(tmp_path: Path, names: AgentNames) -> None:
    store = FileCredentialStore(tmp_path / "creds")
    assert store.load(names) is None
    store.save(names, CREDS)
    path = store.path(names)
    assert path.name == "team-a.alice.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.load(names) == CREDS
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left
    store.delete(names)
    store.delete(names)
    assert store.load(names) is None
