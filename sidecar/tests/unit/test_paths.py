"""paths.validate_path: the only gate between a caller's path and a Vault URL."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vault_mcp_sidecar.paths import MAX_PATH_LENGTH, MAX_SEGMENTS, PathError, validate_path

SAFE = re.compile(r"[A-Za-z0-9._\-/]*")


@pytest.mark.parametrize(
    "path",
    [
        "a",
        "app/db/password",
        "A-Z_a.z-09",
        "x/.hidden",  # a dot-file is a name, not "." or ".."
        "x/..dots",
        "x/a..b",
        "...",  # three dots is an ordinary name
        "/".join(["s"] * MAX_SEGMENTS),
        "a" * 128,
    ],
)
def test_valid_paths_are_returned_unchanged(path: str) -> None:
    assert validate_path(path) == path


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("", "empty segment"),
        ("..", "'.' or '..'"),
        (".", "'.' or '..'"),
        ("a/../b", "'.' or '..'"),
        ("a/./b", "'.' or '..'"),
        ("a/..", "'.' or '..'"),
        ("a//b", "empty segment"),
        ("/etc/passwd", "relative"),
        ("//a", "relative"),
        ("a/", "empty segment"),
        ("a\\b", "may only contain"),
        ("..\\..\\x", "may only contain"),
        ("a\x00b", "may only contain"),
        ("a\nb", "may only contain"),
        ("a\n", "may only contain"),
        ("a\tb", "may only contain"),
        ("a\x7fb", "may only contain"),
        ("a b", "may only contain"),
        (" a", "may only contain"),
        ("a%2e%2e", "may only contain"),
        ("%2e%2e/x", "may only contain"),
        ("\uff0e\uff0e", "may only contain"),  # fullwidth full stops
        ("\u2024\u2024/x", "may only contain"),  # one-dot leaders
        ("caf\u00e9", "may only contain"),
        ("\u0661", "may only contain"),  # Arabic-Indic digit one: \d would accept it
        ("a?b", "may only contain"),
        ("a#b", "may only contain"),
        ("a:b", "may only contain"),
        ("a" * 129, "at most 128"),
        ("/".join(["s"] * (MAX_SEGMENTS + 1)), "deeper"),
        ("a/" * 300, "longer"),
    ],
)
def test_invalid_paths_are_refused(path: str, reason: str) -> None:
    with pytest.raises(PathError, match=re.escape(reason)):
        validate_path(path)


def test_over_long_path_is_refused_even_when_segments_are_fine() -> None:
    path = "/".join(["abcdefgh"] * 60)  # 539 characters, 60 segments
    assert len(path) > MAX_PATH_LENGTH
    with pytest.raises(PathError, match="longer than"):
        validate_path(path)


def test_path_at_the_length_limit_is_accepted() -> None:
    path = "/".join(["a" * 127] * 4)  # 4 * 127 + 3 = 511
    path += "b"
    assert len(path) == MAX_PATH_LENGTH
    assert validate_path(path) == path


@pytest.mark.parametrize("path", ["", "app/", "app/db/", "a"])
def test_allow_empty_accepts_the_root_and_folders(path: str) -> None:
    assert validate_path(path, allow_empty=True) == path


@pytest.mark.parametrize("path", ["/", "//", "app//", "../", "./", "/app/", "a\\/"])
def test_allow_empty_still_refuses_bad_folders(path: str) -> None:
    with pytest.raises(PathError):
        validate_path(path, allow_empty=True)


@pytest.mark.parametrize(
    "path",
    [
        "../SECRET-VALUE-1234",
        "SECRET-VALUE-1234/\x00",
        "SECRET-VALUE-1234 x",
        "/SECRET-VALUE-1234",
        "SECRET-VALUE-1234//x",
        "SECRET-VALUE-1234" * 40,
        "SECRET-VALUE-1234/" * 40,
    ],
)
def test_messages_never_echo_the_path(path: str) -> None:
    with pytest.raises(PathError) as info:
        validate_path(path)
    assert "SECRET-VALUE" not in str(info.value)


@settings(max_examples=400, deadline=None, database=None)
@given(
    st.text(
        alphabet=st.sampled_from("aZ09._-/\\ %\x00\n\uff0e\u2024\u00e9"),
        max_size=40,
    )
    | st.text(max_size=40),
    st.booleans(),
)
def test_property_accepted_paths_are_plain_and_never_traverse(path: str, allow_empty: bool) -> None:
    try:
        result = validate_path(path, allow_empty=allow_empty)
    except PathError:
        return
    assert result == path
    assert SAFE.fullmatch(path)
    assert not path.startswith("/")
    body = path[:-1] if path.endswith("/") else path
    if body:
        for segment in body.split("/"):
            assert segment not in ("", ".", "..")
    if path.endswith("/") or path == "":
        assert allow_empty


@settings(max_examples=200, deadline=None, database=None)
@given(
    st.lists(
        st.from_regex(r"[A-Za-z0-9._-]{1,20}", fullmatch=True).filter(
            lambda s: s not in {".", ".."}
        ),
        min_size=1,
        max_size=MAX_SEGMENTS,
    )
)
def test_property_every_well_formed_path_is_accepted(segments: list[str]) -> None:
    path = "/".join(segments)
    if len(path) <= MAX_PATH_LENGTH:
        assert validate_path(path) == path
