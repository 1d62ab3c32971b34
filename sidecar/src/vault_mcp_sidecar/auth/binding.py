"""Bound mode (`AGENT_ID`) and the allowlists that go with it: the pure rules.

A bound sidecar serves exactly one agent. A JWT's `sub` or an mTLS identity then names the
*caller*, which may act as the agent only if it is in `JWT_ALLOWED_SUBJECTS` /
`MTLS_ALLOWED_IDENTITIES` (when those are set). API keys may come from a mounted Kubernetes
Secret (`API_KEYS_DIR`): one key per file, re-read when the directory changes.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from vault_mcp_sidecar.scopes import Scope

MAX_CALLER_NAME = 256
MIN_API_KEY_CHARS = 16
SPIFFE_PREFIX = "spiffe://"
CN_PREFIX = "CN="

log = logging.getLogger(__name__)


class BindingError(ValueError):
    """A bad allowlist entry or key file; the message names no secret."""


def parse_list(raw: str | None) -> frozenset[str] | None:
    """A comma list; None when unset or empty (no restriction)."""
    if raw is None:
        return None
    items = frozenset(item.strip() for item in raw.split(",") if item.strip())
    return items or None


def check_caller_name(name: object) -> str:
    """A caller named by a JWT `sub` in bound mode: 1-256 printable characters."""
    if not isinstance(name, str) or not 0 < len(name) <= MAX_CALLER_NAME or not name.isprintable():
        raise BindingError(f"must be 1-{MAX_CALLER_NAME} printable characters")
    return name


def check_subjects(raw: str | None) -> frozenset[str] | None:
    subjects = parse_list(raw)
    for subject in subjects or ():
        try:
            check_caller_name(subject)
        except BindingError as exc:
            raise BindingError(f"subject {subject[:40]!r}: {exc}") from None
    return subjects


def check_identities(raw: str | None) -> frozenset[str] | None:
    """`spiffe://...` or `CN=<common name>` entries; CN entries are kept as `CN=<value>`."""
    identities = parse_list(raw)
    normalised: set[str] = set()
    for entry in identities or ():
        if entry.startswith(SPIFFE_PREFIX) and len(entry) > len(SPIFFE_PREFIX):
            normalised.add(entry)
        elif entry[:3].upper() == CN_PREFIX and entry[3:].strip():
            normalised.add(CN_PREFIX + entry[3:].strip())
        else:
            raise BindingError(f"entry {entry[:40]!r} must be spiffe://... or CN=<name>")
    return frozenset(normalised) if normalised else None


def identity_allowed(
    allowed: frozenset[str] | None, *, uri: str | None = None, cn: str | None = None
) -> bool:
    """Whether an mTLS caller (XFCC URI or certificate CN) is in the allowlist."""
    if allowed is None:
        return True
    # A URI matches only `spiffe://` entries: an XFCC URI of `CN=x` must not pass as a CN.
    if uri is not None and uri.startswith(SPIFFE_PREFIX) and uri in allowed:
        return True
    return cn is not None and CN_PREFIX + cn in allowed


def effective_scopes(
    granted: frozenset[Scope], agent_scopes: frozenset[Scope] | None
) -> frozenset[Scope]:
    """What a caller may do: its credential's scopes, never more than the agent's."""
    return granted if agent_scopes is None else granted & agent_scopes


# -- API keys from a mounted Secret ---------------------------------------------------------


def read_key_dir(path: Path) -> tuple[list[str], list[str]]:
    """(keys, problems): one key per regular file; dotfiles (kubelet's `..data` and
    `..<timestamp>` entries) are skipped. Problems name files, never key material."""
    keys: list[str] = []
    problems: list[str] = []
    for entry in sorted(os.scandir(path), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        try:
            if not entry.is_file():  # follows the kubelet's symlinks
                continue
            key = Path(entry.path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"file {entry.name!r}: unreadable ({type(exc).__name__})")
            continue
        if len(key) < MIN_API_KEY_CHARS:
            problems.append(f"file {entry.name!r}: API keys must be at least 16 characters")
            continue
        keys.append(key)
    return keys, problems


def dir_signature(path: Path) -> tuple[tuple[str, int, int, int], ...]:
    """Changes whenever a key file is added, removed, replaced or rewritten (by stat only)."""
    signature: list[tuple[str, int, int, int]] = []
    try:
        entries = sorted(os.scandir(path), key=lambda e: e.name)
    except OSError:
        return ()
    for entry in entries:
        try:
            st = entry.stat()  # follows symlinks: a kubelet swap changes the target
        except OSError:
            continue
        signature.append((entry.name, st.st_ino, st.st_mtime_ns, st.st_size))
    return tuple(signature)
