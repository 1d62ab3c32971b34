"""identity_headers: certificate DNs (RFC 4514 and OpenSSL forms), XFCC and SPIFFE ids."""

from __future__ import annotations

import pytest

from vault_mcp_sidecar.auth.identity_headers import (
    IdentityParseError,
    common_name,
    parse_dn,
    spiffe_subject,
    xfcc_uri,
)

# -- parse_dn -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dn", "pairs"),
    [
        ("CN=alice,O=Example", [("CN", "alice"), ("O", "Example")]),
        ("CN=alice, O=Example, C=US", [("CN", "alice"), ("O", "Example"), ("C", "US")]),
        (r"CN=Smith\, John,O=Example", [("CN", "Smith, John"), ("O", "Example")]),
        (r"CN=a\2Cb,O=x", [("CN", "a,b"), ("O", "x")]),
        (r"CN=a\2cb", [("CN", "a,b")]),
        (r"CN=\61lice", [("CN", "alice")]),
        (r"O=a\+b,CN=c", [("O", "a+b"), ("CN", "c")]),
        (r"O=a\=b\;c", [("O", "a=b;c")]),
        (r"O=back\\slash", [("O", "back\\slash")]),
        ('CN="Smith, John",O=x', [("CN", "Smith, John"), ("O", "x")]),
        ('O="a+b=c",CN=d', [("O", "a+b=c"), ("CN", "d")]),
        ("CN=alice+UID=42,O=Example", [("CN", "alice"), ("UID", "42"), ("O", "Example")]),
        ("UID=42+CN=alice", [("UID", "42"), ("CN", "alice")]),
        ("cn=alice", [("cn", "alice")]),
        ("CN=a=b", [("CN", "a=b")]),
        ("/C=US/O=x/CN=y", [("C", "US"), ("O", "x"), ("CN", "y")]),
        ("/C=US/O=Example, Inc./CN=y", [("C", "US"), ("O", "Example, Inc."), ("CN", "y")]),
        ("/CN=alice/", [("CN", "alice")]),
    ],
)
def test_parse_dn(dn: str, pairs: list[tuple[str, str]]) -> None:
    assert parse_dn(dn) == pairs


def test_parse_dn_hex_escapes_are_utf8_bytes() -> None:
    # RFC 4514 §2.4: `\XX` pairs are bytes of the UTF-8 encoding of the value.
    assert parse_dn(r"CN=\C3\A9lise,O=Soci\C3\A9t\C3\A9") == [("CN", "élise"), ("O", "Société")]


@pytest.mark.parametrize(
    "dn",
    [
        "CN",
        "=alice",
        "CN=alice,garbage",
        'CN="unterminated',
        "CN=trailing\\",
        "/C=US/junk",
        r"CN=\FF\FE",  # not UTF-8
    ],
)
def test_malformed_dn(dn: str) -> None:
    with pytest.raises(IdentityParseError):
        parse_dn(dn)


# -- common_name ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dn", "cn"),
    [
        ("CN=alice,O=Example", "alice"),
        ("O=Example,CN=alice", "alice"),
        ("/C=US/O=x/CN=agent_mtls", "agent_mtls"),
        ("cn=alice,o=x", "alice"),
        (r"CN=a\2Cb", "a,b"),
        ("UID=1+CN=alice", "alice"),
    ],
)
def test_common_name(dn: str, cn: str) -> None:
    assert common_name(dn) == cn


@pytest.mark.parametrize(
    ("dn", "found"),
    [
        ("O=Example,C=US", 0),
        ("/C=US/O=x", 0),
        ("CN=alice,CN=bob", 2),
        ("CN=alice+CN=bob", 2),
        ("/CN=alice/CN=bob", 2),
        (r"O=CN\=alice", 0),  # an escaped '=' does not make a CN
    ],
)
def test_common_name_needs_exactly_one(dn: str, found: int) -> None:
    with pytest.raises(IdentityParseError, match=f"found {found}"):
        common_name(dn)


def test_common_name_with_another_prefix() -> None:
    assert common_name("UID=agent-7,CN=x", "UID=") == "agent-7"
    assert common_name("CN=alice,O=x", "cn") == "alice"


# -- xfcc_uri -------------------------------------------------------------------------------

ALICE = "spiffe://cluster.local/ns/team-a/sa/alice"
GATEWAY = "spiffe://cluster.local/ns/ingress/sa/gateway"


@pytest.mark.parametrize(
    ("header", "uri"),
    [
        (f"By=spiffe://cluster.local/ns/x/sa/me;Hash=abc;URI={ALICE}", ALICE),
        (f"URI={ALICE}", ALICE),
        (f"uri={ALICE}", ALICE),
        (f'Hash=abc;Subject="CN=alice,O=Example";URI={ALICE}', ALICE),
        (f'Hash=abc;Subject="CN=a;b,O=c=d";URI={ALICE};DNS=alice.local', ALICE),
        (f'URI="{ALICE}"', ALICE),
        # Two proxies: the last element is from the proxy next to us, so it is believed.
        (f"By=x;URI={GATEWAY},By=y;URI={ALICE}", ALICE),
        (f'By=x;URI={GATEWAY};Subject="CN=g,O=h",By=y;Subject="CN=a;x,O=b";URI={ALICE}', ALICE),
        (f"By=x;URI={ALICE}, By=y;URI={GATEWAY}", GATEWAY),
    ],
)
def test_xfcc_uri(header: str, uri: str) -> None:
    assert xfcc_uri(header) == uri


@pytest.mark.parametrize(
    "header",
    [
        "",
        " , ",
        'Hash=abc;Subject="CN=x"',
        f"URI={ALICE},Hash=abc",  # the last element has no URI: the first is not believed
        "URI=",
        "garbage",
        'Subject="unterminated;URI=x',
    ],
)
def test_xfcc_without_a_usable_uri(header: str) -> None:
    with pytest.raises(IdentityParseError):
        xfcc_uri(header)


# -- spiffe_subject -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spiffe_id", "subject"),
    [
        (ALICE, "team-a.alice"),
        ("spiffe://example.org/ns/default/sa/agent-1", "default.agent-1"),
        ("spiffe://td/ns/a/sa/b.c", "a.b.c"),
    ],
)
def test_spiffe_subject(spiffe_id: str, subject: str) -> None:
    assert spiffe_subject(spiffe_id) == subject


@pytest.mark.parametrize(
    "spiffe_id",
    [
        "spiffe://cluster.local/ns/team-a/sa/alice/extra",
        "spiffe://cluster.local/sa/alice/ns/team-a",
        "spiffe://cluster.local/workload/alice",
        "spiffe:///ns/a/sa/b",
        "https://cluster.local/ns/a/sa/b",
        "spiffe://cluster.local/ns/Team-A/sa/alice",
        "spiffe://cluster.local/ns/team.a/sa/alice",  # a dot in the namespace is ambiguous
        "spiffe://cluster.local/ns//sa/alice",
        "spiffe://cluster.local/ns/a/sa/",
        "spiffe://cluster.local/ns/a/sa/b\n",
        f"{ALICE}?x=1",
        "",
    ],
)
def test_spiffe_subject_rejects_other_ids(spiffe_id: str) -> None:
    with pytest.raises(IdentityParseError):
        spiffe_subject(spiffe_id)
