"""The broker's ACL file is made from the one table of roles, and the local CA's certificates
name the loopback host and keep their keys private; the CA signs for the loopback names alone,
and its key is not kept."""

from __future__ import annotations

import ipaddress
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from lakehouse.services.mosquitto import MqttAccount, acl_text
from lakehouse.services.tls import LOOPBACK_NAMES, make_ca, make_server_tls, sign_server


def test_acl_file_gives_each_account_its_roles_rules():
    text = acl_text(
        [MqttAccount("ingestion", "pw", "ingestion"), MqttAccount("bob", "pw", "reader")]
    )
    assert text == (
        "# role ingestion\nuser ingestion\n"
        "topic read #\n"
        "topic write spBv1.0/STATE/+\n"
        "topic write spBv1.0/+/NCMD/+\n"
        "\n"
        "# role reader\nuser bob\n"
        "topic read #\n"
    )


def test_an_unknown_role_or_a_username_that_would_break_the_files_is_refused():
    with pytest.raises(ValueError, match="no role 'admin'"):
        MqttAccount("x", "pw", "admin")
    with pytest.raises(ValueError, match="':'"):
        MqttAccount("a:b", "pw")


def test_server_certificate_names_loopback_is_signed_by_the_ca_and_kept(tmp_path):
    tls = make_server_tls(tmp_path / "tls")
    ca = x509.load_pem_x509_certificate(tls.ca_file.read_bytes())
    server = x509.load_pem_x509_certificate(tls.cert_file.read_bytes())
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    server.verify_directly_issued_by(ca)
    assert {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "tls").iterdir()} == {
        "ca.pem": 0o600,
        "server.pem": 0o600,
        "server.key": 0o600,
    }
    assert (tmp_path / "tls").stat().st_mode & 0o777 == 0o700
    # a second call keeps them: clients that trust the CA go on trusting the broker
    assert make_server_tls(tmp_path / "tls") == tls
    assert tls.cert_file.read_bytes() == server.public_bytes(serialization.Encoding.PEM)


def test_the_ca_may_sign_for_the_loopback_names_alone_and_its_key_is_not_kept(tmp_path):
    tls = make_server_tls(tmp_path / "tls")
    ca = x509.load_pem_x509_certificate(tls.ca_file.read_bytes())
    constraints = ca.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical
    assert constraints.value.permitted_subtrees == [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_network("127.0.0.1/32")),
    ]
    assert constraints.value.excluded_subtrees is None
    assert not (tmp_path / "tls" / "ca.key").exists()
    server = x509.load_pem_x509_certificate(tls.cert_file.read_bytes())
    verifier = PolicyBuilder().store(Store([ca]))
    for name in (x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))):
        assert verifier.build_server_verifier(name).verify(server, [])[0] == server


def test_a_certificate_for_another_host_signed_by_the_ca_is_refused(tmp_path):
    """Had the CA's key leaked before it was dropped: what it signs for another host fails by
    the CA's own constraint, in cryptography's verifier and in OpenSSL (Python's ssl, paho)."""
    ca, ca_key = make_ca(LOOPBACK_NAMES)
    evil, _ = sign_server(ca, ca_key, ("evil.example",))
    verifier = (
        PolicyBuilder().store(Store([ca])).build_server_verifier(x509.DNSName("evil.example"))
    )
    with pytest.raises(VerificationError, match="name constraint"):
        verifier.verify(evil, [])
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    loopback, _ = sign_server(ca, ca_key, LOOPBACK_NAMES)
    refused, passed = (openssl_verify(ca_file, leaf, tmp_path) for leaf in (evil, loopback))
    assert refused.returncode != 0 and "permitted subtree violation" in refused.stderr, refused
    assert passed.returncode == 0, passed


def openssl_verify(ca_file, leaf: x509.Certificate, folder) -> subprocess.CompletedProcess:
    leaf_file = folder / "leaf.pem"
    leaf_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    return subprocess.run(
        ["openssl", "verify", "-CAfile", str(ca_file), str(leaf_file)],
        capture_output=True,
        text=True,
    )


def test_an_older_lakes_unconstrained_ca_or_kept_ca_key_is_replaced(tmp_path):
    folder = tmp_path / "tls"
    tls = make_server_tls(folder)
    first_ca = tls.ca_file.read_bytes()
    (folder / "ca.key").write_bytes(b"an older plantlake kept the CA key here")
    assert make_server_tls(folder) == tls
    assert not (folder / "ca.key").exists()
    second_ca = tls.ca_file.read_bytes()
    assert second_ca != first_ca
    # a CA without name constraints (here: the server's certificate, which has none)
    tls.ca_file.write_bytes(tls.cert_file.read_bytes())
    make_server_tls(folder)
    ca = x509.load_pem_x509_certificate(tls.ca_file.read_bytes())
    assert tls.ca_file.read_bytes() != second_ca
    assert ca.extensions.get_extension_for_class(x509.NameConstraints).critical
    server = x509.load_pem_x509_certificate(tls.cert_file.read_bytes())
    server.verify_directly_issued_by(ca)
