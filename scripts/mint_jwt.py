"""Mint an HS256 JWT for the demo sidecar and print it.

    source .demo/env
    TOKEN=$(.venv/bin/python scripts/mint_jwt.py --sub demo.agent-jwt [--scopes read,write])

The secret, issuer and audience come from JWT_HS256_SECRET, JWT_ISSUER and JWT_AUDIENCE (all
written to `.demo/env` by `make demo`). Self-contained (PyJWT only), so it runs as a plain
script as well as being imported by the demo's self-check.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections.abc import Mapping
from typing import Any

import jwt

MIN_SECRET_BYTES = 32


def mint_jwt(
    secret: str,
    *,
    subject: str,
    issuer: str | None = None,
    audience: str | None = None,
    scopes: list[str] | None = None,
    ttl_seconds: int = 3600,
) -> str:
    """A signed HS256 token with `sub`, `exp`, `iat`, `nbf`, `jti` and optional iss/aud/scopes."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    if scopes is not None:
        claims["scopes"] = scopes
    return jwt.encode(claims, secret, algorithm="HS256")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sub", required=True, help="agent id, e.g. demo.agent-jwt")
    parser.add_argument(
        "--scopes", help="comma-separated subset of read,write,list,delete (default: the sidecar's)"
    )
    parser.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
    return parser


def main(argv: list[str] | None = None, env: Mapping[str, str] = os.environ) -> int:
    args = _parser().parse_args(argv)
    secret = env.get("JWT_HS256_SECRET", "")
    if len(secret.encode()) < MIN_SECRET_BYTES:
        print(
            "mint_jwt: JWT_HS256_SECRET is unset or shorter than 32 bytes "
            "(run `source .demo/env` while `make demo` is running)",
            file=sys.stderr,
        )
        return 2
    if args.ttl < 1:
        print("mint_jwt: --ttl must be a positive number of seconds", file=sys.stderr)
        return 2
    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()] if args.scopes else None
    token = mint_jwt(
        secret,
        subject=args.sub,
        issuer=env.get("JWT_ISSUER") or None,
        audience=env.get("JWT_AUDIENCE") or None,
        scopes=scopes,
        ttl_seconds=args.ttl,
    )
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
