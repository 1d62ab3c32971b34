"""scopes.parse_scopes: lists and space/comma-separated strings; unknown names are errors."""

from __future__ import annotations

import pytest

from vault_mcp_sidecar.scopes import ALL_SCOPES, Scope, ScopeError, parse_scopes


@pytest.mark.parametrize(
    ("raw", "scopes"),
    [
        (["read"], {Scope.READ}),
        (["read", "write", "read"], {Scope.READ, Scope.WRITE}),
        (("list",), {Scope.LIST}),
        ({"delete"}, {Scope.DELETE}),
        (frozenset({"delete", "list"}), {Scope.DELETE, Scope.LIST}),
        ([], set()),
        ("read write", {Scope.READ, Scope.WRITE}),
        ("read,write,list,delete", set(ALL_SCOPES)),
        (" read ,  list\twrite ", {Scope.READ, Scope.LIST, Scope.WRITE}),
        ("read,,write", {Scope.READ, Scope.WRITE}),
        ("", set()),
        ([Scope.READ], {Scope.READ}),
    ],
)
def test_parse_scopes(raw: object, scopes: set[Scope]) -> None:
    result = parse_scopes(raw)
    assert result == frozenset(scopes)
    assert all(isinstance(s, Scope) for s in result)


@pytest.mark.parametrize(
    "raw",
    [
        ["read", "admin"],
        "read sudo",
        "READ",  # case matters: a scope is an exact name
        ["Read"],
        "read;write",
        [1],
        [None],
        [["read"]],
        ["read write"],
        [True],
    ],
)
def test_unknown_scopes_are_errors(raw: object) -> None:
    with pytest.raises(ScopeError, match="unknown scope"):
        parse_scopes(raw)


@pytest.mark.parametrize("raw", [None, 1, 1.5, {"read": True}, b"read", True])
def test_non_list_types_are_errors(raw: object) -> None:
    with pytest.raises(ScopeError, match="must be a list"):
        parse_scopes(raw)


def test_unknown_scope_message_is_bounded() -> None:
    with pytest.raises(ScopeError) as info:
        parse_scopes(["x" * 1000])
    assert len(str(info.value)) < 64


def test_all_scopes() -> None:
    assert {s.value for s in ALL_SCOPES} == {"read", "write", "list", "delete"}
