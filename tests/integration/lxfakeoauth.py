"""lxfakeoauth: a loopback fake of Google's OAuth 2.0 token endpoint for
service accounts (the JWT-bearer grant, RFC 7523), python3 stdlib plus the
openssl command, for the integration tests of the auth plugin's
google_token.v1 and its users.

    key = ServiceAccountKey()            # a fresh RSA key, made now
    fake = FakeOAuth(key)                # started; fake.close() at the end
    key.write(path)                      # the service-account JSON file
    ... token_url = fake.url

POST /token checks what Google checks: grant_type
urn:ietf:params:oauth:grant-type:jwt-bearer, an RS256 assertion whose
signature verifies with the key's PUBLIC key (openssl dgst -verify), its
header (alg RS256, typ JWT, kid = private_key_id) and claims (iss =
client_email, scope = fake.scope, aud = fake.url, iat within a minute of
now, exp = iat + 3600). A good exchange gets a new access token
("ya29.fake-N-<random>") valid fake.expires_in seconds; a bad one 400
invalid_grant, and its reason goes to fake.errors (a test asserts it is
empty). fake.fail_with = 500 makes every exchange fail with that status;
fake.hold() makes exchanges wait until fake.release(). Every issued token
is in fake.issued; fake.count is the number of good exchanges;
fake.token_ok(t) says whether t was issued (and not revoked).
"""

import base64
import json
import os
import secrets
import subprocess
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _b64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class ServiceAccountKey:
    """An RSA key made at test time (nothing committed) and the service
    account JSON around it."""

    def __init__(self, email="speech@lexiaid-test.iam.gserviceaccount.com", kid="sa-kid-1"):
        self.email, self.kid = email, kid
        self.dir = tempfile.mkdtemp(prefix="lxsa-")
        self.key_path = os.path.join(self.dir, "key.pem")
        self.pub_path = os.path.join(self.dir, "pub.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:2048", "-out", self.key_path],
                       check=True, capture_output=True, timeout=60)
        subprocess.run(["openssl", "pkey", "-in", self.key_path, "-pubout", "-out",
                        self.pub_path], check=True, capture_output=True, timeout=60)
        with open(self.key_path) as f:
            self.pem = f.read()
        # what a log line would show of the key: its base64 lines
        self.pem_lines = [ln for ln in self.pem.splitlines() if ln and "-----" not in ln]

    def write(self, path=None):
        path = path or os.path.join(self.dir, "sa.json")
        with open(path, "w") as f:
            json.dump({"type": "service_account", "project_id": "lexiaid-test",
                       "private_key_id": self.kid, "private_key": self.pem,
                       "client_email": self.email, "client_id": "1234567890",
                       "token_uri": "https://oauth2.googleapis.com/token"}, f)
        os.chmod(path, 0o600)
        return path

    def verify(self, signing_input, sig):
        """True when sig is the RS256 signature of signing_input."""
        with tempfile.TemporaryDirectory() as d:
            for name, data in (("in", signing_input), ("sig", sig)):
                with open(os.path.join(d, name), "wb") as f:
                    f.write(data)
            p = subprocess.run(["openssl", "dgst", "-sha256", "-verify", self.pub_path,
                                "-signature", os.path.join(d, "sig"), os.path.join(d, "in")],
                               capture_output=True, timeout=30)
            return p.returncode == 0


class FakeOAuth:
    def __init__(self, key, scope=CLOUD_PLATFORM, expires_in=3599):
        self.key, self.scope, self.expires_in = key, scope, expires_in
        self.fail_with = None
        self.count = 0
        self.attempts = 0
        self.issued = []
        self.revoked = set()
        self.errors = []
        self.claims = []
        self._lock = threading.Lock()
        self._open = threading.Event()
        self._open.set()
        fake = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0") or 0)
                code, body = fake._exchange(self.path, self.headers, self.rfile.read(n))
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d/token" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self._open.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def hold(self):
        self._open.clear()

    def release(self):
        self._open.set()

    def token_ok(self, token):
        with self._lock:
            return token in self.issued and token not in self.revoked

    def _bad(self, why):
        with self._lock:
            self.errors.append(why)
        return 400, {"error": "invalid_grant", "error_description": why}

    def _exchange(self, path, headers, raw):
        self._open.wait(30)
        with self._lock:
            self.attempts += 1
        if path != "/token":
            return 404, {"error": "not_found"}
        if self.fail_with is not None:
            return self.fail_with, {"error": "internal_failure",
                                    "error_description": "the fake fails on purpose"}
        if headers.get("Content-Type") != "application/x-www-form-urlencoded":
            return self._bad("content type %r" % headers.get("Content-Type"))
        form = urllib.parse.parse_qs(raw.decode(), strict_parsing=True)
        if form.get("grant_type") != [GRANT]:
            return self._bad("grant_type %r" % form.get("grant_type"))
        parts = form.get("assertion", [""])[0].split(".")
        if len(parts) != 3:
            return self._bad("the assertion is not a JWS")
        h, p, s = parts
        if not self.key.verify((h + "." + p).encode(), _b64url(s)):
            return self._bad("the signature does not verify with the public key")
        hdr, claims = json.loads(_b64url(h)), json.loads(_b64url(p))
        now = time.time()
        if hdr != {"alg": "RS256", "typ": "JWT", "kid": self.key.kid}:
            return self._bad("header %r" % hdr)
        want = {"iss": self.key.email, "scope": self.scope, "aud": self.url}
        for k, v in want.items():
            if claims.get(k) != v:
                return self._bad("claim %s is %r, not %r" % (k, claims.get(k), v))
        if abs(claims.get("iat", 0) - now) > 60 or claims.get("exp") != claims["iat"] + 3600:
            return self._bad("iat/exp %r/%r" % (claims.get("iat"), claims.get("exp")))
        with self._lock:
            self.count += 1
            # hex: the random tail has no '-', so a test can look for it alone
            tok = "ya29.fake-%d-%s" % (self.count, secrets.token_hex(24))
            self.issued.append(tok)
            self.claims.append(claims)
        return 200, {"access_token": tok, "expires_in": self.expires_in, "token_type": "Bearer"}
