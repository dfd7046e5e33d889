#!/usr/bin/env python3
"""The browser's own WebSocket against lexiaid: headless Chromium (Debian
chromium) loads a page served by this test from another origin; the page
opens ws://lexiaid/ws, sends a text and a binary message, checks both
echoes, closes with 1000 and posts what it saw back to the test, which
waits for that post (the event), not for a time. Under CI=true a missing
chromium is a failure, not a skip."""

import json
import os
import shutil
import signal
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import lxtest
from lxtest import config

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>lexiaid WebSocket</title></head>
<body><pre id="out">running</pre>
<script>
const out = {events: []};
function report() {
  document.getElementById('out').textContent = JSON.stringify(out);
  fetch('/result', {method: 'POST', body: JSON.stringify(out)});
}
try {
  const ws = new WebSocket('%(url)s');
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => { out.events.push('open'); ws.send('hello from the browser'); };
  ws.onmessage = (e) => {
    if (typeof e.data === 'string') {
      out.text = e.data;
      ws.send(new Uint8Array([0, 1, 2, 250, 255]).buffer);
    } else {
      out.binary = Array.from(new Uint8Array(e.data));
      ws.close(1000, 'done');
    }
  };
  ws.onerror = () => out.events.push('error');
  ws.onclose = (e) => {
    out.events.push('close');
    out.code = e.code; out.reason = e.reason; out.clean = e.wasClean;
    report();
  };
} catch (e) { out.exception = String(e); report(); }
</script></body></html>
"""


def find_chromium():
    for name in ("chromium", "chromium-browser"):
        p = shutil.which(name)
        if p:
            return p
    return None


class PageServer:
    """Serves the page and takes the page's report (POST /result)."""

    def __init__(self):
        self.result = None
        self.got = threading.Event()
        self.page = b""
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                body = outer.page if self.path == "/page.html" else b"not found"
                self.send_response(200 if self.path == "/page.html" else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(n)
                self.send_response(204)
                self.end_headers()
                if self.path == "/result":
                    outer.result = json.loads(data.decode())
                    outer.got.set()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.origin = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class TestWebSocketBrowser(lxtest.TestCase):

    def test_ws_browser_connects_echoes_and_closes_cleanly(self):
        chromium = find_chromium()
        if chromium is None:
            msg = "chromium is not installed (scripts/deps.sh --test)"
            if os.environ.get("CI") == "true":
                self.fail(msg)
            self.skipTest(msg)
        page = PageServer()
        self.addCleanup(page.close)
        srv = self.start(config(
            routes=[{lxtest.ROUTE_PATH_KEY: "/ws", "websocket": "ws_echo.echo"}],
            plugins=("ws_echo",), server={"cors_origins": [page.origin]}))
        url = "ws://127.0.0.1:%d/ws?token=not-logged" % srv.port
        page.page = (PAGE % {"url": url}).encode()

        profile = lxtest.tempdir()
        log = open(os.path.join(profile, "chromium.log"), "wb")
        self.addCleanup(log.close)
        proc = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-dev-shm-usage",
             "--disable-sync", "--user-data-dir=" + profile, page.origin + "/page.html"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)

        def stop_chromium():
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(10)
        self.addCleanup(stop_chromium)

        got = page.got.wait(90)
        if not got:
            with open(os.path.join(profile, "chromium.log"), "rb") as f:
                tail = f.read()[-3000:].decode("utf-8", "replace")
            self.fail("the page never reported (chromium exit %s)\n%s" % (proc.poll(), tail))
        r = page.result
        self.assertEqual(r.get("events"), ["open", "close"], r)
        self.assertEqual(r.get("text"), "hello from the browser", r)
        self.assertEqual(r.get("binary"), [0, 1, 2, 250, 255], r)
        self.assertEqual((r.get("code"), r.get("reason"), r.get("clean")), (1000, "done", True), r)
        line = srv.wait_log(lambda l: "ws_echo closed" in l.get("msg", ""))
        self.assertIn("code=1000 reason=done messages=2", line["msg"])
        access = srv.wait_log(lambda l: l.get("src") == "access" and l.get("status") == 101)
        self.assertEqual(access["query"], "token=[REDACTED]")
        self.assertNotIn("not-logged", srv.output())


if __name__ == "__main__":
    lxtest.main()
