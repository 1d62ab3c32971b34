"""The optional per-agent read cache (`READ_CACHE_ENABLED`, off by default): pure logic, no I/O.

A hit answers `GET /secrets/{path}` without minting a child token or calling Vault; the caller
is still authenticated, scope-checked and rate-limited first (that happens before the read).

What it is allowed to be wrong about, and for how long:
- Changes made through this sidecar (write, delete, undelete, destroy) invalidate every cached
  version of that path for that agent as soon as Vault has answered — or failed in a way that
  may have applied the change — so the next read through this sidecar sees them.
- Changes made anywhere else (directly in Vault, through another sidecar replica, the operator
  revoking the agent's policy or deleting its data) are seen only once the entry's TTL has
  run out. That staleness is the price of the speed-up; hence off by default and a short TTL.

Isolation: entries are keyed by the tuple (agent subject, relative path, version or None for
"latest") — a tuple, not a joined string, so no crafted subject/path pair can collide with
another agent's key. Only successful reads are stored; an error is never cached.

A read that was in flight while the same path was invalidated must not put the pre-change
value back: `begin` hands out a `Fill` stamped with the current epoch, every invalidation
advances the epoch and remembers it per path, and `put` drops a fill that began before the
path's last invalidation. Those per-path records are bounded too; when the oldest is forgotten
the `floor` rises past it, and fills that began before the floor are dropped (a harmless miss).

Entries hold secret values in memory only: nothing here logs, and no repr shows a value.
Bodies are shared with callers, who must treat them as read-only (the routes only serialize).
The sidecar runs one event loop in one process, so no locking is needed.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Body = dict[str, Any]
PathKey = tuple[str, str]  # (agent subject, relative path)
EntryKey = tuple[str, str, int | None]  # ... + version (None: latest)


@dataclass(frozen=True, slots=True)
class Fill:
    """A miss about to be filled from Vault: where, and when it began (epoch and clock)."""

    subject: str
    path: str
    version: int | None
    epoch: int
    started: float


class _Entry:
    __slots__ = ("body", "expires")

    def __init__(self, body: Body, expires: float) -> None:
        self.body = body
        self.expires = expires

    def __repr__(self) -> str:
        return "<cached read>"  # never the value


class ReadCache:
    """Successful KV reads per (agent, path, version), for `ttl_seconds`, at most `max_entries`
    (least recently used evicted first; every operation is O(1) apart from `invalidate`, which
    is O(versions of that path cached))."""

    def __init__(
        self,
        ttl_seconds: float,
        max_entries: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_seconds <= 0 or max_entries < 1:
            raise ValueError("ttl_seconds must be > 0 and max_entries >= 1")
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[EntryKey, _Entry] = OrderedDict()
        self._versions: dict[PathKey, set[int | None]] = {}  # for invalidating a whole path
        self._epoch = 0
        self._invalidated: OrderedDict[PathKey, int] = OrderedDict()  # path -> epoch
        self._floor = 0  # fills begun before this epoch can no longer be checked

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"ReadCache(entries={len(self._entries)}, ttl={self._ttl}s, max={self._max})"

    def get(self, subject: str, path: str, version: int | None) -> Body | None:
        """The cached body, or None (absent or expired)."""
        key = (subject, path, version)
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self._clock() >= entry.expires:
            self._remove(key)
            return None
        self._entries.move_to_end(key)
        return entry.body

    def begin(self, subject: str, path: str, version: int | None) -> Fill:
        """Call before asking Vault; pass the result to `put` with Vault's answer."""
        return Fill(subject, path, version, self._epoch, self._clock())

    def put(self, fill: Fill, body: Body) -> bool:
        """Store Vault's answer unless the path was invalidated since `fill` began (or the
        answer is already older than the TTL). True if stored."""
        path_key = (fill.subject, fill.path)
        if fill.epoch < self._floor or self._invalidated.get(path_key, 0) > fill.epoch:
            return False
        # The value was current at some moment after `started`: count the TTL from there.
        expires = fill.started + self._ttl
        if self._clock() >= expires:
            return False
        key = (fill.subject, fill.path, fill.version)
        if key in self._entries:
            self._entries.move_to_end(key)
        self._entries[key] = _Entry(body, expires)
        self._versions.setdefault(path_key, set()).add(fill.version)
        if len(self._entries) > self._max:
            self._remove(next(iter(self._entries)))
        return True

    def invalidate(self, subject: str, path: str) -> None:
        """Forget every cached version of `path` for `subject`, and refuse fills begun before."""
        path_key = (subject, path)
        for version in self._versions.pop(path_key, ()):
            del self._entries[(subject, path, version)]
        self._epoch += 1
        self._invalidated[path_key] = self._epoch
        self._invalidated.move_to_end(path_key)
        if len(self._invalidated) > self._max:
            _, forgotten = self._invalidated.popitem(last=False)
            self._floor = forgotten

    def clear(self) -> None:
        """Forget everything (and refuse every fill in flight)."""
        self._entries.clear()
        self._versions.clear()
        self._invalidated.clear()
        self._epoch += 1
        self._floor = self._epoch

    def _remove(self, key: EntryKey) -> None:
        del self._entries[key]
        path_key = (key[0], key[1])
        versions = self._versions[path_key]
        versions.discard(key[2])
        if not versions:
            del self._versions[path_key]
