"""lxtest: the harness of lexiaid's integration tests (python3 stdlib only).

It starts the real binary on a temporary config, speaks HTTP to it, reads
its JSON log lines, and always cleans up (the server runs in its own process
group, killed at the end of each test and at exit).

Environment (set by `make check`, see tests/local.mk):
  LX_BINARY    the lexiaid binary
  LX_BUILDDIR  the top build directory (test plugins live under it)
  LX_SRCDIR    the top source directory
  LEXIAID_HTTP_CLIENT_MODULE  the built HTTP client module (inherited by the
               server, so host->http_fetch works before `make install`)
"""

import atexit
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

_HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("LX_SRCDIR") or os.path.normpath(os.path.join(_HERE, "..", ".."))
BUILDDIR = os.environ.get("LX_BUILDDIR") or os.path.join(SRCDIR, "_build")
BINARY = os.environ.get("LX_BINARY") or os.path.join(BUILDDIR, "lexiaid")

# Without `make install` the server finds the HTTP client module only here.
_HTTPC = os.path.join(BUILDDIR, "core", ".libs", "lx_http_client.so")
if "LEXIAID_HTTP_CLIENT_MODULE" not in os.environ and os.path.exists(_HTTPC):
    os.environ["LEXIAID_HTTP_CLIENT_MODULE"] = _HTTPC

# For builds with --enable-sanitizers: testplug.crash raises SIGSEGV on
# purpose, which must kill the worker as it would without ASan.
# (make check sets the same; these are for running a test file by hand.)
os.environ.setdefault("ASAN_OPTIONS", "handle_segv=0:handle_abort=0:detect_leaks=1")
os.environ.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
if os.path.exists(os.path.join(SRCDIR, "tests", "lsan.supp")):
    os.environ.setdefault("LSAN_OPTIONS", "suppressions=%s:print_suppressions=0"
                          % os.path.join(SRCDIR, "tests", "lsan.supp"))

SANITIZER_RE = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error: "
                          r"|WARNING: ThreadSanitizer")

START_TIMEOUT = 10.0
REQUEST_TIMEOUT = 10.0

# CI (.ci/run sets CI=true) installs every dependency the tests use
# (scripts/deps.sh --test): there, a test that lacks one fails instead of
# skipping, so that a run cannot go green by testing less.
IN_CI = os.environ.get("CI") == "true"

# What this build has, from configure (tests/local.mk exports them; a test
# run by hand from a full build has everything).
HAVE_POSTGRES = os.environ.get("LX_HAVE_POSTGRES", "yes") == "yes"
HAVE_OCR = os.environ.get("LX_HAVE_OCR", "yes") == "yes"


def needs(is_there, what):
    """Decorator for a test method or class that needs `what` (a program, a
    library, a server) on this machine: when it is missing the test is
    skipped, and under CI=true it fails, naming what is missing."""
    if is_there:
        return lambda obj: obj
    if not IN_CI:
        return unittest.skip("needs %s" % what)

    def fail_instead(obj):
        if isinstance(obj, type):
            for name in dir(obj):
                if name.startswith("test") and callable(getattr(obj, name)):
                    setattr(obj, name, fail_instead(getattr(obj, name)))
            return obj

        def failing(self, *args, **kwargs):
            self.fail("needs %s, which is missing (CI=true: a missing dependency is a "
                      "failure, not a skip; scripts/deps.sh --test installs it)" % what)
        failing.__name__ = obj.__name__
        failing.__doc__ = obj.__doc__
        return failing
    return fail_instead


def require(test, is_there, what):
    """needs() from inside a running test: skips it (or fails it under
    CI=true) when `what` is missing."""
    if is_there:
        return
    if IN_CI:
        test.fail("needs %s, which is missing (CI=true: a missing dependency is a failure, "
                  "not a skip; scripts/deps.sh --test installs it)" % what)
    test.skipTest("needs %s" % what)

# How the config names things the tests rely on (one place to change).
ROUTE_PATH_KEY = "path"        # routes = ( { method; path; handler; ... } )
PLUGIN_ENABLED_KEY = "enabled"  # plugins = ( { name; file; enabled = false; } )

# The health plugin's handlers, as routed by etc/lexiaid.conf.
HEALTH_ROUTES = [
    ("GET", "/health", "health.live"),
    ("GET", "/api/health", "health.api"),
    ("GET", "/ready", "health.ready"),
    ("GET", "/metrics", "health.metrics"),
]

# testplug's routes, for tests that just need "the usual server".
TESTPLUG_ROUTES = [
    ("GET", "/echo", "testplug.echo"),
    ("POST", "/echo", "testplug.echo"),
    ("GET", "/echo/{id}", "testplug.echo"),
    ("GET", "/crash", "testplug.crash"),
    ("GET", "/never", "testplug.never"),
    ("GET", "/slow", "testplug.slow"),
    ("GET", "/fail", "testplug.fail"),
    ("GET", "/stream", "testplug.stream"),
    ("GET", "/big", "testplug.big"),
    ("GET", "/offload", "testplug.offload"),
    ("GET", "/fetch", "testplug.fetch"),
    ("GET", "/aborts", "testplug.aborts"),
    ("GET", "/watch", "testplug.watch"),
]


def plugin_path(name):
    """The built .so of a test plugin, or of the health plugin."""
    if name == "health":
        return os.path.join(BUILDDIR, "plugins", "health", ".libs", "health.so")
    return os.path.join(BUILDDIR, "tests", "plugins", ".libs", name + ".so")


_tmpdirs = []


def tempdir():
    d = tempfile.mkdtemp(prefix="lxtest-")
    _tmpdirs.append(d)
    return d


def write_config(text, directory=None, name="lexiaid.conf"):
    """Writes text to NAME in a (new) temporary directory; returns the path."""
    d = directory or tempdir()
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    return path


# ---------------------------------------------------------------- config text

def cfg_value(v):
    """A Python value as libconfig text (str values are quoted)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, Raw):
        return v.text
    if isinstance(v, (list, tuple)):
        return "[ " + ", ".join(cfg_value(x) for x in v) + " ]"
    if isinstance(v, dict):
        return "{ " + " ".join("%s = %s;" % (k, cfg_value(x)) for k, x in v.items()) + " }"
    s = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return '"%s"' % s


class Raw:
    """Text put in the config verbatim (e.g. a syntax error)."""

    def __init__(self, text):
        self.text = text


def route(method, path, handler, **extra):
    r = {"method": method, ROUTE_PATH_KEY: path, "handler": handler}
    r.update(extra)
    return r


def config(routes=None, plugins=("testplug", "health"), server=None, workers=1, extra=""):
    """A config: the default test server block, the plugins (names, or
    dicts with name/file/config/enabled; file defaults to plugin_path(name))
    and the routes (tuples (method, path, handler) or dicts from route()).
    When routes is None: testplug's and health's usual routes."""
    # A data directory of its own: the server locks it (and would make
    # ./data in the current directory otherwise).
    srv = {"listen": "127.0.0.1:0", "workers": workers, "log_format": "json",
           "request_timeout": "2s", "data_dir": tempdir()}
    srv.update(server or {})
    plist = []
    for p in plugins:
        if isinstance(p, str):
            p = {"name": p}
        p = dict(p)
        p.setdefault("file", plugin_path(p["name"]))
        plist.append(p)
    if routes is None:
        names = [p["name"] for p in plist]
        routes = []
        if "testplug" in names:
            routes += TESTPLUG_ROUTES
        if "health" in names:
            routes += HEALTH_ROUTES
    rlist = [route(*r) if isinstance(r, tuple) else r for r in routes]
    lines = ["server = %s;" % cfg_value(srv)]
    lines.append("plugins = (\n  " + ",\n  ".join(cfg_value(p) for p in plist) + "\n);")
    lines.append("routes = (\n  " + ",\n  ".join(cfg_value(r) for r in rlist) + "\n);")
    if extra:
        lines.append(extra)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- processes

def run(args, env=None, timeout=20, cwd=None):
    """Runs the binary with args; returns (exit code, stdout, stderr) text."""
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([BINARY] + list(args), capture_output=True, text=True, env=e,
                       timeout=timeout, cwd=cwd, errors="replace")
    return p.returncode, p.stdout, p.stderr


def run_config(text, env=None, timeout=20, args=("-c",)):
    """Starts the binary on config text expecting it to refuse or exit;
    returns (exit code, stdout, stderr, config path). A server that does
    start is killed after `timeout` and reported as -9."""
    path = write_config(text)
    try:
        rc, out, err = run(list(args) + [path], env=env, timeout=timeout)
    except subprocess.TimeoutExpired as ex:
        return -9, _text(ex.stdout), _text(ex.stderr), path
    return rc, out, err, path


def _text(b):
    if b is None:
        return ""
    return b.decode("utf-8", "replace") if isinstance(b, bytes) else b


def proc_ppid(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return None
    rest = stat[stat.rindex(")") + 2:].split()
    return int(rest[1])  # rest[0] is the state


def proc_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()[0]


def proc_pgrp(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2:].split()[2])


def group_of(pgid):
    """Live processes of a process group (the server runs in its own)."""
    return sorted(int(d) for d in os.listdir("/proc")
                  if d.isdigit() and proc_pgrp(int(d)) == pgid and proc_state(int(d)) != "Z")


def children_of(pid):
    kids = []
    for d in os.listdir("/proc"):
        if d.isdigit() and proc_ppid(int(d)) == pid and proc_state(int(d)) != "Z":
            kids.append(int(d))
    return sorted(kids)


class StartError(Exception):
    pass


_servers = []


class Server:
    """A running lexiaid on a config. Use as a context manager, or call
    stop()/cleanup(); anything left is killed at exit."""

    def __init__(self, config_text=None, env=None, workers=1, config_path=None, args=None,
                 wait=True, pipe_stdout=False):
        if config_text is None and config_path is None:
            config_text = config(workers=workers)
        self.dir = tempdir()
        self.config_path = config_path or write_config(config_text, self.dir)
        self.stdout_path = os.path.join(self.dir, "stdout.log")
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        e = dict(os.environ)
        e.update(env or {})
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        argv = [BINARY] + (list(args) if args is not None else ["-c", self.config_path])
        # pipe_stdout: stdout is a pipe (as under a container's log driver),
        # copied to stdout.log by a thread as it arrives.
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE if pipe_stdout else self._out,
                                     stderr=self._err, env=e, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        self._copier = None
        if pipe_stdout:
            self._copier = threading.Thread(target=self._copy_stdout, daemon=True)
            self._copier.start()
        self.pid = self.proc.pid
        self.port = None
        self.host = "127.0.0.1"
        self.returncode = None
        _servers.append(self)
        if wait:
            self.wait_listening()

    def _copy_stdout(self):
        while True:
            b = self.proc.stdout.read1(65536)
            if not b:
                break
            self._out.write(b)
            self._out.flush()

    # -- lifecycle

    def wait_listening(self, timeout=START_TIMEOUT):
        deadline = time.time() + timeout
        pat = re.compile(r"listening on (\[[^\]]+\]|[^\s:\"]+):(\d+)")
        while time.time() < deadline:
            for text in (self.stdout(), self.stderr()):
                m = pat.search(text)
                if m:
                    self.host = m.group(1).strip("[]")
                    if self.host in ("0.0.0.0", "::", ""):
                        self.host = "127.0.0.1"
                    self.port = int(m.group(2))
                    return self.port
            if self.proc.poll() is not None:
                raise StartError("lexiaid exited with %s before listening\nstdout:\n%s\nstderr:\n%s"
                                 % (self.proc.returncode, self.stdout(), self.stderr()))
            time.sleep(0.05)
        self.cleanup()
        raise StartError("no 'listening on HOST:PORT' line within %.0f s\nstdout:\n%s\nstderr:\n%s"
                         % (timeout, self.stdout(), self.stderr()))

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        """Sends sig to the master; returns its exit code (negative: killed
        by a signal; None: still running after timeout, then killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.returncode = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.returncode = None
        else:
            self.returncode = self.proc.returncode
        self.cleanup()
        return self.returncode

    def cleanup(self):
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        if self._copier is not None:
            self._copier.join(10)  # EOF once every process of the group is gone
        for f in (self._out, self._err):
            if not f.closed:
                f.close()
        if self in _servers:
            _servers.remove(self)

    def sanitizer_report(self):
        """The sanitizer report in the server's stderr, or None."""
        err = self.stderr()
        m = SANITIZER_RE.search(err)
        return err[max(0, m.start() - 200):m.start() + 3000] if m else None

    def stop_checked(self):
        """Graceful stop (so that LeakSanitizer runs), then raises
        AssertionError if a sanitizer reported anything."""
        if self.proc.poll() is None:
            self.stop(signal.SIGTERM, timeout=15)
        else:
            self.cleanup()
        rep = self.sanitizer_report()
        if rep:
            raise AssertionError("sanitizer report from lexiaid:\n" + rep)

    def is_running(self):
        return self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()

    # -- output

    def stdout(self):
        with open(self.stdout_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def output(self):
        return self.stdout() + self.stderr()

    def logs(self):
        """Every JSON log line (stdout, then stderr) as a dict."""
        out = []
        for text in (self.stdout(), self.stderr()):
            for line in text.splitlines():
                line = line.strip()
                if line.startswith("{"):
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        pass
        return out

    def access_logs(self):
        return [x for x in self.logs() if x.get("src") == "access"]

    def wait_log(self, pred, timeout=5.0):
        """The first log line for which pred(line) is true, or None."""
        deadline = time.time() + timeout
        while True:
            for line in self.logs():
                if pred(line):
                    return line
            if time.time() > deadline:
                return None
            time.sleep(0.05)

    def wait_access(self, req_id=None, path=None, timeout=5.0):
        def pred(line):
            return (line.get("src") == "access"
                    and (req_id is None or line.get("req_id") == req_id)
                    and (path is None or line.get("path") == path))
        return self.wait_log(pred, timeout)

    # -- processes

    def worker_pids(self):
        return children_of(self.pid)

    def group_pids(self):
        """Every live process of the server's process group (master included)."""
        return group_of(self.pid)

    def wait_workers(self, n, timeout=10.0, exclude=()):
        """Waits until n workers (none of them in exclude) are alive."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            pids = [p for p in self.worker_pids() if p not in exclude]
            if len(pids) >= n:
                return pids
            time.sleep(0.05)
        return [p for p in self.worker_pids() if p not in exclude]

    # -- HTTP

    @property
    def base_url(self):
        return "http://%s:%d" % (self.host, self.port)

    def connection(self, timeout=REQUEST_TIMEOUT):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, headers=None, body=None, timeout=REQUEST_TIMEOUT):
        """One request on a new connection: (status, headers, body bytes);
        header names lower case, repeated headers joined with ', '."""
        conn = self.connection(timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, lower_headers(resp), data
        finally:
            conn.close()

    def get(self, path, headers=None, timeout=REQUEST_TIMEOUT):
        return self.request("GET", path, headers=headers, timeout=timeout)

    def get_json(self, path, headers=None, timeout=REQUEST_TIMEOUT):
        status, hdrs, body = self.get(path, headers=headers, timeout=timeout)
        return status, hdrs, parse_json(body)

    def raw(self, data, timeout=5.0, shutdown_write=False):
        """Sends raw bytes and returns everything read until the server
        closes the connection or nothing arrives for `timeout` seconds."""
        s = socket.create_connection((self.host, self.port), timeout=timeout)
        try:
            s.sendall(data)
            if shutdown_write:
                s.shutdown(socket.SHUT_WR)
            chunks = []
            while True:
                try:
                    b = s.recv(65536)
                except socket.timeout:
                    break
                except ConnectionResetError:
                    break
                if not b:
                    break
                chunks.append(b)
            return b"".join(chunks)
        finally:
            s.close()

    def socket(self, timeout=5.0):
        return socket.create_connection((self.host, self.port), timeout=timeout)

    def wait_ok(self, path="/health", timeout=10.0):
        """Polls path until it answers 200; returns True if it did."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                status, _, _ = self.get(path, timeout=2)
                if status == 200:
                    return True
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.1)
        return False


def lower_headers(resp):
    h = {}
    for k, v in resp.getheaders():
        k = k.lower()
        h[k] = h[k] + ", " + v if k in h else v
    return h


def parse_json(body):
    try:
        return json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise AssertionError("not JSON: %r" % body[:500])


def status_of(raw_response):
    """The status code of a raw HTTP response, or None."""
    m = re.match(rb"HTTP/1\.[01] (\d{3})", raw_response)
    return int(m.group(1)) if m else None


def _cleanup_all():
    for s in list(_servers):
        s.cleanup()
    import shutil
    for d in _tmpdirs:
        shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup_all)


class TestCase(unittest.TestCase):
    """Base class: start() servers that are cleaned up after each test, and
    dumps their output when a test fails."""

    maxDiff = 4000

    def setUp(self):
        self._started = []
        for need in (BINARY,):
            if not os.path.exists(need):
                self.fail("missing %s (build first)" % need)

    def start(self, config_text=None, **kw):
        s = Server(config_text, **kw)
        self._started.append(s)
        self.addCleanup(s.stop_checked)
        return s

    def assertJsonError(self, status, body, want_status, code):
        self.assertEqual(status, want_status, body[:500])
        j = parse_json(body)
        self.assertIn("error", j)
        self.assertEqual(j.get("code"), code, j)
        return j

    def assertMentions(self, text, *needles):
        for n in needles:
            self.assertIn(n, text, "expected %r in:\n%s" % (n, text))


def main():
    if not os.path.exists(BINARY):
        sys.stderr.write("lxtest: %s does not exist; build lexiaid first\n" % BINARY)
        sys.exit(1)
    unittest.main(verbosity=2)
