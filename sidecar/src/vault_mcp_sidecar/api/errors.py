"""Exceptions -> JSON `{"detail": ...}` with the status codes of DESIGN §5.

Messages are fixed strings or come from our own validators: never a secret value, never an
echo of what the caller sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from vault_mcp_sidecar.api.media_type import UnsupportedMediaType
from vault_mcp_sidecar.api.models import ErrorBody
from vault_mcp_sidecar.auth.principal import AuthError, ForbiddenError
from vault_mcp_sidecar.naming import InvalidName
from vault_mcp_sidecar.paths import PathError
from vault_mcp_sidecar.ratelimit import RateLimited
from vault_mcp_sidecar.vault.errors import MintRefused, VaultError, VaultUnavailable
from vault_mcp_sidecar.vault.kv import CasMismatch, SecretNotFound
from vault_mcp_sidecar.vault.transit import TransitInputError, TransitKeyNotFound

log = logging.getLogger(__name__)
# The sidecar answers again within ~0.1 s of Vault (tests/adversarial/faults): 2 s keeps a
# client that honours the header inside the 2 s recovery bound, without hammering a Vault
# that is still coming up.
RETRY_AFTER_SECONDS = "2"


def _error(status: int, detail: object, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _fixed(status: int, detail: str) -> Callable[[Request, Exception], JSONResponse]:
    def handler(_request: Request, _exc: Exception) -> JSONResponse:
        return _error(status, detail)

    return handler


def _with_message(status: int) -> Callable[[Request, Exception], JSONResponse]:
    def handler(_request: Request, exc: Exception) -> JSONResponse:
        return _error(status, str(exc))

    return handler


def _auth_error(_request: Request, exc: Exception) -> JSONResponse:
    return _error(401, str(exc), {"WWW-Authenticate": 'Bearer, ApiKey header="X-API-Key"'})


def _rate_limited(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RateLimited)
    return _error(429, "rate limit exceeded", {"Retry-After": str(exc.retry_after)})


def _validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Keep location and message; drop `input`, which may hold the secret being written.
    details = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]
    return _error(422, details)


def _vault_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, VaultUnavailable)
    log.warning("Vault unavailable", extra={"reason": exc.reason})
    return _error(503, exc.detail, {"Retry-After": RETRY_AFTER_SECONDS})


def _mint_refused(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MintRefused)
    return _error(403, exc.detail)


def _vault_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, VaultError)
    if exc.status == 403:
        return _error(403, "permission denied by Vault")
    if exc.status == 404:
        return _error(404, "not found")
    if exc.status == 429:
        return _error(429, "Vault rate limit exceeded", {"Retry-After": RETRY_AFTER_SECONDS})
    if exc.status == 400:
        return _error(400, "Vault rejected the request")
    log.error("unexpected Vault response", extra={"vault_status": exc.status})
    return _error(502, "unexpected response from Vault")


Handler = Callable[[Request, Exception], JSONResponse]


def install_error_handlers(app: FastAPI) -> None:
    for exc_class, handler in HANDLERS.items():
        app.add_exception_handler(exc_class, handler)


def handler_for(exc: Exception) -> Handler | None:
    """The handler FastAPI would pick for `exc` (nearest class in its MRO), for code that
    answers outside FastAPI's exception machinery (`api.fast_read`)."""
    for cls in type(exc).__mro__:
        if cls in HANDLERS:
            return HANDLERS[cls]
    return None


HANDLERS: dict[type[Exception], Handler] = {
    AuthError: _auth_error,
    ForbiddenError: _with_message(403),
    PathError: _with_message(400),
    UnsupportedMediaType: _with_message(415),
    InvalidName: _with_message(400),
    TransitInputError: _with_message(400),
    SecretNotFound: _fixed(404, "secret not found (or that version is deleted)"),
    TransitKeyNotFound: _fixed(404, "no such transit key for this agent"),
    CasMismatch: _fixed(409, "check-and-set version mismatch"),
    RateLimited: _rate_limited,
    RequestValidationError: _validation,
    VaultUnavailable: _vault_unavailable,
    MintRefused: _mint_refused,
    VaultError: _vault_error,
}


# -- the same statuses, documented: each operation's OpenAPI `responses` ---------------------

_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "string"}}}
_ERRORS: dict[int, dict[str, Any]] = {
    400: {"description": "Bad path or request, refused before Vault; or refused by Vault"},
    401: {
        "description": "No or invalid credential",
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
    },
    403: {"description": "Scope missing, caller not allowed here, or denied by Vault"},
    404: {"description": "No such secret (or that version is deleted), or no such key"},
    409: {"description": "Check-and-set version mismatch"},
    413: {"description": "Request body larger than MAX_BODY_BYTES"},
    415: {"description": "Request body is not UTF-8 JSON"},
    429: {"description": "Rate limited (this agent, or Vault)", "headers": _RETRY_AFTER},
    502: {"description": "Unexpected response from Vault"},
    503: {"description": "Vault unreachable or sealed", "headers": _RETRY_AFTER},
}
_ANY_CALLER = (401, 403, 413)  # authentication, bound agent, body limit: every route
_VAULT_CALL = (*_ANY_CALLER, 400, 404, 429, 502, 503)  # a call to Vault, mapped as above
_WITH_BODY = (*_VAULT_CALL, 415)
# Which errors each operation can answer (422, request validation, FastAPI adds itself).
OPERATION_ERRORS: dict[str, tuple[int, ...]] = {
    "write_secret": (*_WITH_BODY, 409),
    "read_secret": _VAULT_CALL,
    "delete_secret": _VAULT_CALL,
    "list_secrets": _VAULT_CALL,
    "undelete_secret": _WITH_BODY,
    "destroy_secret": _WITH_BODY,
    "transit_encrypt": _WITH_BODY,
    "transit_decrypt": _WITH_BODY,
    "whoami": _ANY_CALLER,
}


def error_responses(operation_id: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a route: its error statuses, each with the `{"detail": ...}` body."""
    return {
        status: {"model": ErrorBody, **_ERRORS[status]}
        for status in sorted(OPERATION_ERRORS[operation_id])
    }
