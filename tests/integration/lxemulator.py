"""lxemulator: the real Firebase Auth Emulator for the integration tests
(firebase-tools pinned in tests/auth-emulator/package-lock.json; see shared
docs firebase-emulator.md), on free loopback ports, in its own process
group, with the REST calls a client (the frontend, curl) makes.

Needs node (>= 20) and npm: without them Emulator() raises AssertionError,
so the tests FAIL (CI installs them). The first run installs firebase-tools
with `npm ci --ignore-scripts` into LX_AUTH_EMULATOR_CACHE (default:
BUILDDIR/tests/auth-emulator), ~25 s and ~240 MB; later runs reuse it while
package-lock.json is unchanged.

    emu = Emulator()
    try:
        tok, refresh = emu.sign_in(email, password)
    finally:
        emu.stop()
"""

import fcntl
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


def cache_dir():
    """Where firebase-tools is installed for the tests (scripts/emulator.sh
    accepts the same directory as LEXIAID_EMULATOR_DIR)."""
    return os.environ.get("LX_AUTH_EMULATOR_CACHE") or os.path.join(
        lxtest.BUILDDIR, "tests", "auth-emulator")


def install_firebase_tools():
    """npm ci into the cache directory unless it holds this very lock;
    returns the path of the firebase binary. Raises AssertionError. Test
    programs that run side by side take turns (a file lock): one installs,
    the others then find it installed."""
    os.makedirs(cache_dir(), exist_ok=True)
    with open(os.path.join(cache_dir(), ".install.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return _install_firebase_tools()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _install_firebase_tools():
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
    cache = cache_dir()
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
    """The Auth Emulator on free loopback ports, in its own process group.
    extra_args: more arguments of `emulators:start` (e.g. --import DIR)."""

    def __init__(self, extra_args=(), firebase=None, ready_timeout=None):
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
        # Its hub's locator file (TMPDIR/hub-PROJECT.json) of its own: other
        # emulators of the same project run at the same time.
        env["TMPDIR"] = self.dir
        self.proc = subprocess.Popen([firebase, "emulators:start", "--only", "auth",
                                      "--project", PROJECT] + list(extra_args),
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

    def sign_up(self, email, password, display_name=None):
        """An account made directly in the emulator (as the Firebase client
        SDK would, bypassing lexiaid): its uid."""
        body = {"email": email, "password": password, "returnSecureToken": True}
        if display_name is not None:
            body["displayName"] = display_name
        status, j = self.call("/identitytoolkit.googleapis.com/v1/accounts:signUp?key=" + API_KEY,
                              body)
        assert status == 200, j
        return j["localId"]

    def lookup(self, id_token):
        """What the frontend's currentUser.reload() reads: the account of an
        ID token (accounts:lookup with the API key)."""
        status, j = self.call("/identitytoolkit.googleapis.com/v1/accounts:lookup?key=" + API_KEY,
                              {"idToken": id_token})
        assert status == 200, j
        return j["users"][0]

    def wipe(self):
        """Deletes every account (the emulator-only endpoint)."""
        req = urllib.request.Request("http://%s/emulator/v1/projects/%s/accounts"
                                     % (self.host, PROJECT), method="DELETE")
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200
