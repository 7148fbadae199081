"""A private certificate authority and a server certificate for 127.0.0.1/localhost, made once per
folder: what a loopback broker presents and what its clients verify it with."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from lakehouse.private import write_private

LOOPBACK_NAMES = ("localhost", "127.0.0.1")
VALID_DAYS = 825  # the longest server-certificate life current TLS clients accept


@dataclass(frozen=True)
class ServerTls:
    """The files of a TLS server: clients need only `ca_file`; the key stays private (0600)."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "plantlake"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def make_server_tls(folder: Path, names: tuple[str, ...] = LOOPBACK_NAMES) -> ServerTls:
    """A CA (`ca.pem`, its key `ca.key`) and a server certificate it signed (`server.pem`,
    `server.key`) for `names` (host names or IP addresses), in `folder`; files already there are
    kept, so clients that trust the CA go on trusting the server. Keys are 0600, the folder 0700."""
    folder = Path(folder)
    tls = ServerTls(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    if all(p.exists() for p in (tls.ca_file, tls.cert_file, tls.key_file)):
        return tls
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    now = dt.datetime.now(dt.UTC)
    ca_key = _key()
    ca_name = _name("plantlake local CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = _key()
    alt_names: list[x509.GeneralName] = []
    for name in names:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt_names.append(x509.DNSName(name))
    server = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    write_private(folder / "ca.key", _pem_key(ca_key))
    write_private(tls.key_file, _pem_key(server_key))
    write_private(tls.cert_file, server.public_bytes(serialization.Encoding.PEM))
    write_private(tls.ca_file, ca.public_bytes(serialization.Encoding.PEM))
    return tls
