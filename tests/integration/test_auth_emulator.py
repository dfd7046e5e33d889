#!/usr/bin/env python3
"""The auth plugin end to end against the real Firebase Auth Emulator
(firebase-tools pinned in tests/auth-emulator/package-lock.json; see
shared docs firebase-emulator.md): sign-up through lexiaid, sign-in with the
emulator's REST API, protected routes, custom claims, disabled and revoked
users, the verification link and account deletion.

Needs node (>= 20) and npm: without them the tests FAIL (CI installs them).
The first run installs firebase-tools with `npm ci --ignore-scripts` into
LX_AUTH_EMULATOR_CACHE (default: BUILDDIR/tests/auth-emulator), ~25 s and
~240 MB; later runs reuse it while package-lock.json is unchanged.
"""

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import lxtest
from lxtest import config, parse_json, route

PROJECT = "demo-lexiaid"
API_KEY = "fake-api-key"
# The emulator starts in seconds on an idle machine, but Node's start-up on
# a loaded 2-core CI machine has taken over a minute: wait up to 5 minutes
# (a safety net, not a measure) for it to answer, and say what it was
# waiting for when it gives up.
READY_TIMEOUT = float(os.environ.get("LX_AUTH_EMULATOR_READY_TIMEOUT", "300"))
PKG_DIR = os.path.join(lxtest.SRCDIR, "tests", "auth-emulator")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def auth_so():
    return os.path.join(lxtest.BUILDDIR, "plugins", "auth", ".libs", "auth.so")


def emulator_env():
    env = dict(os.environ)
    # No MOTD fetch, no update check: the emulator talks to loopback only.
    env.update({"CI": "true", "NO_UPDATE_NOTIFIER": "1"})
    return env


def install_firebase_tools():
    """npm ci into the cache directory unless it holds this very lock;
    returns the path of the firebase binary. Raises AssertionError."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise AssertionError("%s is not installed: the Auth Emulator tests need node >= 20 "
                                 "and npm (NodeSource's nodejs 20.x, or Debian 13's nodejs "
                                 "and npm)" % tool)
    v = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    try:
        major = int(v.lstrip("v").split(".")[0])
    except ValueError:
        major = 0
    if major < 20:
        raise AssertionError("node %s is too old: firebase-tools 15 needs node >= 20 (Debian 12's "
                             "nodejs is 18; use NodeSource's nodejs 20.x)" % (v or "?"))
    cache = os.environ.get("LX_AUTH_EMULATOR_CACHE") or os.path.join(
        lxtest.BUILDDIR, "tests", "auth-emulator")
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(PKG_DIR, "package-lock.json"), "rb") as f:
        want = hashlib.sha256(f.read()).hexdigest()
    stamp = os.path.join(cache, ".installed-lock")
    firebase = os.path.join(cache, "node_modules", ".bin", "firebase")
    have = None
    if os.path.exists(stamp):
        with open(stamp) as f:
            have = f.read().strip()
    if have == want and os.path.exists(firebase):
        return firebase
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(os.path.join(PKG_DIR, name), os.path.join(cache, name))
    p = subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                       cwd=cache, env=emulator_env(), capture_output=True, text=True,
                       timeout=600)
    if p.returncode != 0 or not os.path.exists(firebase):
        raise AssertionError("npm ci failed (%d):\n%s\n%s" % (p.returncode, p.stdout[-3000:],
                                                             p.stderr[-3000:]))
    with open(stamp, "w") as f:
        f.write(want)
    return firebase


class Emulator:
    """The Auth Emulator on free loopback ports, in its own process group."""

    def __init__(self, firebase=None, ready_timeout=None):
        firebase = firebase or install_firebase_tools()
        ready_timeout = READY_TIMEOUT if ready_timeout is None else ready_timeout
        self.dir = lxtest.tempdir()
        self.port = free_port()
        self.host = "127.0.0.1:%d" % self.port
        cfg = {"emulators": {"auth": {"host": "127.0.0.1", "port": self.port},
                             "hub": {"host": "127.0.0.1", "port": free_port()},
                             "logging": {"host": "127.0.0.1", "port": free_port()},
                             "ui": {"enabled": False}, "singleProjectMode": True}}
        with open(os.path.join(self.dir, "firebase.json"), "w") as f:
            json.dump(cfg, f)
        self.log_path = os.path.join(self.dir, "emulator.log")
        self.log = open(self.log_path, "wb")
        env = emulator_env()
        env["XDG_CONFIG_HOME"] = os.path.join(self.dir, "config")
        self.proc = subprocess.Popen([firebase, "emulators:start", "--only", "auth",
                                      "--project", PROJECT],
                                     cwd=self.dir, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        t0 = time.time()
        deadline = t0 + ready_timeout
        url = "http://%s/" % self.host
        last = "nothing yet"
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                raise AssertionError("the emulator exited with %s after %.0f s:\n%s"
                                     % (self.proc.returncode, time.time() - t0,
                                        self.output()[-4000:]))
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    body = r.read()
                    if r.status == 200 and b"ready" in body:
                        return
                    last = "HTTP %d %r" % (r.status, body[:200])
            except urllib.error.HTTPError as e:
                last = "HTTP %d" % e.code
            except (OSError, urllib.error.URLError) as e:
                last = "no answer (%s)" % getattr(e, "reason", e)
            time.sleep(0.5)
        self.stop()
        raise AssertionError("the Auth Emulator was not ready after %.0f s: waited for GET %s to "
                             "answer 200 with \"ready\" (the emulator's own readiness page); "
                             "the process was still running; the last try got: %s. Its output:\n%s"
                             % (ready_timeout, url, last, self.output()[-4000:]))

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # anything it left behind
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait(5)
        self.log.close()

    # -- the emulator's REST API, as a client (curl) would use it

    def call(self, path, body, owner=False, form=False):
        url = "http://%s%s" % (self.host, path)
        if form:
            data = urllib.parse.urlencode(body).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
        else:
            data = json.dumps(body).encode()
            headers = {"Content-Type": "application/json"}
        if owner:
            headers["Authorization"] = "Bearer owner"
        req = urllib.request.Request(url, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def sign_in(self, email, password):
        status, j = self.call("/identitytoolkit.googleapis.com/v1/accounts:signInWithPassword"
                              "?key=" + API_KEY,
                              {"email": email, "password": password, "returnSecureToken": True})
        assert status == 200, j
        return j["idToken"], j["refreshToken"]

    def refresh(self, refresh_token):
        status, j = self.call("/securetoken.googleapis.com/v1/token?key=" + API_KEY,
                              {"grant_type": "refresh_token", "refresh_token": refresh_token},
                              form=True)
        assert status == 200, j
        return j["id_token"]

    def admin(self, op, body):
        return self.call("/identitytoolkit.googleapis.com/v1/projects/%s/%s" % (PROJECT, op),
                         body, owner=True)


class TestEmulatorHarness(lxtest.TestCase):
    """The harness itself: an emulator that never gets ready is given up
    on with a message that says what the test waited for."""

    def test_emulator_not_ready_says_what_it_waited_for(self):
        fake = os.path.join(lxtest.tempdir(), "firebase")
        with open(fake, "w") as f:
            f.write("#!/bin/sh\necho 'starting, slowly'\nexec sleep 60\n")
        os.chmod(fake, 0o755)
        with self.assertRaises(AssertionError) as cm:
            Emulator(firebase=fake, ready_timeout=1.5)
        msg = str(cm.exception)
        self.assertRegex(msg, r"not ready after 2 s: waited for GET http://127\.0\.0\.1:\d+/ "
                              r"to answer 200 with \"ready\"")
        self.assertIn("the process was still running; the last try got: no answer", msg)
        self.assertIn("starting, slowly", msg)


class TestAuthEmulator(lxtest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(auth_so()):
            raise AssertionError("missing %s (build first)" % auth_so())
        cls.emu = Emulator()
        routes = [
            route("GET", "/api/auth/me", "auth.me", before=["auth.require_user"]),
            route("GET", "/admin/me", "auth.me", before=["auth.require_admin"]),
            route("POST", "/api/users", "auth.signup"),
            route("POST", "/api/users/verify-email", "auth.verify_email",
                  before=["auth.require_user"]),
            route("DELETE", "/api/users", "auth.delete_user", before=["auth.require_user"]),
            route("GET", "/ready", "health.ready"),
        ]
        try:
            cls.srv = lxtest.Server(config(
                routes=routes, plugins=["health", {
                    "name": "auth", "file": auth_so(),
                    "config": {"mode": "emulator", "emulator_host": cls.emu.host,
                               "project_id": PROJECT}}]))
        except Exception:
            cls.emu.stop()
            raise
        cls.n = 0

    @classmethod
    def tearDownClass(cls):
        try:
            cls.srv.stop_checked()
        finally:
            cls.emu.stop()

    def signup(self, password="secret-123"):
        """A new user through lexiaid's POST /api/users: (uid, email, password)."""
        type(self).n += 1
        email = "user%d-%d@example.com" % (type(self).n, os.getpid())
        status, _, body = self.srv.request("POST", "/api/users", body=json.dumps(
            {"email": email, "password": password, "display_name": "User %d" % self.n}),
            headers={"Content-Type": "application/json"})
        self.assertEqual(status, 201, body)
        j = parse_json(body)
        self.assertEqual(j["status"], "success")
        self.assertEqual(j["message"], "User created successfully")
        self.assertTrue(j["userId"])
        return j["userId"], email, password

    def me(self, tok, path="/api/auth/me"):
        return self.srv.get(path, headers={"Authorization": "Bearer " + tok})

    def test_emulator_warning_is_logged_at_start(self):
        self.assertIn("EMULATOR MODE", self.srv.output())
        status, _, j = self.srv.get_json("/ready")
        self.assertEqual(status, 200, j)
        self.assertIn("EMULATOR", j["plugins"]["auth"]["detail"])

    def test_emulator_signup_creates_the_account_and_refuses_a_duplicate(self):
        uid, email, password = self.signup()
        status, j = self.emu.admin("accounts:lookup", {"localId": [uid]})
        self.assertEqual(status, 200, j)
        self.assertEqual(j["users"][0]["email"], email)
        self.assertEqual(j["users"][0].get("displayName"), "User %d" % self.n)
        status, _, body = self.srv.request("POST", "/api/users", body=json.dumps(
            {"email": email, "password": password}))
        self.assertEqual(status, 409, body)
        self.assertEqual(parse_json(body)["code"], "EMAIL_EXISTS")
        status, _, body = self.srv.request("POST", "/api/users", body=json.dumps(
            {"email": "x@example.com", "password": "12345"}))
        self.assertEqual(status, 400, body)
        self.assertIn("password", parse_json(body)["message"])

    def test_emulator_signed_in_user_reaches_a_protected_route(self):
        uid, email, password = self.signup()
        tok, _ = self.emu.sign_in(email, password)
        status, _, body = self.me(tok)
        self.assertEqual(status, 200, body)
        j = parse_json(body)
        self.assertEqual(j["uid"], uid)
        self.assertEqual(j["email"], email)
        self.assertEqual(j["sign_in_provider"], "password")
        self.assertIs(j["is_admin"], False)
        self.assertNotIn(tok, self.srv.output())

    def test_emulator_custom_claim_admin_after_refresh(self):
        uid, email, password = self.signup()
        tok, refresh = self.emu.sign_in(email, password)
        self.assertEqual(self.me(tok, "/admin/me")[0], 403)
        status, j = self.emu.admin("accounts:update",
                                   {"localId": uid, "customAttributes": '{"admin":true}'})
        self.assertEqual(status, 200, j)
        tok = self.emu.refresh(refresh)
        status, _, body = self.me(tok, "/admin/me")
        self.assertEqual(status, 200, body)
        j = parse_json(body)
        self.assertIs(j["is_admin"], True)
        self.assertEqual(j["claims"], {"admin": True})

    def test_emulator_disabled_user_is_403(self):
        uid, email, password = self.signup()
        tok, _ = self.emu.sign_in(email, password)
        self.assertEqual(self.me(tok)[0], 200)
        status, j = self.emu.admin("accounts:update", {"localId": uid, "disableUser": True})
        self.assertEqual(status, 200, j)
        status, _, body = self.me(tok)
        self.assertJsonError(status, body, 403, "USER_DISABLED")

    def test_emulator_revoked_token_is_401(self):
        uid, email, password = self.signup()
        tok, _ = self.emu.sign_in(email, password)
        self.assertEqual(self.me(tok)[0], 200)
        time.sleep(1.2)  # revocation has whole-second granularity
        status, j = self.emu.admin("accounts:update",
                                   {"localId": uid, "validSince": str(int(time.time()) + 1)})
        self.assertEqual(status, 200, j)
        status, _, body = self.me(tok)
        self.assertJsonError(status, body, 401, "TOKEN_REVOKED")

    def test_emulator_verify_email_returns_a_link(self):
        uid, email, password = self.signup()
        tok, _ = self.emu.sign_in(email, password)
        status, _, body = self.srv.request("POST", "/api/users/verify-email",
                                           headers={"Authorization": "Bearer " + tok})
        self.assertEqual(status, 200, body)
        j = parse_json(body)
        self.assertEqual(j["status"], "success")
        self.assertIn("oobCode", j["link"])

    def test_emulator_delete_user_deletes_the_account(self):
        uid, email, password = self.signup()
        tok, _ = self.emu.sign_in(email, password)
        status, _, body = self.srv.request("DELETE", "/api/users",
                                           headers={"Authorization": "Bearer " + tok})
        self.assertEqual(status, 200, body)
        self.assertEqual(parse_json(body), {"status": "success", "message": "User deleted"})
        status, j = self.emu.admin("accounts:lookup", {"localId": [uid]})
        self.assertEqual(status, 200, j)
        self.assertFalse(j.get("users"), j)
        status, _, body = self.me(tok)
        j = self.assertJsonError(status, body, 401, "TOKEN_INVALID")
        self.assertEqual(j["error"], "user not found")

    def test_emulator_bad_tokens_are_refused(self):
        uid, email, password = self.signup()
        tok, _ = self.emu.sign_in(email, password)
        h, p, s = tok.split(".")
        self.assertEqual(s, "")
        status, _, body = self.me(tok + "junk")
        self.assertJsonError(status, body, 401, "TOKEN_INVALID")
        status, _, body = self.me("not-a-jwt")
        self.assertJsonError(status, body, 401, "TOKEN_INVALID")
        status, _, body = self.srv.get("/api/auth/me")
        self.assertJsonError(status, body, 401, "UNAUTHENTICATED")


if __name__ == "__main__":
    lxtest.main()
