"""Self-made Firebase-style keys and tokens for the integration tests: RS256
tokens signed with the openssl CLI (firebase-id-tokens.md §7), and a
loopback HTTP server with scripted answers that plays Google's certificate
and account endpoints. Used by test_auth.py and the storage tests."""

import base64
import collections
import json
import os
import socket
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import lxtest

PROJECT = "p1"
ISS = "https://securetoken.google.com/" + PROJECT
SESSION_ISS = "https://session.firebase.google.com/" + PROJECT


def auth_so():
    return os.path.join(lxtest.BUILDDIR, "plugins", "auth", ".libs", "auth.so")


# ---------------------------------------------------------------- keys and tokens

KEYDIR = None
KEYS = {}   # name -> private key path
CERTS = {}  # name -> certificate PEM text


def make_keys():
    global KEYDIR
    if KEYDIR is not None:
        return
    KEYDIR = lxtest.tempdir()
    for name in ("k1", "k2", "ks", "kx"):
        key = os.path.join(KEYDIR, name + ".pem")
        cert = os.path.join(KEYDIR, name + ".crt")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=t"],
                       check=True, capture_output=True)
        KEYS[name] = key
        with open(cert) as f:
            CERTS[name] = f.read()


def b64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(key, data):
    p = subprocess.run(["openssl", "dgst", "-sha256", "-sign", KEYS[key], "-binary"],
                       input=data.encode(), capture_output=True, check=True)
    return b64url(p.stdout)


def claims(**over):
    now = int(time.time())
    c = {"iss": ISS, "aud": PROJECT, "sub": "u1", "iat": now - 60, "auth_time": now - 60,
         "exp": now + 3540, "email": "user@example.com", "email_verified": True,
         "name": "User One", "role": "tester",
         "firebase": {"sign_in_provider": "password", "identities": {}}}
    for k, v in over.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


def token(key="k1", kid=None, alg="RS256", payload=None, header=None, sig=None):
    hdr = header if header is not None else {"alg": alg, "kid": kid or key, "typ": "JWT"}
    h = b64url(json.dumps(hdr, separators=(",", ":")))
    p = b64url(json.dumps(payload if payload is not None else claims(),
                          separators=(",", ":")))
    s = sig if sig is not None else sign(key, h + "." + p)
    return h + "." + p + "." + s


def bearer(tok):
    return {"Authorization": "Bearer " + tok}


def pem_map(*names):
    return json.dumps({n: CERTS[n] for n in names})


# ---------------------------------------------------------------- fake Google

class Fake:
    """A loopback HTTP server with scripted answers. routes: path ->
    dict(status, body, headers, delay) or a function(method, path, headers,
    body) returning (status, headers, body). Counts requests per path."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = collections.Counter()
        self.requests = []
        self.routes = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def handle_one(self):
                path = urllib.parse.urlsplit(self.path).path
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                with fake.lock:
                    fake.counts[path] += 1
                    fake.requests.append((self.command, path, dict(self.headers), body))
                    r = fake.routes.get(path)
                if r is None:
                    status, hdrs, out = 404, {}, b'{"error":"not found"}'
                elif callable(r):
                    status, hdrs, out = r(self.command, path, self.headers, body)
                else:
                    if r.get("delay"):
                        time.sleep(r["delay"])
                    status, hdrs, out = r.get("status", 200), r.get("headers", {}), r["body"]
                if isinstance(out, str):
                    out = out.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(out)))
                    for k, v in hdrs.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(out)
                except OSError:
                    pass

            do_GET = do_POST = handle_one

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def certs(self, path, *names, max_age=3600, status=200, delay=0):
        self.routes[path] = {"status": status, "body": pem_map(*names), "delay": delay,
                             "headers": {"Cache-Control": "public, max-age=%d, must-revalidate, "
                                                          "no-transform" % max_age}}

    def count(self, path):
        with self.lock:
            return self.counts[path]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
