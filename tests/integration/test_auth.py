#!/usr/bin/env python3
"""The auth plugin against a loopback certificate server: real RS256 tokens
made with the openssl CLI (docs: firebase-id-tokens.md §7), key fetching
(single flight, rotation, failures), session cookies, admins, revocation and
the account routes against fake Google endpoints."""

import base64
import json
import os
import subprocess
import threading
import time
import urllib.parse

import lxtest
from lxtest import config, parse_json, route, run_config

from lxkeys import (CERTS, KEYS, PROJECT, SESSION_ISS, Fake, auth_so, b64url, bearer, claims,
                    closed_port, make_keys, pem_map, token)


ROUTES = [
    route("GET", "/api/auth/me", "auth.me", before=["auth.require_user"]),
    route("GET", "/admin/me", "auth.me", before=["auth.require_admin"]),
    route("GET", "/opt", "testplug.echo", before=["auth.optional_user"]),
    route("GET", "/opt/me", "auth.me", before=["auth.optional_user"]),
    route("GET", "/short/me", "auth.me", before=["auth.require_user"], timeout="500ms"),
    route("POST", "/api/users", "auth.signup"),
    route("POST", "/api/users/verify-email", "auth.verify_email", before=["auth.require_user"]),
    route("DELETE", "/api/users", "auth.delete_user", before=["auth.require_user"]),
    route("GET", "/ready", "health.ready"),
    route("GET", "/health", "health.live"),
]


def auth_config(cfg, workers=1, routes=None):
    return config(routes=routes or ROUTES, workers=workers, server={"max_header": "64K"},
                  plugins=["testplug", "health", {"name": "auth", "file": auth_so(),
                                                   "config": cfg}])


class AuthCase(lxtest.TestCase):

    def setUp(self):
        super().setUp()
        if not os.path.exists(auth_so()):
            self.fail("missing %s (build first)" % auth_so())
        make_keys()

    def assertNoToken(self, srv, *tokens):
        out = srv.output()
        for t in tokens:
            for part in [t] + [p for p in t.split(".") if len(p) > 20]:
                self.assertNotIn(part, out, "a token (or part of one) reached the log")


# ---------------------------------------------------------------- verification

class TestAuthTokens(AuthCase):

    @classmethod
    def setUpClass(cls):
        make_keys()
        cls.fake = Fake()
        cls.fake.certs("/certs", "k1")
        cls.fake.certs("/session", "ks")
        cls.srv = lxtest.Server(auth_config({
            "project_id": PROJECT, "certs_url": cls.fake.url + "/certs",
            "session_certs_url": cls.fake.url + "/session",
            "admin_emails": " Boss@Example.com , other@example.com"}))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop_checked()
        cls.fake.close()

    def me(self, headers=None, path="/api/auth/me"):
        status, _, body = self.srv.get(path, headers=headers)
        return status, body

    def test_auth_good_token_me_answers_the_principal(self):
        tok = token()
        status, body = self.me(bearer(tok))
        self.assertEqual(status, 200, body)
        j = parse_json(body)
        self.assertEqual(j["uid"], "u1")
        self.assertEqual(j["email"], "user@example.com")
        self.assertIs(j["email_verified"], True)
        self.assertEqual(j["name"], "User One")
        self.assertEqual(j["sign_in_provider"], "password")
        self.assertIsNone(j["tenant"])
        self.assertEqual(j["claims"], {"role": "tester"})
        self.assertIs(j["is_admin"], False)
        for k in ("auth_time", "iat", "exp", "picture"):
            self.assertIn(k, j)
        line = self.srv.wait_log(lambda l: l.get("src") == "access" and l.get("status") == 200
                                 and l.get("path") == "/api/auth/me")
        self.assertIsNotNone(line)
        self.assertEqual(line.get("uid"), "u1", "the access log line carries the uid")
        self.assertNoToken(self.srv, tok)

    def test_auth_bearer_scheme_is_case_insensitive(self):
        status, body = self.me({"Authorization": "bEaReR   " + token()})
        self.assertEqual(status, 200, body)

    def test_auth_missing_header_is_401_unauthenticated(self):
        status, body = self.me()
        self.assertJsonError(status, body, 401, "UNAUTHENTICATED")

    def test_auth_malformed_headers_are_401_unauthenticated(self):
        tok = token()
        for h in ("Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Token " + tok,
                  "Bearer " + tok + " extra", "Bearer" + tok):
            status, body = self.me({"Authorization": h})
            self.assertJsonError(status, body, 401, "UNAUTHENTICATED")

    def test_auth_expired_token_is_401_token_expired(self):
        now = int(time.time())
        tok = token(payload=claims(iat=now - 7200, auth_time=now - 7200, exp=now - 3600))
        status, body = self.me(bearer(tok))
        self.assertJsonError(status, body, 401, "TOKEN_EXPIRED")
        # Within the leeway (60 s) it still passes.
        tok = token(payload=claims(exp=now - 30))
        self.assertEqual(self.me(bearer(tok))[0], 200)

    def test_auth_bad_tokens_are_401_token_invalid_and_never_logged(self):
        good = token()
        h, p, s = good.split(".")
        flipped = h + "." + p[:-2] + ("A" if p[-2] != "A" else "B") + p[-1] + "." + s
        now = int(time.time())
        bad = {
            "bad signature (other key)": token(key="kx", kid="k1"),
            "payload flipped": flipped,
            "wrong aud": token(payload=claims(aud="other")),
            "aud array": token(payload=claims(aud=[PROJECT])),
            "wrong iss": token(payload=claims(iss="https://accounts.google.com")),
            "session iss": token(payload=claims(iss=SESSION_ISS)),
            "alg none": h.replace(h, b64url('{"alg":"none","typ":"JWT"}')) + "." + p + ".",
            "alg none no dot": b64url('{"alg":"none","typ":"JWT"}') + "." + p,
            "HS256": token(header={"alg": "HS256", "kid": "k1", "typ": "JWT"}),
            "rs256 lower": token(header={"alg": "rs256", "kid": "k1", "typ": "JWT"}),
            "no kid": token(header={"alg": "RS256", "typ": "JWT"}),
            "empty kid": token(header={"alg": "RS256", "kid": "", "typ": "JWT"}),
            "no sub": token(payload=claims(sub=None)),
            "empty sub": token(payload=claims(sub="")),
            "long sub": token(payload=claims(sub="x" * 129)),
            "iat in the future": token(payload=claims(iat=now + 3600)),
            "no exp": token(payload=claims(exp=None)),
            "exp string": token(payload=claims(exp=str(now + 3600))),
            "two segments": h + "." + p,
            "four segments": good + ".x",
            "padding": good + "=",
            "garbage": "not-a-jwt",
            "payload array": h + "." + b64url("[]") + "." + s,
            "huge": "a" * 20000,
        }
        for name, tok in bad.items():
            status, body = self.me(bearer(tok))
            self.assertJsonError(status, body, 401, "TOKEN_INVALID")
            msg = parse_json(body)["error"]
            self.assertLess(len(msg), 120, name)
            self.assertNotIn(tok[:40], msg, name)
        self.assertNoToken(self.srv, *[t for t in bad.values() if len(t) < 20000])
        self.assertTrue(self.srv.is_running())

    def test_auth_optional_user(self):
        status, _, j = self.srv.get_json("/opt")
        self.assertEqual(status, 200)
        self.assertEqual(self.me(bearer(token()), path="/opt/me")[0], 200)
        status, body = self.me(bearer(token(payload=claims(aud="x"))), path="/opt/me")
        self.assertJsonError(status, body, 401, "TOKEN_INVALID")

    def test_auth_require_admin_by_email_list_and_claim(self):
        status, body = self.me(bearer(token(payload=claims(email="BOSS@example.COM"))),
                               "/admin/me")
        self.assertEqual(status, 200, body)
        self.assertIs(parse_json(body)["is_admin"], True)
        status, body = self.me(bearer(token(payload=claims(admin=True))), "/admin/me")
        self.assertEqual(status, 200, body)
        self.assertIs(parse_json(body)["is_admin"], True)
        status, body = self.me(bearer(token()), "/admin/me")
        j = self.assertJsonError(status, body, 403, "FORBIDDEN")
        self.assertEqual(j["error"], "Admin access required")
        status, body = self.me(bearer(token(payload=claims(admin="true"))), "/admin/me")
        self.assertJsonError(status, body, 403, "FORBIDDEN")
        status, body = self.me(bearer(token(payload=claims(email=None))), "/admin/me")
        self.assertJsonError(status, body, 403, "FORBIDDEN")
        status, body = self.me(None, "/admin/me")
        self.assertJsonError(status, body, 401, "UNAUTHENTICATED")
        # The admin flag of the email list shows on /api/auth/me too.
        status, body = self.me(bearer(token(payload=claims(email="other@example.com"))))
        self.assertIs(parse_json(body)["is_admin"], True)

    def test_auth_session_cookie(self):
        now = int(time.time())
        cookie = token(key="ks", payload=claims(iss=SESSION_ISS, exp=now + 86400))
        status, body = self.me({"Cookie": "theme=dark; session=" + cookie + "; x=1"})
        self.assertEqual(status, 200, body)
        self.assertEqual(parse_json(body)["uid"], "u1")
        status, body = self.me({"Cookie": 'session="' + cookie + '"'})
        self.assertEqual(status, 200, body)
        # An ID token is not a session cookie, and the reverse.
        status, body = self.me({"Cookie": "session=" + token()})
        self.assertJsonError(status, body, 401, "TOKEN_INVALID")
        status, body = self.me(bearer(cookie))
        self.assertJsonError(status, body, 401, "TOKEN_INVALID")
        # Another cookie name, a look-alike name, garbage: no token.
        for c in ("sessionx=" + cookie, "xsession=" + cookie, "session=", "session",
                  "session=a b", ";;;", "=" + cookie):
            status, body = self.me({"Cookie": c})
            self.assertJsonError(status, body, 401, "UNAUTHENTICATED")
        # The header wins over the cookie.
        status, body = self.me({"Cookie": "session=" + cookie, "Authorization": "Basic x"})
        self.assertJsonError(status, body, 401, "UNAUTHENTICATED")
        self.assertNoToken(self.srv, cookie)
        self.assertEqual(self.fake.count("/session"), 1)

    def test_auth_keys_are_fetched_once_for_many_requests(self):
        tok = token()
        for _ in range(5):
            self.assertEqual(self.me(bearer(tok))[0], 200)
        self.assertEqual(self.fake.count("/certs"), 1)

    def test_auth_ready_reports_keys(self):
        status, _, j = self.srv.get_json("/ready")
        self.assertEqual(status, 200, j)
        self.assertTrue(j["plugins"]["auth"]["ok"], j)


class TestAuthRotation(AuthCase):

    def test_auth_unknown_kid_refetches_once_then_verifies(self):
        fake = Fake()
        self.addCleanup(fake.close)
        fake.certs("/certs", "k1")
        srv = self.start(auth_config({"project_id": PROJECT, "certs_url": fake.url + "/certs"}))
        self.assertEqual(srv.get("/api/auth/me", headers=bearer(token()))[0], 200)
        self.assertEqual(fake.count("/certs"), 1)
        # Google rotates: k2 appears. A k2 token makes one refetch.
        fake.certs("/certs", "k1", "k2")
        tok2 = token(key="k2")
        status, _, body = srv.get("/api/auth/me", headers=bearer(tok2))
        self.assertEqual(status, 200, body)
        self.assertEqual(fake.count("/certs"), 2)
        self.assertEqual(srv.get("/api/auth/me", headers=bearer(tok2))[0], 200)
        # An unknown kid within the minute: no refetch, 401.
        status, _, body = srv.get("/api/auth/me", headers=bearer(token(key="kx", kid="k9")))
        self.assertJsonError(status, body, 401, "TOKEN_INVALID")
        self.assertEqual(fake.count("/certs"), 2)
        # k1 is still served: old tokens keep working.
        self.assertEqual(srv.get("/api/auth/me", headers=bearer(token()))[0], 200)

    def test_auth_short_max_age_is_clamped_to_a_minute(self):
        fake = Fake()
        self.addCleanup(fake.close)
        fake.certs("/certs", "k1", max_age=1)  # clamped to 60 s: no refetch storm
        srv = self.start(auth_config({"project_id": PROJECT, "certs_url": fake.url + "/certs"}))
        self.assertEqual(srv.get("/api/auth/me", headers=bearer(token()))[0], 200)
        time.sleep(1.5)
        self.assertEqual(srv.get("/api/auth/me", headers=bearer(token()))[0], 200)
        self.assertEqual(fake.count("/certs"), 1)


class TestAuthTokenCache(AuthCase):

    def test_auth_cached_token_is_not_accepted_past_exp(self):
        fake = Fake()
        self.addCleanup(fake.close)
        fake.certs("/certs", "k1")
        srv = self.start(auth_config({"project_id": PROJECT, "certs_url": fake.url + "/certs",
                                      "leeway": 0, "token_cache": 16}))
        now = int(time.time())
        tok = token(payload=claims(exp=now + 2))
        self.assertEqual(srv.get("/api/auth/me", headers=bearer(tok))[0], 200)
        self.assertEqual(srv.get("/api/auth/me", headers=bearer(tok))[0], 200)  # a cache hit
        time.sleep(3.2)
        status, _, body = srv.get("/api/auth/me", headers=bearer(tok))
        self.assertJsonError(status, body, 401, "TOKEN_EXPIRED")

    def test_auth_cache_is_flushed_when_keys_change(self):
        fake = Fake()
        self.addCleanup(fake.close)
        fake.certs("/certs", "k1")
        srv = self.start(auth_config({"project_id": PROJECT, "certs_url": fake.url + "/certs"}))
        tok1 = token()
        self.assertEqual(srv.get("/api/auth/me", headers=bearer(tok1))[0], 200)
        # k1 is withdrawn and k2 appears: a k2 token makes the refetch, and
        # the cached k1 verification must not outlive k1.
        fake.certs("/certs", "k2")
        self.assertEqual(srv.get("/api/auth/me", headers=bearer(token(key="k2")))[0], 200)
        status, _, body = srv.get("/api/auth/me", headers=bearer(tok1))
        self.assertJsonError(status, body, 401, "TOKEN_INVALID")

    def test_auth_without_cache_every_request_verifies(self):
        fake = Fake()
        self.addCleanup(fake.close)
        fake.certs("/certs", "k1")
        srv = self.start(auth_config({"project_id": PROJECT, "certs_url": fake.url + "/certs",
                                      "token_cache": 0}))
        for _ in range(3):
            self.assertEqual(srv.get("/api/auth/me", headers=bearer(token()))[0], 200)


class TestAuthKeyFailures(AuthCase):

    def test_auth_cert_server_down_is_503_auth_unavailable(self):
        url = "http://127.0.0.1:%d/certs" % closed_port()
        srv = self.start(auth_config({"project_id": PROJECT, "certs_url": url}))
        status, _, body = srv.get("/api/auth/me", headers=bearer(token()))
        self.assertJsonError(status, body, 503, "AUTH_UNAVAILABLE")
        deadline = time.time() + 5
        while time.time() < deadline:
            status, _, j = srv.get_json("/ready")
            if status == 503:
                break
            time.sleep(0.1)
        self.assertEqual(status, 503, j)
        self.assertFalse(j["plugins"]["auth"]["ok"], j)
        self.assertIn("no usable keys", j["plugins"]["auth"]["detail"])

    def test_auth_bad_answers_are_503(self):
        fake = Fake()
        self.addCleanup(fake.close)
        for body, status in (("{not json", 200), (pem_map("k1"), 500),
                             (json.dumps({"k1": "-----BEGIN CERTIFICATE-----\nAAAA\n"}), 200)):
            fake.routes["/certs"] = {"status": status, "body": body}
            srv = self.start(auth_config({"project_id": PROJECT,
                                          "certs_url": fake.url + "/certs"}))
            time.sleep(0.3)
            st, _, b = srv.get("/api/auth/me", headers=bearer(token()))
            self.assertJsonError(st, b, 503, "AUTH_UNAVAILABLE")
            srv.stop_checked()

    def test_auth_failed_refresh_then_recovery(self):
        fake = Fake()
        self.addCleanup(fake.close)
        fake.routes["/certs"] = {"status": 500, "body": "{}"}
        srv = self.start(auth_config({"project_id": PROJECT, "certs_url": fake.url + "/certs"}))
        time.sleep(0.3)
        self.assertEqual(srv.get("/api/auth/me", headers=bearer(token()))[0], 503)
        # The server comes back: after the hold-off a request fetches again.
        fake.certs("/certs", "k1")
        time.sleep(2.2)
        status, _, body = srv.get("/api/auth/me", headers=bearer(token()))
        self.assertEqual(status, 200, body)

    def test_auth_concurrent_requests_during_slow_first_fetch_cause_one_fetch(self):
        fake = Fake()
        self.addCleanup(fake.close)
        fake.certs("/certs", "k1", delay=1.5)
        srv = self.start(auth_config({"project_id": PROJECT, "certs_url": fake.url + "/certs"}))
        tok = token()
        results = []

        def one():
            try:
                results.append(srv.get("/api/auth/me", headers=bearer(tok), timeout=10)[0])
            except Exception as e:  # noqa: BLE001 - reported below
                results.append(repr(e))

        threads = [threading.Thread(target=one) for _ in range(24)]
        t0 = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join(15)
        self.assertEqual(results, [200] * 24)
        self.assertLess(time.time() - t0, 5)
        self.assertEqual(fake.count("/certs"), 1)

    def test_auth_waiting_request_that_times_out_is_ended(self):
        fake = Fake()
        self.addCleanup(fake.close)
        fake.certs("/certs", "k1", delay=2.0)
        srv = self.start(auth_config({"project_id": PROJECT, "certs_url": fake.url + "/certs"}))
        status, _, body = srv.get("/short/me", headers=bearer(token()))
        self.assertJsonError(status, body, 504, "TIMEOUT")
        # A client that goes away while waiting.
        s = srv.socket()
        s.sendall(("GET /api/auth/me HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n\r\n"
                   % token()).encode())
        time.sleep(0.2)
        s.close()
        time.sleep(2.5)
        self.assertEqual(srv.get("/api/auth/me", headers=bearer(token()))[0], 200)
        self.assertEqual(fake.count("/certs"), 1)


# ---------------------------------------------------------------- configuration

class TestAuthConfig(AuthCase):

    def test_auth_without_project_id_starts_and_answers_503(self):
        srv = self.start(auth_config({}))
        status, _, body = srv.get("/api/auth/me", headers=bearer(token()))
        j = self.assertJsonError(status, body, 503, "AUTH_NOT_CONFIGURED")
        self.assertIn("FIREBASE_PROJECT_ID", j["error"])
        status, _, j = srv.get_json("/ready")
        self.assertEqual(status, 503)
        self.assertFalse(j["plugins"]["auth"]["ok"])
        self.assertIn("project id", j["plugins"]["auth"]["detail"])
        self.assertEqual(srv.get("/health")[0], 200)

    def test_auth_project_id_fallbacks(self):
        fake = Fake()
        self.addCleanup(fake.close)
        fake.certs("/certs", "k1")
        srv = self.start(auth_config({"project_id": "", "gcp_project_id": "",
                                      "google_cloud_project_id": PROJECT,
                                      "certs_url": fake.url + "/certs"}))
        self.assertEqual(srv.get("/api/auth/me", headers=bearer(token()))[0], 200)

    def assertRefused(self, cfg, *needles):
        rc, out, err, _ = run_config(auth_config(cfg), timeout=10)
        self.assertEqual(rc, 1, out + err)
        self.assertMentions(out + err, *needles)

    def test_auth_emulator_mode_needs_emulator_host(self):
        self.assertRefused({"mode": "emulator", "project_id": PROJECT}, "emulator_host")
        self.assertRefused({"mode": "emulator", "project_id": PROJECT, "emulator_host": ""},
                           "emulator_host")
        self.assertRefused({"mode": "emulator", "project_id": PROJECT,
                            "emulator_host": "http://127.0.0.1:9099"}, "emulator_host")

    def test_auth_emulator_host_alone_does_not_turn_emulator_mode_on(self):
        fake = Fake()
        self.addCleanup(fake.close)
        fake.certs("/certs", "k1")
        srv = self.start(auth_config({"project_id": PROJECT, "certs_url": fake.url + "/certs",
                                      "emulator_host": "127.0.0.1:1"}))
        h, p, _ = token().split(".")
        tok = b64url('{"alg":"none","typ":"JWT"}') + "." + p + "."
        status, _, body = srv.get("/api/auth/me", headers=bearer(tok))
        self.assertJsonError(status, body, 401, "TOKEN_INVALID")
        self.assertNotIn("EMULATOR", srv.output())

    def test_auth_bad_values_are_refused(self):
        self.assertRefused({"project_id": PROJECT, "nonsense": "1"}, "nonsense")
        self.assertRefused({"project_id": PROJECT, "mode": "magic"}, "mode")
        self.assertRefused({"project_id": PROJECT, "leeway": 301}, "leeway")
        self.assertRefused({"project_id": PROJECT, "leeway": -1}, "leeway")
        self.assertRefused({"project_id": PROJECT, "certs_url": "ftp://x"}, "certs_url")
        self.assertRefused({"project_id": PROJECT, "token_cache": -1}, "token_cache")
        self.assertRefused({"project_id": PROJECT, "session_cookie": "a b"}, "session_cookie")
        self.assertRefused({"project_id": "p/1"}, "project id")
        self.assertRefused({"project_id": PROJECT, "check_revoked": True}, "service account")
        self.assertRefused({"project_id": PROJECT, "service_account": "/nonexistent/sa.json"},
                           "/nonexistent/sa.json")
        self.assertRefused({"mode": "oidc"}, "oidc_issuer")
        d = lxtest.tempdir()
        bad = os.path.join(d, "sa.json")
        with open(bad, "w") as f:
            f.write('{"client_email": "x@y"}')
        self.assertRefused({"project_id": PROJECT, "service_account": bad}, "private_key")

    def test_auth_shipped_config_checks(self):
        conf = os.path.join(lxtest.SRCDIR, "etc", "lexiaid.conf")
        with open(conf) as f:
            text = f.read()
        for var in ("FIREBASE_PROJECT_ID", "GCP_PROJECT_ID", "GOOGLE_CLOUD_PROJECT_ID",
                    "ADMIN_EMAILS", "LEXIAID_AUTH_LEEWAY", "LEXIAID_AUTH_CERTS_URL",
                    "LEXIAID_AUTH_MODE", "FIREBASE_AUTH_EMULATOR_HOST",
                    "LEXIAID_AUTH_CHECK_REVOKED", "FIREBASE_SERVICE_ACCOUNT_KEY_PATH",
                    "GOOGLE_APPLICATION_CREDENTIALS", "auth.require_user", "auth.signup",
                    "auth.verify_email", "auth.delete_user", "auth.me"):
            self.assertIn(var, text)


class TestAuthOidc(AuthCase):

    def test_auth_oidc_jwks(self):
        fake = Fake()
        self.addCleanup(fake.close)
        p = subprocess.run(["openssl", "rsa", "-in", KEYS["k1"], "-noout", "-modulus"],
                           capture_output=True, text=True, check=True)
        n = bytes.fromhex(p.stdout.strip().split("=", 1)[1])
        jwk = {"kty": "RSA", "kid": "o1", "alg": "RS256", "use": "sig", "n": b64url(n),
               "e": b64url(b"\x01\x00\x01")}
        fake.routes["/jwks"] = {"body": json.dumps({"keys": [jwk]})}
        srv = self.start(auth_config({"mode": "oidc", "oidc_issuer": "https://idp.example",
                                      "oidc_audience": "my-api",
                                      "oidc_jwks_url": fake.url + "/jwks"}))
        now = int(time.time())
        c = {"iss": "https://idp.example", "aud": "my-api", "sub": "o-user", "iat": now - 10,
             "auth_time": now - 10, "exp": now + 600, "email": "o@example.com"}
        status, _, body = srv.get("/api/auth/me", headers=bearer(token(kid="o1", payload=c)))
        self.assertEqual(status, 200, body)
        self.assertEqual(parse_json(body)["uid"], "o-user")
        c["aud"] = PROJECT
        status, _, body = srv.get("/api/auth/me", headers=bearer(token(kid="o1", payload=c)))
        self.assertJsonError(status, body, 401, "TOKEN_INVALID")


# ---------------------------------------------------------------- revocation and accounts

def write_sa(key="k1"):
    d = lxtest.tempdir()
    with open(KEYS[key]) as f:
        pem = f.read()
    path = os.path.join(d, "sa.json")
    with open(path, "w") as f:
        json.dump({"type": "service_account", "project_id": PROJECT, "private_key_id": "sa-kid",
                   "private_key": pem, "client_email": "svc@p1.iam.gserviceaccount.com"}, f)
    return path


class FakeGoogle(Fake):
    """Fake OAuth token endpoint and Identity Toolkit admin API."""

    def __init__(self):
        super().__init__()
        self.users = {}
        self.access = "ya29.fake-access-token"
        self.routes["/token"] = self.on_token
        base = "/v1/projects/%s/" % PROJECT
        self.routes[base + "accounts:lookup"] = self.on_lookup
        self.routes[base + "accounts"] = self.on_signup
        self.routes[base + "accounts:sendOobCode"] = self.on_oob
        self.routes[base + "accounts:delete"] = self.on_delete
        self.routes[base + "accounts:batchGet"] = self.on_batch_get
        self.routes[base + "accounts:update"] = self.on_update
        self.certs("/certs", "k1")

    def authorized(self, headers):
        return headers.get("Authorization") == "Bearer " + self.access

    def on_token(self, method, path, headers, body):
        form = urllib.parse.parse_qs(body.decode())
        ok = (form.get("grant_type") == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
              and form.get("assertion"))
        if not ok:
            return 400, {}, '{"error":"invalid_grant"}'
        return 200, {}, json.dumps({"access_token": self.access, "expires_in": 3599,
                                    "token_type": "Bearer"})

    def on_lookup(self, method, path, headers, body):
        if not self.authorized(headers):
            return 401, {}, '{"error":{"message":"UNAUTHENTICATED"}}'
        uid = json.loads(body)["localId"][0]
        u = self.users.get(uid)
        return 200, {}, json.dumps({"kind": "x", "users": [u]} if u else {"kind": "x"})

    def on_signup(self, method, path, headers, body):
        if not self.authorized(headers):
            return 401, {}, "{}"
        j = json.loads(body)
        if j["email"] == "exists@example.com":
            return 400, {}, '{"error":{"code":400,"message":"EMAIL_EXISTS"}}'
        if j["email"] == "boom@example.com":
            return 500, {}, "{}"
        return 200, {}, json.dumps({"localId": "new-uid", "email": j["email"]})

    def on_oob(self, method, path, headers, body):
        if not self.authorized(headers):
            return 401, {}, "{}"
        j = json.loads(body)
        if j.get("requestType") != "VERIFY_EMAIL" or not j.get("returnOobLink"):
            return 400, {}, '{"error":{"message":"INVALID_REQ_TYPE"}}'
        return 200, {}, json.dumps({"email": j["email"], "oobLink": "https://x/verify?oob=1"})

    def on_delete(self, method, path, headers, body):
        if not self.authorized(headers):
            return 401, {}, "{}"
        uid = json.loads(body)["localId"]
        if uid == "gone":
            return 400, {}, '{"error":{"message":"USER_NOT_FOUND"}}'
        return 200, {}, '{"kind":"identitytoolkit#DeleteAccountResponse"}'

    def on_batch_get(self, method, path, headers, body):
        """The account listing (accounts.v1's list): one page of every
        user the fake knows (its query, page size and token, is not seen)."""
        if not self.authorized(headers) or method != "GET":
            return 401, {}, "{}"
        users = [dict(u, localId=uid) for uid, u in sorted(self.users.items())]
        return 200, {}, json.dumps({"kind": "identitytoolkit#DownloadAccountResponse",
                                    "users": users})

    def on_update(self, method, path, headers, body):
        if not self.authorized(headers):
            return 401, {}, "{}"
        j = json.loads(body)
        u = self.users.get(j["localId"])
        if u is None:
            return 400, {}, '{"error":{"message":"USER_NOT_FOUND"}}'
        if "displayName" in j:
            u["displayName"] = j["displayName"]
        return 200, {}, json.dumps({"localId": j["localId"]})

    def bodies(self, path):
        with self.lock:
            return [b for (_, p, _, b) in self.requests if p == path]


class TestAuthRevocation(AuthCase):

    @classmethod
    def setUpClass(cls):
        make_keys()
        cls.fake = FakeGoogle()
        now = int(time.time())
        cls.fake.users = {
            "u-ok": {"localId": "u-ok", "validSince": str(now - 1000)},
            "u-dis": {"localId": "u-dis", "disabled": True, "validSince": str(now + 1000)},
            "u-rev": {"localId": "u-rev", "validSince": str(now + 100)},
        }
        cls.srv = lxtest.Server(auth_config({
            "project_id": PROJECT, "certs_url": cls.fake.url + "/certs",
            "check_revoked": True, "service_account": "",
            "google_application_credentials": write_sa(),
            "token_url": cls.fake.url + "/token", "identity_toolkit_url": cls.fake.url + "/",
            "revocation_cache": "30s"}))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop_checked()
        cls.fake.close()

    def me(self, uid):
        return self.srv.get("/api/auth/me", headers=bearer(token(payload=claims(sub=uid))))

    def test_auth_revocation_verdicts_and_cache(self):
        lookup = "/v1/projects/%s/accounts:lookup" % PROJECT
        status, _, body = self.me("u-ok")
        self.assertEqual(status, 200, body)
        n = self.fake.count(lookup)
        status, _, body = self.me("u-ok")
        self.assertEqual(status, 200, body)
        self.assertEqual(self.fake.count(lookup), n, "the verdict is cached")
        status, _, body = self.me("u-dis")
        self.assertJsonError(status, body, 403, "USER_DISABLED")
        status, _, body = self.me("u-rev")
        self.assertJsonError(status, body, 401, "TOKEN_REVOKED")
        status, _, body = self.me("u-nobody")
        self.assertJsonError(status, body, 401, "TOKEN_INVALID")
        # The OAuth token was fetched once and reused.
        self.assertEqual(self.fake.count("/token"), 1)
        form = urllib.parse.parse_qs(self.fake.bodies("/token")[0].decode())
        h, p, s = form["assertion"][0].split(".")
        pad = lambda x: x + "=" * (-len(x) % 4)  # noqa: E731
        hdr = json.loads(base64.urlsafe_b64decode(pad(h)))
        pay = json.loads(base64.urlsafe_b64decode(pad(p)))
        self.assertEqual(hdr, {"alg": "RS256", "typ": "JWT", "kid": "sa-kid"})
        self.assertEqual(pay["iss"], "svc@p1.iam.gserviceaccount.com")
        self.assertEqual(pay["aud"], self.fake.url + "/token")
        self.assertIn("identitytoolkit", pay["scope"])
        self.assertEqual(pay["exp"] - pay["iat"], 3600)
        # The assertion verifies with the service account's certificate.
        d = lxtest.tempdir()
        for name, data in (("sig", base64.urlsafe_b64decode(pad(s))),
                           ("in", (h + "." + p).encode())):
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        pub = subprocess.run(["openssl", "x509", "-pubkey", "-noout"], input=CERTS["k1"],
                             capture_output=True, text=True, check=True).stdout
        with open(os.path.join(d, "pub"), "w") as f:
            f.write(pub)
        v = subprocess.run(["openssl", "dgst", "-sha256", "-verify", os.path.join(d, "pub"),
                            "-signature", os.path.join(d, "sig"), os.path.join(d, "in")],
                           capture_output=True, text=True)
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        self.assertNotIn("PRIVATE KEY", self.srv.output())

    def test_auth_accounts_signup(self):
        def post(body, raw=False):
            data = body if raw else json.dumps(body)
            return self.srv.request("POST", "/api/users", body=data,
                                    headers={"Content-Type": "application/json"})
        status, _, body = post({"email": "new@example.com", "password": "secret1",
                                "display_name": "New"})
        self.assertEqual(status, 201, body)
        self.assertEqual(parse_json(body), {"status": "success",
                                            "message": "User created successfully",
                                            "userId": "new-uid"})
        sent = json.loads(self.fake.bodies("/v1/projects/%s/accounts" % PROJECT)[-1])
        self.assertEqual(sent, {"email": "new@example.com", "password": "secret1",
                                "displayName": "New"})
        status, _, body = post({"email": "exists@example.com", "password": "secret1"})
        self.assertEqual(status, 409, body)
        j = parse_json(body)
        self.assertEqual((j["status"], j["code"]), ("error", "EMAIL_EXISTS"))
        status, _, body = post({"email": "boom@example.com", "password": "secret1"})
        self.assertIn(status, (500, 503), body)
        self.assertEqual(parse_json(body)["status"], "error")
        bad = [
            ({"password": "secret1"}, "email"),
            ({"email": 5, "password": "secret1"}, "email"),
            ({"email": "no-at-sign", "password": "secret1"}, "email"),
            ({"email": "a@b", "password": "secret1"}, "email"),
            ({"email": "a b@c.d", "password": "secret1"}, "email"),
            ({"email": "a@@c.d", "password": "secret1"}, "email"),
            ({"email": "x" * 300 + "@c.d", "password": "secret1"}, "email"),
            ({"email": "a@c.d"}, "password"),
            ({"email": "a@c.d", "password": "12345"}, "password"),
            ({"email": "a@c.d", "password": 123456}, "password"),
            ({"email": "a@c.d", "password": "secret1", "display_name": 7}, "display_name"),
            ({"email": "a@c.d", "password": "secret1", "display_name": "x" * 300},
             "display_name"),
            ({"email": "a@c.d", "password": "secret1", "display_name": "a\nb"}, "display_name"),
        ]
        for b, field in bad:
            status, _, body = post(b)
            self.assertEqual(status, 400, (b, body))
            j = parse_json(body)
            self.assertEqual((j["status"], j["code"]), ("error", "VALIDATION_ERROR"))
            self.assertIn(field, j["message"])
        for raw in ("", "not json", "[]", '"x"', '{"email":"a@c.d"} trailing',
                    "[" * 5000, '{"email":"a@c.d","password":"secret1"'):
            status, _, body = post(raw, raw=True)
            self.assertEqual(status, 400, (raw[:20], body))
            self.assertEqual(parse_json(body)["code"], "VALIDATION_ERROR")
        self.assertNotIn("secret1", self.srv.output())

    def test_auth_accounts_verify_email_and_delete(self):
        tok = token(payload=claims(sub="u-ok"))
        status, _, body = self.srv.request("POST", "/api/users/verify-email",
                                           headers=bearer(tok))
        self.assertEqual(status, 200, body)
        self.assertEqual(parse_json(body), {"status": "success",
                                            "link": "https://x/verify?oob=1"})
        status, _, body = self.srv.request("POST", "/api/users/verify-email",
                                           headers=bearer(token(payload=claims(sub="u-ok",
                                                                               email=None))))
        self.assertEqual(status, 400, body)
        status, _, body = self.srv.request("POST", "/api/users/verify-email")
        self.assertJsonError(status, body, 401, "UNAUTHENTICATED")
        status, _, body = self.srv.request("DELETE", "/api/users", headers=bearer(tok))
        self.assertEqual(status, 200, body)
        self.assertEqual(parse_json(body), {"status": "success", "message": "User deleted"})
        sent = json.loads(self.fake.bodies("/v1/projects/%s/accounts:delete" % PROJECT)[-1])
        self.assertEqual(sent, {"localId": "u-ok"})


class TestAuthAccountsUnconfigured(AuthCase):

    def test_auth_accounts_without_service_account_are_503(self):
        fake = Fake()
        self.addCleanup(fake.close)
        fake.certs("/certs", "k1")
        srv = self.start(auth_config({"project_id": PROJECT, "certs_url": fake.url + "/certs"}))
        status, _, body = srv.request("POST", "/api/users",
                                      body=json.dumps({"email": "a@c.d", "password": "secret1"}))
        self.assertEqual(status, 503, body)
        self.assertEqual(parse_json(body)["code"], "AUTH_NOT_CONFIGURED")
        status, _, body = srv.request("DELETE", "/api/users", headers=bearer(token()))
        self.assertEqual(status, 503, body)

    def test_auth_token_endpoint_down_is_503(self):
        fake = FakeGoogle()
        self.addCleanup(fake.close)
        fake.routes["/token"] = {"status": 500, "body": "{}"}
        srv = self.start(auth_config({"project_id": PROJECT, "certs_url": fake.url + "/certs",
                                      "check_revoked": True, "service_account": write_sa(),
                                      "token_url": fake.url + "/token",
                                      "identity_toolkit_url": fake.url}))
        status, _, body = srv.get("/api/auth/me", headers=bearer(token()))
        self.assertJsonError(status, body, 503, "AUTH_UNAVAILABLE")
        status, _, body = srv.request("POST", "/api/users",
                                      body=json.dumps({"email": "a@c.d", "password": "secret1"}))
        self.assertEqual(status, 503, body)


if __name__ == "__main__":
    lxtest.main()
