"""Which scope each operation needs: the one table the routes, the fast read lane and the MCP
tool list all use (DESIGN §5). An operation's id is also its MCP tool name."""

from __future__ import annotations

from vault_mcp_sidecar.scopes import Scope

# operation_id -> the scope a caller must hold (None: any authenticated caller).
OPERATION_SCOPES: dict[str, Scope | None] = {
    "write_secret": Scope.WRITE,
    "read_secret": Scope.READ,
    "delete_secret": Scope.DELETE,
    "list_secrets": Scope.LIST,
    "undelete_secret": Scope.WRITE,
    "destroy_secret": Scope.WRITE,
    "transit_encrypt": Scope.WRITE,
    "transit_decrypt": Scope.READ,
    "whoami": None,
}


def required_scope(operation_id: str) -> Scope:
    """The scope of an operation that needs one (a programming error otherwise)."""
    scope = OPERATION_SCOPES[operation_id]
    if scope is None:
        raise ValueError(f"{operation_id} needs no scope")
    return scope


def visible_operations(agent_scopes: frozenset[Scope] | None) -> list[str]:
    """The operations (MCP tools) an agent limited to `agent_scopes` can ever use."""
    return [
        operation
        for operation, scope in OPERATION_SCOPES.items()
        if scope is None or agent_scopes is None or scope in agent_scopes
    ]
