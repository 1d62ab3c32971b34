"""Parsing of identity headers set by a TLS-terminating proxy: certificate DNs and XFCC.

Pure functions, no I/O. Whether a header is believed at all (trusted proxies) is decided
before these run, in `trusted_proxies`.
"""

from __future__ import annotations

import re

_SPIFFE_K8S = re.compile(r"spiffe://[^/]+/ns/([a-z0-9-]{1,63})/sa/([a-z0-9.-]{1,253})")


class IdentityParseError(ValueError):
    """The header is not a well-formed DN / XFCC value."""


def parse_dn(dn: str) -> list[tuple[str, str]]:
    """(attribute, value) pairs of a DN, in order of appearance.

    Accepts RFC 2253/4514 (`CN=alice,O=Example`, with `\\,` escapes and quoted values) and
    the older OpenSSL form (`/C=US/O=Example/CN=alice`).
    """
    if dn.startswith("/"):
        return [_attribute(part) for part in dn[1:].split("/") if part]
    return [_attribute(part) for part in _split_unescaped(dn, ",+")]


def common_name(dn: str, cn_prefix: str = "CN=") -> str:
    """The one CN of a DN; several CNs are ambiguous and refused."""
    wanted = cn_prefix.rstrip("=").strip().upper()
    values = [value for attr, value in parse_dn(dn) if attr.upper() == wanted]
    if len(values) != 1:
        raise IdentityParseError(f"expected exactly one {wanted} in the DN, found {len(values)}")
    return values[0]


def xfcc_uri(header: str) -> str:
    """The URI SAN of the client nearest to us in an Envoy `x-forwarded-client-cert` header.

    With several proxies, each appends an element; the last one was added by the proxy next
    to this process and describes its direct client, so that is the one we believe.
    """
    elements = _split_unescaped(header, ",")
    if not elements:
        raise IdentityParseError("empty XFCC header")
    pairs = dict(_xfcc_pair(item) for item in _split_unescaped(elements[-1], ";"))
    uri = pairs.get("uri")
    if not uri:
        raise IdentityParseError("XFCC element has no URI")
    return uri


def spiffe_subject(spiffe_id: str) -> str:
    """`spiffe://<trust domain>/ns/<namespace>/sa/<account>` -> `<namespace>.<account>`.

    This is the Kubernetes agent-id form `{namespace}.{name}` (DESIGN §3).
    """
    match = _SPIFFE_K8S.fullmatch(spiffe_id)
    if not match:
        raise IdentityParseError("not a Kubernetes SPIFFE ID (spiffe://<td>/ns/<ns>/sa/<sa>)")
    return f"{match.group(1)}.{match.group(2)}"


def _attribute(part: str) -> tuple[str, str]:
    attr, sep, value = part.partition("=")
    if not sep or not attr.strip():
        raise IdentityParseError("malformed DN attribute")
    return attr.strip(), _unescape(value.strip())


def _xfcc_pair(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep:
        raise IdentityParseError("malformed XFCC element")
    return key.strip().lower(), _unescape(value.strip())


def _split_unescaped(text: str, separators: str) -> list[str]:
    """Split on separators outside quotes and not preceded by a backslash."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
            current.append(char)
        elif char in separators and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if quoted or escaped:
        raise IdentityParseError("unterminated quote or escape")
    parts.append("".join(current))
    return [part for part in parts if part.strip()]


def _unescape(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    # `\XX` pairs are bytes of the value's UTF-8 encoding (RFC 4514 §2.4), so `\C3\A9` is
    # one "é": collect bytes and decode once, rather than one character per pair.
    out = bytearray()
    i = 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            hex_pair = value[i + 1 : i + 3]
            if re.fullmatch(r"[0-9A-Fa-f]{2}", hex_pair):
                out.append(int(hex_pair, 16))
                i += 3
                continue
            out += value[i + 1].encode()
            i += 2
            continue
        out += value[i].encode()
        i += 1
    try:
        return out.decode()
    except UnicodeDecodeError:
        raise IdentityParseError("DN value is not valid UTF-8") from None
