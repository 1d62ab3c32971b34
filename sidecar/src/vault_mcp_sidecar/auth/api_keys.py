"""API key authentication (`X-API-Key`), against the `API_KEYS_JSON` map and, in bound mode,
the keys mounted in `API_KEYS_DIR` (re-read when the directory changes)."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from vault_mcp_sidecar.auth.binding import dir_signature, read_key_dir
from vault_mcp_sidecar.auth.principal import AuthError, AuthMode, Principal
from vault_mcp_sidecar.scopes import Scope

# A rotated key Secret is noticed within this long, at the cost of one directory scan.
KEY_DIR_CHECK_SECONDS = 1.0

log = logging.getLogger(__name__)


def fingerprint(api_key: str) -> str:
    """A short, non-reversible name for a key, fit for logs."""
    return "key:" + hashlib.sha256(api_key.encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class KeyDir:
    """A mounted Secret whose every file is one API key of `subject`."""

    path: Path
    subject: str


class ApiKeyAuthenticator:
    """Looks keys up by their SHA-256 digest.

    Storing digests means the lookup compares digests, not secrets, so a timing difference
    reveals nothing usable about any key.
    """

    def __init__(
        self,
        keys: dict[str, tuple[str, frozenset[Scope] | None]],
        default_scopes: frozenset[Scope],
        key_dir: KeyDir | None = None,
    ) -> None:
        self._default_scopes = default_scopes
        self._static: dict[bytes, Principal] = {
            _digest(key): self._principal(key, subject, scopes)
            for key, (subject, scopes) in keys.items()
        }
        self._by_digest = self._static
        self._key_dir = key_dir
        self._signature: tuple[tuple[str, int, int, int], ...] = ()
        self._next_check = 0.0
        if key_dir is not None:
            self._reload(key_dir)

    def authenticate(self, presented: str) -> Principal:
        if self._key_dir is not None:
            self._maybe_reload(self._key_dir)
        principal = self._by_digest.get(_digest(presented))
        if principal is None:
            raise AuthError("invalid API key")
        return principal

    def _principal(self, key: str, subject: str, scopes: frozenset[Scope] | None) -> Principal:
        return Principal(
            subject=subject,
            scopes=self._default_scopes if scopes is None else scopes,
            mode=AuthMode.API_KEY,
            identity=fingerprint(key),
        )

    def _maybe_reload(self, key_dir: KeyDir) -> None:
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + KEY_DIR_CHECK_SECONDS
        if dir_signature(key_dir.path) != self._signature:
            self._reload(key_dir)

    def _reload(self, key_dir: KeyDir) -> None:
        self._signature = dir_signature(key_dir.path)
        try:
            keys, problems = read_key_dir(key_dir.path)
        except OSError as exc:
            log.warning(
                "API_KEYS_DIR unreadable, keeping the previous keys: %s", type(exc).__name__
            )
            return
        for problem in problems:
            log.warning("API_KEYS_DIR: %s (ignored)", problem)
        merged = dict(self._static)
        merged.update({_digest(key): self._principal(key, key_dir.subject, None) for key in keys})
        self._by_digest = merged
        log.info("API_KEYS_DIR: %d key(s) loaded", len(keys))


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()
