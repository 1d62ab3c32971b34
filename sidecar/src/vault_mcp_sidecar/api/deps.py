"""Dependencies shared by the routes: the runtime, the caller, scope and rate checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Path, Request

from vault_mcp_sidecar.auth.principal import Principal
from vault_mcp_sidecar.operations import required_scope
from vault_mcp_sidecar.paths import MAX_PATH_LENGTH, PATH_PATTERN, PathError, validate_path
from vault_mcp_sidecar.runtime import Runtime
from vault_mcp_sidecar.scopes import Scope


async def get_runtime(request: Request) -> Runtime:
    # async (like every dependency here): a sync one would hop to a worker thread per request.
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def authenticate(request: Request, runtime: RuntimeDep) -> Principal:
    principal = await runtime.authenticate(request.headers)
    request.state.principal = principal  # for the access/audit log line
    return principal


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


def require(scope: Scope) -> Callable[[Principal, Runtime], Awaitable[Principal]]:
    """Dependency: the caller holds `scope`, and has not used up its rate limit."""

    async def check(principal: CurrentPrincipal, runtime: RuntimeDep) -> Principal:
        runtime.admit(principal, scope)
        return principal

    return check


def admitted(operation_id: str) -> Any:
    """`caller: Annotated[Principal, admitted("write_secret")]`: the caller may run this
    operation — its scope comes from the one table, `operations.OPERATION_SCOPES`."""
    return Depends(require(required_scope(operation_id)))


# Documented, not enforced by FastAPI (that would answer 422): `validate_path` refuses with 400.
_PATH_DOC = Path(
    description="Relative secret path: A-Z a-z 0-9 . _ - segments joined by '/'",
    json_schema_extra={"pattern": PATH_PATTERN, "maxLength": MAX_PATH_LENGTH},
)


async def secret_path(request: Request, path: Annotated[str, _PATH_DOC]) -> str:
    """The `{path}` of a secrets route, refused unless it is a safe relative path.

    Any percent-encoding in the raw URL is refused outright: a valid path never needs it, and
    decoding tricks (`%2e%2e`, `%2f`) are how traversal gets past naive checks.
    """
    if b"%" in request.scope.get("raw_path", b""):
        raise PathError("percent-encoded characters are not allowed in paths")
    return validate_path(path)


SecretPath = Annotated[str, Depends(secret_path)]
