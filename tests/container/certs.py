#!/usr/bin/env python3
"""Signed tokens for the container tests, so that a document can be uploaded
through the real API of a container (auth + storage) and checked after
`docker restart` and re-creation.

  certs.py serve DIR     makes an RSA key and certificate in DIR (once),
                         serves Google's x509 map of it on 127.0.0.1 (a free
                         port, written to DIR/port) until killed
  certs.py token DIR UID prints an RS256 ID token for project p1 signed with
                         DIR's key (kid k1)
  certs.py serve-tls DIR the same map over HTTPS (port in DIR/tls-port), with a
                         certificate for 127.0.0.1 issued by a test CA made in
                         DIR (DIR/ca.crt), so that the image's TLS client
                         (libcurl + OpenSSL, its CA bundle) is exercised

The container runs with --network host, FIREBASE_PROJECT_ID=p1 and
LEXIAID_AUTH_CERTS_URL=http://127.0.0.1:$(cat DIR/port)/certs. The keys and
tokens are those of the integration tests (tests/integration/lxkeys.py).
"""

import os
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import lxkeys  # noqa: E402


def load(directory):
    key = os.path.join(directory, "k1.pem")
    cert = os.path.join(directory, "k1.crt")
    if not os.path.exists(cert):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "2", "-subj", "/CN=t"],
                       check=True, capture_output=True)
    lxkeys.KEYS["k1"] = key
    with open(cert) as f:
        lxkeys.CERTS["k1"] = f.read()


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def tls_files(directory):
    """A test CA and a server certificate for IP 127.0.0.1 that it issued."""
    ca_key, ca = os.path.join(directory, "ca.key"), os.path.join(directory, "ca.crt")
    key, csr = os.path.join(directory, "tls.key"), os.path.join(directory, "tls.csr")
    cert, ext = os.path.join(directory, "tls.crt"), os.path.join(directory, "tls.ext")
    if not os.path.exists(cert):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca,
                "-days", "2", "-subj", "/CN=lexiaid container test CA",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1")
        with open(ext, "w") as f:
            f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
        openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
                "-out", cert, "-days", "2", "-extfile", ext)
    return cert, key


def serve_tls(directory):
    load(directory)
    cert, key = tls_files(directory)
    body = lxkeys.pem_map("k1").encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            ok = self.path.split("?")[0] == "/certs"
            out = body if ok else b'{"error":"not found"}'
            self.send_response(200 if ok else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "public, max-age=3600")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    with open(os.path.join(directory, "tls-port.tmp"), "w") as f:
        f.write(str(httpd.server_address[1]))
    os.rename(os.path.join(directory, "tls-port.tmp"), os.path.join(directory, "tls-port"))
    while True:
        time.sleep(3600)


def main(argv):
    if len(argv) == 3 and argv[1] == "serve":
        load(argv[2])
        fake = lxkeys.Fake()
        fake.certs("/certs", "k1")
        with open(os.path.join(argv[2], "port.tmp"), "w") as f:
            f.write(str(fake.port))
        os.rename(os.path.join(argv[2], "port.tmp"), os.path.join(argv[2], "port"))
        while True:
            time.sleep(3600)
    if len(argv) == 3 and argv[1] == "serve-tls":
        serve_tls(argv[2])
    if len(argv) == 4 and argv[1] == "token":
        load(argv[2])
        print(lxkeys.token("k1", payload=lxkeys.claims(sub=argv[3], email=argv[3] + "@example.com")))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
