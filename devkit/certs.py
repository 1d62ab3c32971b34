"""A throwaway PKI for mTLS tests: a CA, a loopback server certificate and client certificates.

The nginx harness terminates TLS with these files, and tests present the client certificates
with curl, httpx or aiohttp. A second, unrelated CA signs "untrusted" client certificates so
negative tests can prove the proxy refuses a well-formed certificate from the wrong issuer.

Keys are ECDSA P-256: generation is instant (RSA-2048 would cost ~100 ms per key) and nginx,
OpenSSL and every Python client accept them. Files are PEM; private keys are written 0600 and
never logged.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = datetime.timedelta(days=2)
_CLOCK_SKEW = datetime.timedelta(
    minutes=5
)  # not_before in the past, so no host rejects it as early
_SAFE_NAME = re.compile(r"[A-Za-z0-9._-]+")


@dataclass(frozen=True)
class _Authority:
    """A CA's key and self-signed certificate, kept in memory for signing."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def create(cls, common_name: str) -> _Authority:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        builder = _base_builder(name, key.public_key(), issuer=name)
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
        builder = builder.add_extension(_key_usage(cert_sign=True), critical=True)
        return cls(key, builder.sign(key, hashes.SHA256()))

    def issue(
        self,
        subject: x509.Name,
        usage: x509.ObjectIdentifier,
        sans: list[x509.GeneralName],
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        """Sign a fresh leaf certificate for `subject` with one extended key usage."""
        key = ec.generate_private_key(ec.SECP256R1())
        builder = _base_builder(subject, key.public_key(), issuer=self.cert.subject)
        builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        builder = builder.add_extension(_key_usage(cert_sign=False), critical=True)
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return builder.sign(self.key, hashes.SHA256()), key


@dataclass
class Pki:
    """The files of one throwaway PKI, plus the means to issue more client certificates."""

    directory: Path
    ca_cert: Path
    server_cert: Path
    server_key: Path
    _ca: _Authority = field(repr=False)
    _rogue: _Authority = field(repr=False)

    def client(
        self,
        name: str,
        cn: str,
        org: str | None = None,
        uri_san: str | None = None,
        org_unit: str | None = None,
    ) -> tuple[Path, Path]:
        """Issue a client certificate signed by the trusted CA; returns (cert, key) paths.

        `name` only names the files; `cn`, `org` and `org_unit` form the subject DN and
        `uri_san` (e.g. a SPIFFE ID) becomes a URI subjectAltName.
        """
        return self._client(self._ca, name, _subject(cn, org, org_unit), uri_san)

    def untrusted_client(
        self,
        name: str,
        cn: str,
        org: str | None = None,
        uri_san: str | None = None,
        org_unit: str | None = None,
    ) -> tuple[Path, Path]:
        """Like `client`, but signed by a CA nobody trusts: the proxy must refuse it."""
        return self._client(self._rogue, f"untrusted-{name}", _subject(cn, org, org_unit), uri_san)

    def _client(
        self, authority: _Authority, name: str, subject: x509.Name, uri_san: str | None
    ) -> tuple[Path, Path]:
        if not _SAFE_NAME.fullmatch(name):
            raise ValueError(f"client file name must match {_SAFE_NAME.pattern}: {name!r}")
        sans: list[x509.GeneralName] = [x509.UniformResourceIdentifier(uri_san)] if uri_san else []
        cert, key = authority.issue(subject, ExtendedKeyUsageOID.CLIENT_AUTH, sans)
        return _write_pair(self.directory, f"client-{name}", cert, key)


def make_pki(directory: Path) -> Pki:
    """Create a CA and a server certificate for 127.0.0.1/localhost under `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = _Authority.create("Vault MCP Bridge test CA")
    rogue = _Authority.create("Untrusted test CA")
    ca_cert = directory / "ca.pem"
    ca_cert.write_bytes(ca.cert.public_bytes(serialization.Encoding.PEM))
    server_sans: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
    ]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    cert, key = ca.issue(subject, ExtendedKeyUsageOID.SERVER_AUTH, server_sans)
    server_cert, server_key = _write_pair(directory, "server", cert, key)
    return Pki(directory, ca_cert, server_cert, server_key, ca, rogue)


def _subject(cn: str, org: str | None, org_unit: str | None) -> x509.Name:
    # Most significant RDN first, so RFC 2253 (nginx's $ssl_client_s_dn) prints "CN=..,OU=..,O=..".
    attributes = []
    if org is not None:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    if org_unit is not None:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, org_unit))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attributes)


def _base_builder(
    subject: x509.Name, public_key: ec.EllipticCurvePublicKey, issuer: x509.Name
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    # OpenSSL 3 insists on keyCertSign for a CA and digitalSignature for an ECDSA TLS leaf.
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _write_pair(
    directory: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> tuple[Path, Path]:
    cert_path = directory / f"{stem}.pem"
    key_path = directory / f"{stem}-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Create with 0600 from the start: a later chmod would leave a window where others can read.
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key_pem)
    return cert_path, key_path
