"""HTTP/1.1 on a plain socket: requests exactly as an attacker would write them.

Every HTTP client library normalises what it sends — resolves `..`, refuses control bytes and
raw non-ASCII, sets its own Content-Length — which would test the client instead of the
sidecar. Here the request line, the headers and the body go out byte for byte.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

TIMEOUT_SECONDS = 15  # a guard against a hung connection, not a performance assertion


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


def send(
    port: int,
    method: str,
    target: bytes,
    headers: Sequence[tuple[str, str | bytes]] = (),
    body: bytes = b"",
    *,
    content_length: bool = True,
    raw_body: bytes | None = None,
) -> Reply:
    """One request on a fresh connection. `body` gets a Content-Length unless told otherwise;
    `raw_body` goes out as is after the headers (chunked encoding, a lie about the length)."""
    lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1"]
    for name, value in headers:
        lines.append(
            name.encode() + b": " + (value if isinstance(value, bytes) else value.encode())
        )
    if body and content_length:
        lines.append(f"Content-Length: {len(body)}".encode())
    lines.append(b"Connection: close")
    payload = b"\r\n".join(lines) + b"\r\n\r\n" + (raw_body if raw_body is not None else body)
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_SECONDS) as sock:
        # The server may answer and close before reading everything: read the answer anyway.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(payload)
        return _read_reply(sock)


def chunked(body: bytes, chunk_size: int = 65536) -> bytes:
    """`body` in Transfer-Encoding: chunked framing."""
    chunks = [body[i : i + chunk_size] for i in range(0, len(body), chunk_size)]
    framed = b"".join(b"%x\r\n" % len(chunk) + chunk + b"\r\n" for chunk in chunks)
    return framed + b"0\r\n\r\n"


def _read_reply(sock: socket.socket) -> Reply:
    data = b""
    while True:
        try:
            piece = sock.recv(65536)
        except ConnectionResetError:
            break
        if not piece:
            break
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.split(b"\r\n")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode()] = value.strip().decode(errors="replace")
    if headers.get("transfer-encoding") == "chunked":
        body = _unchunk(body)
    elif "content-length" in headers:
        body = body[: int(headers["content-length"])]
    return Reply(int(status_line.split()[1]), headers, body)


def _unchunk(framed: bytes) -> bytes:
    body = b""
    while framed:
        size_line, _, rest = framed.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        body += rest[:size]
        framed = rest[size + 2 :]
    return body
