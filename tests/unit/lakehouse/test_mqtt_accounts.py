"""The broker's ACL file is made from the one table of roles, and the local CA's certificates
name the loopback host and keep their keys private."""

from __future__ import annotations

import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from lakehouse.services.mosquitto import MqttAccount, acl_text
from lakehouse.services.tls import make_server_tls


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
        "ca.key": 0o600,
        "server.pem": 0o600,
        "server.key": 0o600,
    }
    assert (tmp_path / "tls").stat().st_mode & 0o777 == 0o700
    # a second call keeps them: clients that trust the CA go on trusting the broker
    assert make_server_tls(tmp_path / "tls") == tls
    assert tls.cert_file.read_bytes() == server.public_bytes(serialization.Encoding.PEM)
