"""A local JWKS endpoint and token minting, for testing RS256/ES256 JWT authentication.

The sidecar fetches signing keys from `JWT_JWKS_URL` and picks one by the token's `kid`. This
serves a real `/.well-known/jwks.json` over HTTP on loopback, so tests exercise the sidecar's
own fetching and caching: `hits` counts requests (to prove the cache), `set_keys` rotates the
published set, and `error_status` simulates an identity-provider outage.

Private keys stay in the test process; only public JWKs are ever served.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

Alg = Literal["RS256", "ES256"]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

JWKS_PATH = "/.well-known/jwks.json"


def generate_key(alg: Alg) -> PrivateKey:
    """A fresh private key for `alg` (RSA-2048 for RS256, P-256 for ES256)."""
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def alg_for(key: PrivateKey) -> Alg:
    """The JWS algorithm this devkit uses with `key`'s type."""
    return "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"


def public_jwk(key: PrivateKey, kid: str) -> dict[str, Any]:
    """The public half of `key` as a JWK carrying `kid`, `alg` and `use`."""
    public = key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        jwk: dict[str, Any] = dict(RSAAlgorithm.to_jwk(public, as_dict=True))
    else:
        jwk = dict(ECAlgorithm.to_jwk(public, as_dict=True))
    jwk.update(kid=kid, alg=alg_for(key), use="sig")
    return jwk


def mint(private_key: PrivateKey, kid: str, alg: Alg, claims: Mapping[str, Any]) -> str:
    """Sign exactly `claims` (nothing added, so tests can omit `exp` on purpose)."""
    return jwt.encode(dict(claims), private_key, algorithm=alg, headers={"kid": kid})


def standard_claims(sub: str, iss: str, aud: str, ttl: int = 300, **extra: Any) -> dict[str, Any]:
    """Typical claims for a token valid from now for `ttl` seconds (negative: already expired)."""
    now = int(time.time())
    return {"sub": sub, "iss": iss, "aud": aud, "iat": now, "nbf": now, "exp": now + ttl, **extra}


class JwksServer:
    """Serves the public keys of its current key set at `url`. Context manager or start/stop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, PrivateKey] = {}
        self._hits = 0
        self.error_status: int | None = None  # answer every request with this, e.g. 503
        # Port 0: the kernel picks a free port at bind time, so no race with other servers.
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The JWKS URL, as `JWT_JWKS_URL` expects it."""
        return f"http://127.0.0.1:{self.port}{JWKS_PATH}"

    @property
    def hits(self) -> int:
        """How many JWKS requests were served (including simulated errors)."""
        with self._lock:
            return self._hits

    def __enter__(self) -> JwksServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def add_key(self, kid: str, alg: Alg = "RS256") -> PrivateKey:
        """Generate a key, publish its public half under `kid`, and return the private key."""
        key = generate_key(alg)
        with self._lock:
            self._keys[kid] = key
        return key

    def set_keys(self, keys: Mapping[str, PrivateKey]) -> None:
        """Replace the published set (kid -> key) in one step, as a key rotation does."""
        with self._lock:
            self._keys = dict(keys)

    def remove_key(self, kid: str) -> None:
        with self._lock:
            self._keys.pop(kid, None)

    def document(self) -> dict[str, Any]:
        """The JWKS document currently served."""
        with self._lock:
            keys = list(self._keys.items())
        return {"keys": [public_jwk(key, kid) for kid, key in keys]}

    def _respond(self) -> tuple[int, bytes]:
        with self._lock:
            self._hits += 1
            status = self.error_status
        if status is not None:
            return status, b'{"error": "simulated outage"}'
        return 200, json.dumps(self.document()).encode()


def _handler_for(owner: JwksServer) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to `owner` (http.server instantiates it per request)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != JWKS_PATH:
                self._send(404, b'{"error": "not found"}')
                return
            self._send(*owner._respond())

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Silence per-request stderr lines; pytest output stays readable."""

    return Handler
