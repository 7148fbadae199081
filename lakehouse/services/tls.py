"""A private certificate authority and a server certificate for 127.0.0.1/localhost, made once per
folder: what a loopback broker presents and what its clients verify it with. The CA may sign for
those names alone, and its key is gone once it has signed the server's certificate."""

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


def _alt_names(names: tuple[str, ...]) -> list[x509.GeneralName]:
    alt_names: list[x509.GeneralName] = []
    for name in names:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt_names.append(x509.DNSName(name))
    return alt_names


def name_constraints(names: tuple[str, ...]) -> x509.NameConstraints:
    """What a CA for `names` may sign: those host names and addresses alone (each address as a
    network of one)."""
    permitted: list[x509.GeneralName] = []
    for name in _alt_names(names):
        if isinstance(name, x509.IPAddress):
            address = name.value
            permitted.append(
                x509.IPAddress(ipaddress.ip_network(f"{address}/{address.max_prefixlen}"))
            )
        else:
            permitted.append(name)
    return x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=None)


def make_ca(
    names: tuple[str, ...] = LOOPBACK_NAMES,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A CA certificate that signs certificates for `names` only (a critical NameConstraints),
    and its key."""
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
        .add_extension(name_constraints(names), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    return ca, ca_key


def sign_server(
    ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, names: tuple[str, ...]
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A server certificate for `names` (host names or IP addresses) signed by `ca`, and its key."""
    now = dt.datetime.now(dt.UTC)
    server_key = _key()
    server = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(ca.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(_alt_names(names)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return server, server_key


def _constrained(ca_file: Path) -> bool:
    ca = x509.load_pem_x509_certificate(ca_file.read_bytes())
    try:
        return ca.extensions.get_extension_for_class(x509.NameConstraints).critical
    except x509.ExtensionNotFound:
        return False


def make_server_tls(folder: Path, names: tuple[str, ...] = LOOPBACK_NAMES) -> ServerTls:
    """A CA (`ca.pem`) that may sign for `names` alone, and a server certificate it signed
    (`server.pem`, `server.key`) for `names` (host names or IP addresses), in `folder`. The CA's
    key is dropped once the server certificate is signed: nothing can be signed by it later, and
    a new server certificate comes with a new CA. Files already there are kept, so clients that
    trust the CA go on trusting the server; those of an older plantlake (a CA without name
    constraints, its key kept in `ca.key`) are made anew. Keys are 0600, the folder 0700."""
    folder = Path(folder)
    tls = ServerTls(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    old_ca_key = folder / "ca.key"
    if (
        all(p.exists() for p in (tls.ca_file, tls.cert_file, tls.key_file))
        and not old_ca_key.exists()
        and _constrained(tls.ca_file)
    ):
        return tls
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    ca, ca_key = make_ca(names)
    server, server_key = sign_server(ca, ca_key, names)
    old_ca_key.unlink(missing_ok=True)  # the CA's key is written nowhere
    write_private(tls.key_file, _pem_key(server_key))
    write_private(tls.cert_file, server.public_bytes(serialization.Encoding.PEM))
    write_private(tls.ca_file, ca.public_bytes(serialization.Encoding.PEM))
    return tls
