"""The FastAPI application: wiring only (DESIGN §5). `create_app` is the uvicorn factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from vault_mcp_sidecar import __version__
from vault_mcp_sidecar.api.errors import install_error_handlers
from vault_mcp_sidecar.api.fast_read import FastReadMiddleware
from vault_mcp_sidecar.api.middleware import OperationNoteMiddleware, RequestContextMiddleware
from vault_mcp_sidecar.api.routes import secrets, system, transit
from vault_mcp_sidecar.auth.trusted_proxies import TrustedProxyMiddleware
from vault_mcp_sidecar.config import Settings, load_settings
from vault_mcp_sidecar.logs import configure_logging
from vault_mcp_sidecar.mcp_server import mount_mcp
from vault_mcp_sidecar.runtime import build_runtime


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(settings.log_level)
    runtime = build_runtime(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.close()

    app = FastAPI(
        title="Vault MCP Bridge sidecar",
        version=__version__,
        description="Agent-scoped access to Vault/OpenBao KV v2 and Transit, as REST and MCP.",
        lifespan=lifespan,
        # No OpenTelemetry here: FastAPI's native telemetry otherwise looks up its providers
        # on every request (measured 3-6% of a KV read's CPU).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    app.include_router(system.router)
    if settings.debug_endpoints_enabled:
        app.include_router(system.debug_router)
    if runtime.metrics is not None:
        app.include_router(system.metrics_router)
    app.include_router(secrets.router)
    app.include_router(transit.router)
    mount_mcp(app, settings, runtime.metrics)
    mtls_headers = [
        settings.mtls_identity_header,
        settings.mtls_verify_header,
        settings.mtls_xfcc_header,
    ]
    app.add_middleware(OperationNoteMiddleware)  # added first, so innermost: next to routing
    app.add_middleware(FastReadMiddleware, runtime=runtime)
    app.add_middleware(
        TrustedProxyMiddleware, networks=settings.trusted_proxies, headers=mtls_headers
    )
    # Added last, so it runs first: every response, even a 413, gets a request id.
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        metrics=runtime.metrics,
    )
    return app
