"""One deadline for a whole HTTP exchange, a bounded body, the environment's proxy."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from scheduler import bounded_http
from tests.hang_guard import fails_if_hung
from tests.loopback import Answer, LoopbackServer


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as running:
        yield running


def test_it_reads_the_status_and_the_body(server: LoopbackServer) -> None:
    server.always("/keys", Answer(200, {"keys": []}), method="GET")
    reply = bounded_http.request(
        "GET", f"{server.url}/keys?x=1", deadline_seconds=5, max_body_bytes=100
    )
    assert (reply.status, reply.body) == (200, b'{"keys": []}')
    assert server.requests_to("/keys", method="GET")[0].query == {"x": ["1"]}


def test_it_gives_up_an_answer_that_trickles_past_the_deadline(server: LoopbackServer) -> None:
    # Each byte comes well within any read timeout; the whole answer would take minutes.
    server.always("/slow", Answer(200, b"x" * 1000, trickle=0.2), method="GET")
    with (
        fails_if_hung(30, "a trickling answer"),
        pytest.raises(bounded_http.RequestFailed) as caught,
    ):
        bounded_http.request("GET", f"{server.url}/slow", deadline_seconds=0.5, max_body_bytes=2000)
    assert str(caught.value) == "timed out"


def test_it_does_not_read_a_body_it_was_not_asked_for(server: LoopbackServer) -> None:
    server.always("/ping", Answer(200, b"x" * 1000, trickle=0.2))
    with fails_if_hung(30, "a ping whose answer trickles"):
        reply = bounded_http.request("POST", f"{server.url}/ping", deadline_seconds=20)
    assert (reply.status, reply.body) == (200, b"")


def test_it_refuses_a_body_over_its_limit(server: LoopbackServer) -> None:
    server.always("/big", Answer(200, b"x" * 101), method="GET")
    with pytest.raises(bounded_http.RequestFailed, match="too large"):
        bounded_http.request("GET", f"{server.url}/big", deadline_seconds=5, max_body_bytes=100)


def test_it_follows_no_redirect(server: LoopbackServer) -> None:
    server.always("/old", Answer(302, headers={"Location": f"{server.url}/new"}), method="GET")
    reply = bounded_http.request("GET", f"{server.url}/old", deadline_seconds=5)
    assert reply.status == 302
    assert not server.requests_to("/new", method=None)


def test_it_goes_through_the_proxy_the_environment_names(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", server.url.replace("http://", "http://ops:s3cret@"))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    server.always("/jwks", Answer(200, b"{}"), method="GET")
    reply = bounded_http.request(
        "GET", "http://auth.example.test/jwks", deadline_seconds=5, max_body_bytes=10
    )
    assert reply.status == 200
    [seen] = server.requests_to("/jwks", method="GET")
    assert seen.header("Host") == "auth.example.test"
    assert seen.header("Proxy-Authorization") == "Basic b3BzOnMzY3JldA=="


def test_it_fails_with_a_reason_that_holds_no_url() -> None:
    with pytest.raises(bounded_http.RequestFailed) as caught:
        bounded_http.request("GET", "http://127.0.0.1:9/secret-path", deadline_seconds=5)
    assert "secret" not in str(caught.value)


def test_it_ends_a_trickling_answer_over_tls_too(
    server: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = self_signed_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server._httpd.socket = context.wrap_socket(server._httpd.socket, server_side=True)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    https_url = server.url.replace("http://", "https://")
    server.always("/keys", Answer(200, b"{}"), method="GET")
    server.always("/slow", Answer(200, b"x" * 1000, trickle=0.2), method="GET")

    reply = bounded_http.request("GET", f"{https_url}/keys", deadline_seconds=5, max_body_bytes=10)
    assert (reply.status, reply.body) == (200, b"{}")
    with (
        fails_if_hung(30, "a trickling answer over TLS"),
        pytest.raises(bounded_http.RequestFailed, match="timed out"),
    ):
        bounded_http.request("GET", f"{https_url}/slow", deadline_seconds=0.5, max_body_bytes=2000)


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1, its own authority."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
