"""Outbound HTTP against a real server: the connection goes to the address that was checked."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared import outbound
from shared.networks import parse_networks
from tests.support.receiver import Answer, Receiver

LOCAL = parse_networks("127.0.0.0/8")


def _resolver(*addresses: str) -> outbound.Resolve:
    calls: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return list(addresses)

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


def test_a_name_is_sent_to_the_address_it_was_checked_at(receiver: Receiver) -> None:
    port = receiver.server.server_address[1]
    resolve = _resolver("127.0.0.1")
    response = outbound.post(f"http://hooks.example.test:{port}/in?x=1", b'{"a":1}',
                             {"webhook-id": "msg_1"}, timeout=5, allowed=LOCAL,
                             resolve=resolve)
    assert response.status == 200 and response.body == b"thanks"
    [received] = receiver.wait_for("/in?x=1", 1)
    assert received.headers["host"] == f"hooks.example.test:{port}"
    assert received.headers["user-agent"] == outbound.USER_AGENT
    assert (received.headers["webhook-id"], received.body) == ("msg_1", b'{"a":1}')
    assert resolve.calls == ["hooks.example.test"]  # type: ignore[attr-defined]


def test_a_proxy_in_the_environment_does_not_divert_a_delivery(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A proxy would make the connection to an address nobody checked: none is used.
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    port = receiver.server.server_address[1]
    response = outbound.post(f"http://hooks.example.test:{port}/proxied", b"{}", {},
                             timeout=5, allowed=LOCAL, resolve=_resolver("127.0.0.1"))
    assert response.status == 200
    assert [r.path for r in receiver.wait_for("/proxied", 1)] == ["/proxied"]


def test_a_name_that_now_resolves_privately_is_refused_before_connecting(
    receiver: Receiver,
) -> None:
    port = receiver.server.server_address[1]
    with pytest.raises(outbound.DeliveryError) as caught:
        outbound.post(f"http://rebound.example.test:{port}/", b"{}", {}, timeout=5,
                      allowed=(), resolve=_resolver("127.0.0.1"))
    assert caught.value.kind == "refused"
    assert "rebound.example.test resolves to 127.0.0.1, a loopback address" in str(caught.value)
    assert receiver.received == []


def test_an_unreachable_address_gives_way_to_the_next(receiver: Receiver) -> None:
    port = receiver.server.server_address[1]
    response = outbound.post(f"http://twice.example.test:{port}/", b"{}", {}, timeout=5,
                             allowed=LOCAL, resolve=_resolver("127.0.0.254", "127.0.0.1"))
    assert response.status == 200


def test_only_the_first_bytes_of_an_answer_are_read(receiver: Receiver) -> None:
    receiver.script("/big", Answer(500, {"Retry-After": "7"}, b"y" * 100_000))
    response = outbound.post(receiver.url("/big"), b"{}", {}, timeout=5, allowed=LOCAL,
                             max_body=16)
    assert (response.status, response.body) == (500, b"y" * 16)
    assert response.headers["retry-after"] == "7"


def test_no_answer_and_no_server_are_delivery_errors(receiver: Receiver) -> None:
    receiver.script("/slow", Answer(200, delay=2))
    with pytest.raises(outbound.DeliveryError) as slow:
        outbound.post(receiver.url("/slow"), b"{}", {}, timeout=0.3, allowed=LOCAL)
    assert slow.value.kind == "timeout"
    with pytest.raises(outbound.DeliveryError) as closed:
        outbound.post("http://127.0.0.1:9/", b"{}", {}, timeout=2, allowed=LOCAL)
    assert closed.value.kind == "connection"

    def unknown(host: str, port: int) -> list[str]:
        raise outbound.Unresolvable(f"The host {host!r} does not resolve.")

    with pytest.raises(outbound.DeliveryError) as dns:
        outbound.post("http://nowhere.invalid/", b"{}", {}, timeout=2, allowed=LOCAL,
                      resolve=unknown)
    assert dns.value.kind == "dns"


class _TlsListener:
    """A TLS server on 127.0.0.1 whose certificate no one trusts: it notes the name each
    client asked for (SNI) and whether the handshake completed."""

    def __init__(self, directory: Path) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hooks.example.test")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName(
                    [x509.DNSName("hooks.example.test")]), critical=False)
                .sign(key, hashes.SHA256()))
        (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (directory / "key.pem").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
        self.names: list[str | None] = []
        self.completed: list[bool] = []
        self.context.sni_callback = lambda sock, name, ctx: self.names.append(name)
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        connection, _ = self.socket.accept()
        with connection:
            try:
                with self.context.wrap_socket(connection, server_side=True):
                    self.completed.append(True)
            except (ssl.SSLError, OSError):
                self.completed.append(False)

    def close(self) -> None:
        self.thread.join(5)
        self.socket.close()


@pytest.fixture
def tls_listener(tmp_path: Path) -> Iterator[_TlsListener]:
    """A TLS server on 127.0.0.1 with a self-signed certificate for hooks.example.test."""
    listener = _TlsListener(tmp_path)
    yield listener
    listener.close()


def test_tls_to_a_pinned_address_asks_for_the_name_and_checks_the_certificate(
    tls_listener: _TlsListener,
) -> None:
    # hooks.example.test resolves nowhere but here: reaching the listener at all shows the
    # connection went to the checked address; the name still goes out as SNI, and the
    # certificate (self-signed, so trusted by no one) is checked and refused.
    with pytest.raises(outbound.DeliveryError) as caught:
        outbound.post(f"https://hooks.example.test:{tls_listener.port}/", b"{}", {},
                      timeout=5, allowed=LOCAL, resolve=_resolver("127.0.0.1"))
    tls_listener.close()
    assert caught.value.kind == "tls"
    assert "certificate verify failed" in str(caught.value)
    assert tls_listener.names == ["hooks.example.test"]
    assert tls_listener.completed == [False]
