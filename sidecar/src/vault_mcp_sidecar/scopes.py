"""Scopes: the operations a caller may perform, and how credentials express them."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    LIST = "list"
    DELETE = "delete"


ALL_SCOPES: frozenset[Scope] = frozenset(Scope)


class ScopeError(ValueError):
    """A credential named a scope this product does not know."""


def parse_scopes(raw: object) -> frozenset[Scope]:
    """Scopes from a credential: a list (`scopes` claim) or a space/comma-separated string.

    Unknown names are an error rather than silently dropped, so a typo in a token or key map
    shows up instead of quietly granting less (or, after a rename, more) than intended.
    """
    if isinstance(raw, str):
        items: Iterable[object] = raw.replace(",", " ").split()
    elif isinstance(raw, list | tuple | set | frozenset):
        items = raw
    else:
        raise ScopeError("scopes must be a list or a space-separated string")
    scopes: set[Scope] = set()
    for item in items:
        if not isinstance(item, str) or item not in Scope.__members__.values():
            raise ScopeError(f"unknown scope {str(item)[:32]!r}")
        scopes.add(Scope(item))
    return frozenset(scopes)
