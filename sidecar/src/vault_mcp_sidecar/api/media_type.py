"""Request bodies are JSON: anything else is refused with 415 before it is parsed.

FastAPI itself parses a body as JSON only when it is labelled JSON and otherwise hands the
raw bytes to validation, which then fails with a 422 that blames the body's shape; a body
labelled JSON but in another charset or compressed fails to parse, a 400. A form, an upload or
a compressed body is not a malformed request but an unsupported one (RFC 9110 §15.5.16), and
the caller is best told exactly that.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute


class UnsupportedMediaType(Exception):
    """The body is not UTF-8 JSON (415). The message names the rule, never the caller's value."""


def check_json_body(headers: Mapping[str, str]) -> None:
    """Raise UnsupportedMediaType unless the request's body (if any) is plain UTF-8 JSON.

    Accepted: `application/json` or `application/<anything>+json`, with no charset or a UTF-8
    one, and no content encoding (or `identity`). A request without a body and without a
    Content-Type passes: whether the route needs a body is validation's business (422).
    """
    content_type = headers.get("content-type")
    if content_type is None:
        if _has_body(headers):
            raise UnsupportedMediaType("request body needs Content-Type: application/json")
        return
    media_type, params = _parse(content_type)
    if not _is_json(media_type):
        raise UnsupportedMediaType("request body must be JSON (Content-Type: application/json)")
    if params.get("charset", "utf-8") not in ("utf-8", "utf8"):
        raise UnsupportedMediaType("request body must be UTF-8 JSON")
    if headers.get("content-encoding", "identity").strip().lower() != "identity":
        raise UnsupportedMediaType("compressed request bodies are not accepted")


def _has_body(headers: Mapping[str, str]) -> bool:
    length = headers.get("content-length")
    return "transfer-encoding" in headers or (length is not None and length.strip() != "0")


def _parse(content_type: str) -> tuple[str, dict[str, str]]:
    """`type/subtype` (lower case) and its parameters (names and values lower case, unquoted)."""
    media_type, *raw_params = content_type.split(";")
    params: dict[str, str] = {}
    for raw in raw_params:
        name, _, value = raw.partition("=")
        params[name.strip().lower()] = value.strip().strip('"').lower()
    return media_type.strip().lower(), params


def _is_json(media_type: str) -> bool:
    kind, _, subtype = media_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


class JsonBodyRoute(APIRoute):
    """A route that checks its body's media type before FastAPI reads the body (a dependency
    would run only after FastAPI had tried, and failed, to parse it). Routes without a body
    are left exactly as they are."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def json_only(request: Request) -> Response:
            check_json_body(request.headers)
            return await handler(request)

        return json_only
