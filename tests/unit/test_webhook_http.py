"""The webhooks' HTTP client: every resolved address checked, the connection made to the checked
address (no second resolution), the excerpt bounded, failures answered, never raised."""

from __future__ import annotations

from loyalty_engine.webhooks.http import post
from tests.support.webhooks import receiver


def test_it_connects_to_the_address_it_checked_and_sends_the_host_name():
    asked = []

    def resolver(host, port):
        asked.append((host, port))
        return ["127.0.0.1"]

    with receiver(answer_text="é" * 300) as server:
        url = f"http://hooks.example.com:{server.port}/in?x=1"
        answer = post(url, b"{}", {"X-Test": "1"}, allow_private=True, resolver=resolver)
        assert answer.succeeded and answer.status_code == 200 and answer.error is None
        assert answer.excerpt == "é" * 200
        (got,) = server.received
        assert got.headers["Host"] == f"hooks.example.com:{server.port}"
        assert got.headers["User-Agent"].startswith("loyalty-engine-webhooks/")
    assert asked == [("hooks.example.com", server.port)], "resolved once"


def test_a_name_resolving_to_any_forbidden_address_is_refused_without_connecting():
    with receiver() as server:
        for addresses in (
            ["169.254.169.254"],
            ["93.184.216.34", "10.0.0.1"],
            ["127.0.0.1"],
            ["fd00:ec2::254"],
        ):
            answer = post(
                f"http://hooks.example.com:{server.port}/", b"{}", {}, resolver=lambda h, p, a=addresses: a
            )
            assert (answer.status_code, answer.error, answer.succeeded) == (None, "forbidden_address", False)
        assert server.received == []


def test_unresolvable_refused_and_non_2xx_are_failures_not_exceptions():
    def nowhere(host, port):
        raise OSError("no such name")

    assert post("https://nowhere.invalid/", b"{}", {}, resolver=nowhere).error == "unresolvable"
    with receiver(script=[(302, 0), (404, 0)]) as server:
        for status in (302, 404):
            answer = post(server.url, b"{}", {}, allow_private=True)
            assert (answer.status_code, answer.succeeded) == (status, False)
    with receiver() as server:
        port = server.port
    answer = post(f"http://127.0.0.1:{port}/", b"{}", {}, allow_private=True)  # nobody listens now
    assert answer.error == "connection_error"


def test_the_timeout_bounds_the_whole_answer():
    with receiver(script=[(200, 1.0)]) as server:
        answer = post(server.url, b"{}", {}, allow_private=True, timeout_s=0.2)
    assert answer.error == "timeout" and 150 <= answer.latency_ms < 900


def test_a_receiver_trickling_its_answer_cannot_hold_the_delivery_past_the_deadline():
    """One byte every 0.5 s keeps each socket read short of any per-read timeout; the deadline is
    for the whole exchange, so the attempt ends near it, as a timeout."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle():
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)  # the request (small: one read)
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n" + b"x" * 2000:
                if stop.wait(0.5):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return  # the sender gave up

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/hooks"
        answer = post(url, b"{}", {}, allow_private=True, timeout_s=1.0)
    finally:
        stop.set()
        thread.join(5)
        listener.close()
    assert (answer.status_code, answer.error, answer.succeeded) == (None, "timeout", False)
    assert 950 <= answer.latency_ms < 1500


def test_https_goes_to_the_checked_address_and_checks_the_certificate_against_the_host_name(tmp_path):
    import http.server
    import ssl
    import threading

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    _self_signed("hooks.example.com", key, cert)
    hosts = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            hosts.append(self.headers["Host"])
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    serving = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    serving.load_cert_chain(cert, key)
    server.socket = serving.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    trusting = ssl.create_default_context(cafile=str(cert))
    try:
        good = post(
            f"https://hooks.example.com:{port}/in",
            b"{}",
            {},
            allow_private=True,
            resolver=lambda h, p: ["127.0.0.1"],
            tls=trusting,
        )
        assert (good.status_code, good.succeeded) == (204, True)
        assert hosts == [f"hooks.example.com:{port}"]
        wrong_name = post(
            f"https://other.example.com:{port}/in",
            b"{}",
            {},
            allow_private=True,
            resolver=lambda h, p: ["127.0.0.1"],
            tls=trusting,
        )
        assert wrong_name.error == "tls_error" and len(hosts) == 1
        untrusted = post(
            f"https://hooks.example.com:{port}/in",
            b"{}",
            {},
            allow_private=True,
            resolver=lambda h, p: ["127.0.0.1"],
        )
        assert untrusted.error == "tls_error" and len(hosts) == 1
    finally:
        server.shutdown()
        server.server_close()


def _self_signed(name: str, key_path, cert_path) -> None:
    """A certificate for `name`, signed by its own key (cryptography: moto depends on it)."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def test_a_url_no_request_line_can_carry_is_a_failure_not_an_exception():
    """A subscription stored before its URL was checked for it: a path that is not ASCII made
    http.client raise UnicodeEncodeError out of `post` on every attempt (the delivery message
    failed until its dead-letter queue, no attempt recorded)."""
    with receiver() as server:
        url = f"http://hooks.example.com:{server.port}/caf\u00e9"
        answer = post(url, b"{}", {}, allow_private=True, resolver=lambda h, p: ["127.0.0.1"])
    assert (answer.status_code, answer.error, answer.succeeded) == (None, "connection_error", False)
