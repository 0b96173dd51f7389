#!/usr/bin/env python3
"""A TLS-terminating proxy on 127.0.0.1 in front of the local token endpoint, for tests only.

The documentation's HTTPie samples call `https://{CLIENT_ID}:{CLIENT_SECRET}@{ENV}/o/token/`
and the local server speaks plain HTTP, so `scripts/clients.sh` puts this in front of it:
it makes a throwaway certificate authority and a server certificate for 127.0.0.1 and
localhost at start-up (in memory; only the CA's public certificate is written, to --ca-out,
for `REQUESTS_CA_BUNDLE` and `CURL_CA_BUNDLE`), accepts TLS connections on 127.0.0.1 and
copies the bytes of each one to and from the upstream server unchanged.

Prints `tls proxy listening on https://127.0.0.1:PORT` once it accepts connections, and one
line per connection on stderr. Stops on SIGTERM or SIGINT.

Needs `cryptography` (requirements-dev.txt).
"""

import argparse
import datetime
import ipaddress
import os
import signal
import socket
import ssl
import sys
import tempfile
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HANDSHAKE_TIMEOUT_SECONDS = 10
IDLE_TIMEOUT_SECONDS = 60


def make_certificates():
    """A CA and a server certificate it signed, valid for a day: (ca_pem, cert_pem, key_pem)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    not_before = now - datetime.timedelta(minutes=5)
    not_after = now + datetime.timedelta(days=1)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "token-endpoint test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
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
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
                    x509.DNSName("localhost"),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return (
        ca_cert.public_bytes(pem),
        cert.public_bytes(pem),
        key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )


def server_context(cert_pem, key_pem):
    """A TLS server context; `load_cert_chain` wants files, which live only for this call."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    with tempfile.TemporaryDirectory() as directory:
        cert_file = os.path.join(directory, "cert.pem")
        key_file = os.path.join(directory, "key.pem")
        with open(cert_file, "wb") as out:
            out.write(cert_pem)
        with open(os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
            out.write(key_pem)
        context.load_cert_chain(cert_file, key_file)
    return context


def pump(source, destination, on_eof):
    """Copies bytes from source to destination until either side ends."""
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            destination.sendall(data)
    except OSError:
        pass
    finally:
        on_eof()


def serve_connection(raw, peer, context, upstream):
    try:
        raw.settimeout(HANDSHAKE_TIMEOUT_SECONDS)
        client = context.wrap_socket(raw, server_side=True)
    except (OSError, ssl.SSLError) as error:
        print(f"tls proxy: handshake with {peer[0]}:{peer[1]} failed: {error}", file=sys.stderr)
        raw.close()
        return
    try:
        server = socket.create_connection(upstream, timeout=HANDSHAKE_TIMEOUT_SECONDS)
    except OSError as error:
        print(f"tls proxy: upstream {upstream[0]}:{upstream[1]}: {error}", file=sys.stderr)
        client.close()
        return
    print(
        f"tls proxy: {peer[0]}:{peer[1]} {client.version()} -> {upstream[0]}:{upstream[1]}",
        file=sys.stderr,
        flush=True,
    )
    client.settimeout(IDLE_TIMEOUT_SECONDS)
    server.settimeout(IDLE_TIMEOUT_SECONDS)

    def upstream_done():
        try:
            server.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    to_server = threading.Thread(
        target=pump, args=(client, server, upstream_done), daemon=True
    )
    to_server.start()
    # The upstream closing (or going idle) ends the connection.
    pump(server, client, lambda: None)
    for sock in (client, server):
        try:
            sock.close()
        except OSError:
            pass
    to_server.join(timeout=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="HOST:PORT of the plain HTTP server")
    parser.add_argument("--ca-out", required=True, help="where to write the CA certificate (PEM)")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free one)")
    args = parser.parse_args()
    host, _, port = args.upstream.rpartition(":")
    upstream = (host, int(port))

    ca_pem, cert_pem, key_pem = make_certificates()
    context = server_context(cert_pem, key_pem)
    with open(args.ca_out, "wb") as out:
        out.write(ca_pem)

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(64)

    def stop(_signum, _frame):
        listener.close()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"tls proxy listening on https://127.0.0.1:{listener.getsockname()[1]}", flush=True)
    while True:
        try:
            raw, peer = listener.accept()
        except OSError:
            return
        threading.Thread(
            target=serve_connection, args=(raw, peer, context, upstream), daemon=True
        ).start()


if __name__ == "__main__":
    main()
