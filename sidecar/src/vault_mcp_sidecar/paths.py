"""Caller-supplied secret paths, validated before anything reaches Vault.

A path is relative, made of `[A-Za-z0-9._-]` segments joined by `/`. Everything else — `..`,
`.`, empty segments, absolute paths, backslashes, control bytes, percent-encoding, over-long
input — is refused, so no caller can step outside its agent's subtree.
"""

from __future__ import annotations

import re

MAX_PATH_LENGTH = 512
MAX_SEGMENTS = 32
_SEGMENT = re.compile(r"[A-Za-z0-9._-]{1,128}")
# The same shape as JSON Schema patterns, for the OpenAPI document (and so the MCP tools'
# input schemas). Not the whole rule: `validate_path` also refuses `.` and `..` segments and
# paths over MAX_PATH_LENGTH, which these patterns cannot say simply.
PATH_PATTERN = r"^[A-Za-z0-9._-]{1,128}(/[A-Za-z0-9._-]{1,128}){0,31}$"
FOLDER_PATTERN = r"^([A-Za-z0-9._-]{1,128}(/[A-Za-z0-9._-]{1,128}){0,31}/?)?$"


class PathError(ValueError):
    """The path is not a safe relative secret path; the message says why (never echoes it)."""


def validate_path(path: str, *, allow_empty: bool = False) -> str:
    """Return `path` unchanged if it is a safe relative path; raise PathError otherwise.

    With `allow_empty`, "" (the agent's root folder) and a trailing `/` (a folder, as in a
    list prefix) are accepted.
    """
    if path == "" and allow_empty:
        return path
    if len(path) > MAX_PATH_LENGTH:
        raise PathError(f"path longer than {MAX_PATH_LENGTH} characters")
    body = path[:-1] if allow_empty and path.endswith("/") else path
    if body.startswith("/"):
        raise PathError("path must be relative")
    segments = body.split("/")
    if len(segments) > MAX_SEGMENTS:
        raise PathError(f"path deeper than {MAX_SEGMENTS} segments")
    for segment in segments:
        _check_segment(segment)
    return path


def _check_segment(segment: str) -> None:
    if segment == "":
        raise PathError("path has an empty segment")
    if segment in (".", ".."):
        raise PathError("path may not contain '.' or '..' segments")
    if not _SEGMENT.fullmatch(segment):
        raise PathError("path segments may only contain A-Z a-z 0-9 . _ - (at most 128 each)")
