"""An agent's AppRole credentials and where the operator keeps them.

`CredentialStore` is the boundary: `FileCredentialStore` (offline `apply --credentials-dir`)
here, a Kubernetes Secret store in `kube_secrets`. The store remembers the accessor of the
current secret_id and of the one it replaced, so the operator can tell whether the secret_id
still exists in Vault and destroy the old one after its grace period.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from vault_mcp_operator.names import AgentNames


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a sidecar logs in with (role_id, secret_id) and the operator's bookkeeping."""

    role_id: str
    secret_id: str
    accessor: str
    expires_at: datetime
    previous_accessor: str | None = None  # the replaced secret_id, until destroyed
    rotated_at: datetime | None = None  # when `previous_accessor` was replaced

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["expires_at"] = self.expires_at.isoformat()
        data["rotated_at"] = self.rotated_at.isoformat() if self.rotated_at else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Credentials:
        rotated = data.get("rotated_at")
        return cls(
            role_id=str(data["role_id"]),
            secret_id=str(data["secret_id"]),
            accessor=str(data["accessor"]),
            expires_at=datetime.fromisoformat(str(data["expires_at"])),
            previous_accessor=data.get("previous_accessor"),
            rotated_at=datetime.fromisoformat(str(rotated)) if rotated else None,
        )


class CredentialStore(Protocol):
    """Where an agent's credentials live. `load` returns None only when there are none: a
    store that cannot be read must raise, or the operator would issue a new secret_id."""

    def load(self, names: AgentNames) -> Credentials | None: ...

    def save(self, names: AgentNames, credentials: Credentials) -> None: ...

    def delete(self, names: AgentNames) -> None: ...


class FileCredentialStore:
    """`DIR/<agent id>.json`, mode 0600: the offline mode's store (and the demo's)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, names: AgentNames) -> Path:
        return self.directory / f"{names.subject}.json"

    def load(self, names: AgentNames) -> Credentials | None:
        try:
            text = self.path(names).read_text()
        except FileNotFoundError:
            return None
        return Credentials.from_json(json.loads(text))

    def save(self, names: AgentNames, credentials: Credentials) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_private(self.path(names), json.dumps(credentials.to_json(), indent=2) + "\n")

    def delete(self, names: AgentNames) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(names).unlink()


def write_private(path: Path, text: str) -> None:
    """Write `path` readable by its owner only, atomically (a reader never sees half)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)
    tmp.replace(path)
