"""KV v2 routes under the caller's own subtree (DESIGN §5)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from vault_mcp_sidecar.api.deps import RuntimeDep, SecretPath, admitted
from vault_mcp_sidecar.api.errors import error_responses
from vault_mcp_sidecar.api.media_type import JsonBodyRoute
from vault_mcp_sidecar.api.models import (
    DeleteResult,
    Secret,
    SecretList,
    SecretVersion,
    VersionsRequest,
    VersionsResult,
    WriteSecretRequest,
)
from vault_mcp_sidecar.auth.principal import Principal
from vault_mcp_sidecar.paths import FOLDER_PATTERN, validate_path
from vault_mcp_sidecar.runtime import Runtime

router = APIRouter(prefix="/secrets", tags=["secrets"], route_class=JsonBodyRoute)


@router.put(
    "/{path:path}",
    operation_id="write_secret",
    response_model=SecretVersion,
    responses=error_responses("write_secret"),
)
async def write_secret(
    path: SecretPath,
    body: WriteSecretRequest,
    caller: Annotated[Principal, admitted("write_secret")],
    runtime: RuntimeDep,
) -> dict[str, Any]:
    """Write a new version of the secret at `path` (optionally check-and-set)."""
    token = await runtime.token_for(caller)
    async with _changing(runtime, caller, path):
        info = await runtime.kv.write(token, caller.subject, path, body.data, body.cas)
    return {"path": path, **info}


@router.get(
    "/{path:path}",
    operation_id="read_secret",
    response_model=Secret,
    responses=error_responses("read_secret"),
)
async def read_secret(
    path: SecretPath,
    caller: Annotated[Principal, admitted("read_secret")],
    runtime: RuntimeDep,
    version: Annotated[int | None, Query(ge=1, description="A specific version")] = None,
) -> dict[str, Any]:
    """Read the latest (or a given) version of the secret at `path`."""
    return await read(runtime, caller, path, version)


async def read(
    runtime: Runtime, caller: Principal, path: str, version: int | None
) -> dict[str, Any]:
    """The read operation itself; also served by `api.fast_read` without FastAPI.

    The caller has been authenticated and admitted already (both lanes do that first), so a
    cache hit skips only the child-token mint and the Vault call. See `read_cache` for what a
    hit may be stale about.
    """
    cache = runtime.read_cache
    if cache is None:
        return await _read_from_vault(runtime, caller, path, version)
    cached = cache.get(caller.subject, path, version)
    if cached is not None:
        return cached
    fill = cache.begin(caller.subject, path, version)
    body = await _read_from_vault(runtime, caller, path, version)  # an error is not cached
    cache.put(fill, body)
    return body


async def _read_from_vault(
    runtime: Runtime, caller: Principal, path: str, version: int | None
) -> dict[str, Any]:
    token = await runtime.token_for(caller)
    return {"path": path, **await runtime.kv.read(token, caller.subject, path, version)}


@asynccontextmanager
async def _changing(runtime: Runtime, caller: Principal, path: str) -> AsyncIterator[None]:
    """Around a change to `path`: afterwards, this agent's cached reads of it are gone.

    Also when the change failed: a timeout or a 5xx may come after Vault applied it, and an
    invalidation costs no more than one cache miss. Done after Vault's answer, not before, so
    a read racing the change cannot refill the cache with the old value (`ReadCache.put`
    refuses a fill begun before the invalidation). Every route that changes a secret's data
    or versions goes through here; the sidecar exposes no metadata delete.
    """
    try:
        yield
    finally:
        if runtime.read_cache is not None:
            runtime.read_cache.invalidate(caller.subject, path)


@router.delete(
    "/{path:path}",
    operation_id="delete_secret",
    response_model=DeleteResult,
    responses=error_responses("delete_secret"),
)
async def delete_secret(
    path: SecretPath, caller: Annotated[Principal, admitted("delete_secret")], runtime: RuntimeDep
) -> DeleteResult:
    """Soft-delete the latest version (undelete brings it back)."""
    token = await runtime.token_for(caller)
    async with _changing(runtime, caller, path):
        await runtime.kv.delete_latest(token, caller.subject, path)
    return DeleteResult(path=path)


@router.get(
    "",
    operation_id="list_secrets",
    response_model=SecretList,
    responses=error_responses("list_secrets"),
)
async def list_secrets(
    caller: Annotated[Principal, admitted("list_secrets")],
    runtime: RuntimeDep,
    prefix: Annotated[
        str,
        Query(
            max_length=512,
            description="Folder to list, e.g. app/",
            json_schema_extra={"pattern": FOLDER_PATTERN},  # documented; 400 from validate_path
        ),
    ] = "",
) -> SecretList:
    """List keys under `prefix` (folders end in `/`)."""
    validate_path(prefix, allow_empty=True)
    token = await runtime.token_for(caller)
    return SecretList(keys=await runtime.kv.list_keys(token, caller.subject, prefix))


@router.post(
    "/{path:path}:undelete",
    operation_id="undelete_secret",
    response_model=VersionsResult,
    responses=error_responses("undelete_secret"),
)
async def undelete_secret(
    path: SecretPath,
    body: VersionsRequest,
    caller: Annotated[Principal, admitted("undelete_secret")],
    runtime: RuntimeDep,
) -> VersionsResult:
    """Restore soft-deleted versions."""
    return await _on_versions("undelete", runtime, caller, path, body)


@router.post(
    "/{path:path}:destroy",
    operation_id="destroy_secret",
    response_model=VersionsResult,
    responses=error_responses("destroy_secret"),
)
async def destroy_secret(
    path: SecretPath,
    body: VersionsRequest,
    caller: Annotated[Principal, admitted("destroy_secret")],
    runtime: RuntimeDep,
) -> VersionsResult:
    """Permanently destroy versions (cannot be undone)."""
    return await _on_versions("destroy", runtime, caller, path, body)


async def _on_versions(
    op: Literal["undelete", "destroy"],
    runtime: Runtime,
    caller: Principal,
    path: str,
    body: VersionsRequest,
) -> VersionsResult:
    """Undelete or destroy the listed versions of the secret at `path`."""
    token = await runtime.token_for(caller)
    async with _changing(runtime, caller, path):
        await runtime.kv.versions_op(op, token, caller.subject, path, body.versions)
    return VersionsResult(path=path, versions=body.versions)
