"""Health, identity, metrics and (opt-in) debug routes."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from vault_mcp_sidecar.api.deps import CurrentPrincipal, RuntimeDep
from vault_mcp_sidecar.api.errors import error_responses
from vault_mcp_sidecar.api.models import WhoAmI
from vault_mcp_sidecar.metrics import CONTENT_TYPE

router = APIRouter(tags=["system"])
metrics_router = APIRouter(tags=["system"])
debug_router = APIRouter(tags=["debug"])

# Headers /echo-headers never shows, even in debug: they are credentials.
_CREDENTIAL_HEADERS = {"authorization", "x-api-key", "cookie", "x-vault-token"}


@router.get("/healthz", operation_id="healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    """Liveness/readiness: the process serves HTTP. Needs no credential."""
    return {"status": "ok"}


@router.get(
    "/whoami", operation_id="whoami", response_model=WhoAmI, responses=error_responses("whoami")
)
async def whoami(caller: CurrentPrincipal) -> WhoAmI:
    """Who the sidecar thinks the caller is, and with which scopes."""
    return WhoAmI(
        subject=caller.subject,
        scopes=sorted(s.value for s in caller.scopes),
        auth_mode=caller.mode.value,
        identity=caller.identity,
    )


@metrics_router.get("/metrics", operation_id="metrics", include_in_schema=False)
async def metrics(runtime: RuntimeDep) -> Response:
    """Prometheus text exposition (METRICS_ENABLED). No credential, like /healthz: the sidecar
    listens on localhost, and no label holds a secret name or value (see `metrics`)."""
    assert runtime.metrics is not None, "mounted only when metrics are enabled"
    return Response(runtime.metrics.exposition(), media_type=CONTENT_TYPE)


@debug_router.get("/echo-headers", operation_id="echo_headers", include_in_schema=False)
async def echo_headers(request: Request, _caller: CurrentPrincipal) -> dict[str, str]:
    """The headers as the sidecar received them, after trusted-proxy filtering."""
    return {
        name: ("<redacted>" if name in _CREDENTIAL_HEADERS else value)
        for name, value in request.headers.items()
    }
