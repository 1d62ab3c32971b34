"""The operator's two kinds of Vault failure, and the mapping from hvac's exceptions.

`VaultUnavailable`: unreachable, timed out, sealed, 5xx: try again later (kopf.TemporaryError).
`VaultRefused`: 403, 400, ...: retrying will not help until something changes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import hvac.exceptions
import requests

_UNAVAILABLE = (
    hvac.exceptions.VaultDown,
    hvac.exceptions.BadGateway,
    hvac.exceptions.InternalServerError,
    hvac.exceptions.VaultNotInitialized,
    hvac.exceptions.RateLimitExceeded,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
)


class VaultAdminError(Exception):
    """A Vault call of the operator failed; `str()` names the call, never a secret."""


class VaultUnavailable(VaultAdminError):
    """Vault is unreachable, sealed or failing: retry later (kopf.TemporaryError)."""


class VaultRefused(VaultAdminError):
    """Vault refused the call (403 permission denied, 400 bad request, ...)."""


class VaultForbidden(VaultRefused):
    """403: the policy does not allow it, or the operator's own token expired or was revoked
    (a fresh login may help once; see login.VaultSession)."""


@contextlib.contextmanager
def mapped_errors(method: str, path: str) -> Iterator[None]:
    try:
        yield
    except _UNAVAILABLE as exc:
        raise VaultUnavailable(f"{method} {path}: Vault unavailable ({_reason(exc)})") from exc
    except hvac.exceptions.Forbidden as exc:
        raise VaultForbidden(f"{method} {path}: refused ({_reason(exc)})") from exc
    except hvac.exceptions.VaultError as exc:
        raise VaultRefused(f"{method} {path}: refused ({_reason(exc)})") from exc


def _reason(exc: BaseException) -> str:
    if isinstance(exc, hvac.exceptions.VaultError):
        errors = exc.errors if isinstance(exc.errors, list) else [exc.errors]
        text = "; ".join(str(e) for e in errors if e) or type(exc).__name__
        return f"{type(exc).__name__}: {text}"[:300]
    return type(exc).__name__
