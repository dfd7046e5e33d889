#!/usr/bin/env python3
"""CORS from a real browser's point of view: headless Chromium (Debian's
chromium + chromium-driver, installed by scripts/deps.sh --test) on a page
of one origin fetch()es lexiaid on another, with headers that need a
preflight (Authorization, X-Request-Id).

  - from an allowed origin, a path lexiaid has no route for gets the real
    404 JSON (the preflight was answered 204), not a CORS failure;
  - a route answers as usual, its X-Request-Id readable by the page;
  - from an origin that is not allowed the browser refuses to read the
    answer, and lexiaid logs the refused origin once, at warn.

Driven through chromedriver's W3C WebDriver protocol (urllib, no client
library). Bounded: every wait has a deadline; the browser, the driver and
the page server are stopped by pid. Without chromium or chromedriver the
test is skipped, and fails under CI=true.
"""

import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest
import urllib.error
import urllib.request

import lxtest
from lxtest import TESTPLUG_ROUTES, config

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
DRIVER_TIMEOUT = 30.0   # the driver listening
SESSION_TIMEOUT = 60.0  # the browser started
SCRIPT_TIMEOUT_MS = 15000


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class PageServer:
    """A loopback server of one blank page: the origin the page runs on."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = b"<!doctype html><title>page</title><p>page</p>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Browser:
    """chromedriver and one headless Chromium session."""

    def __init__(self):
        self.port = free_port()
        self.profile = lxtest.tempdir()
        self.log = open(os.path.join(self.profile, "chromedriver.log"), "wb")
        self.driver = subprocess.Popen([CHROMEDRIVER, "--port=%d" % self.port],
                                       stdout=self.log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        self.session = None
        deadline = time.time() + DRIVER_TIMEOUT
        while True:
            try:
                if self.call("GET", "/status", timeout=2).get("value", {}).get("ready"):
                    break
            except OSError:
                pass
            if self.driver.poll() is not None or time.time() > deadline:
                self.close()
                raise AssertionError("chromedriver did not start")
            time.sleep(0.1)
        args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                "--user-data-dir=" + os.path.join(self.profile, "profile")]
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args}}}}
        try:
            v = self.call("POST", "/session", caps, timeout=SESSION_TIMEOUT)["value"]
            self.session = v["sessionId"]
            self.call("POST", "/session/%s/timeouts" % self.session,
                      {"script": SCRIPT_TIMEOUT_MS, "pageLoad": 30000})
        except BaseException:
            self.close()
            raise

    def call(self, method, path, body=None, timeout=30):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path), data=data,
                                     method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            raise AssertionError("WebDriver %s %s: %s" % (method, path, e.read()[:1000]))

    def open(self, url):
        self.call("POST", "/session/%s/url" % self.session, {"url": url})

    def fetch(self, url, headers):
        """What the page's fetch(url, {headers}) gives: {status, text,
        request_id} or {error} when the browser refuses it."""
        script = """
            const done = arguments[arguments.length - 1];
            fetch(arguments[0], {headers: arguments[1]})
              .then(r => r.text().then(t => done({status: r.status, text: t,
                                                    request_id: r.headers.get('X-Request-Id')})))
              .catch(e => done({error: String(e)}));
        """
        return self.call("POST", "/session/%s/execute/async" % self.session,
                         {"script": script, "args": [url, headers]},
                         timeout=SCRIPT_TIMEOUT_MS / 1000 + 10)["value"]

    def close(self):
        if self.session is not None:
            try:
                self.call("DELETE", "/session/%s" % self.session, timeout=15)
            except (OSError, AssertionError):
                pass
            self.session = None
        if self.driver.poll() is None:
            self.driver.send_signal(signal.SIGTERM)
            try:
                self.driver.wait(10)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.driver.pid, signal.SIGKILL)  # the browser it started
        except (ProcessLookupError, PermissionError):
            pass
        self.driver.wait(5)
        self.log.close()


class TestCorsBrowser(lxtest.TestCase):

    @classmethod
    def setUpClass(cls):
        missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
        if missing:
            if os.environ.get("CI") == "true":
                raise AssertionError("missing %s: scripts/deps.sh --test installs chromium and "
                                     "chromium-driver" % ", ".join(missing))
            raise unittest.SkipTest("no %s (scripts/deps.sh --test installs them)"
                                    % ", ".join(missing))
        cls.page = PageServer()
        cls.other = PageServer()
        try:
            cls.srv = lxtest.Server(config(routes=TESTPLUG_ROUTES, plugins=["testplug"], server={
                "cors_origins": cls.page.origin}))
            cls.api = "http://127.0.0.1:%d" % cls.srv.port
            cls.browser = Browser()
        except BaseException:
            cls.page.close()
            cls.other.close()
            if getattr(cls, "srv", None) is not None:
                cls.srv.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.browser.close()
            cls.srv.stop_checked()
        finally:
            cls.page.close()
            cls.other.close()

    def test_cors_browser_unknown_path_gets_the_real_404_json(self):
        self.browser.open(self.page.origin + "/")
        got = self.browser.fetch(self.api + "/api/no/such/route",
                                 {"Authorization": "Bearer not-a-token",
                                  "X-Request-Id": "browser-404"})
        self.assertNotIn("error", got, got)
        self.assertEqual(got["status"], 404, got)
        self.assertEqual(json.loads(got["text"])["code"], "NOT_FOUND", got)
        self.assertEqual(got["request_id"], "browser-404")
        # lexiaid saw the preflight (204) and then the real request.
        for method, status in (("OPTIONS", 204), ("GET", 404)):
            line = self.srv.wait_log(lambda l: l.get("src") == "access" and
                                     l.get("path") == "/api/no/such/route" and
                                     l.get("method") == method)
            self.assertIsNotNone(line, method)
            self.assertEqual(int(line["status"]), status, line)

    def test_cors_browser_route_answers_with_its_request_id(self):
        self.browser.open(self.page.origin + "/")
        got = self.browser.fetch(self.api + "/echo", {"X-Request-Id": "browser-echo",
                                                      "Authorization": "Bearer x"})
        self.assertNotIn("error", got, got)
        self.assertEqual(got["status"], 200, got)
        self.assertEqual(got["request_id"], "browser-echo")

    def test_cors_browser_refused_origin_fails_and_is_logged_once(self):
        self.browser.open(self.other.origin + "/")
        for _ in range(2):
            got = self.browser.fetch(self.api + "/echo", {"X-Request-Id": "browser-refused"})
            self.assertIn("error", got, got)  # the browser's own "Failed to fetch"
        line = self.srv.wait_log(lambda l: self.other.origin in l.get("msg", ""))
        self.assertIsNotNone(line, "no warning names the refused origin")
        self.assertEqual(line["level"], "warn")
        self.assertEqual(sum(1 for l in self.srv.logs() if self.other.origin in l.get("msg", "")),
                         1)


if __name__ == "__main__":
    lxtest.main()
