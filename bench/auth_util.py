#!/usr/bin/env python3
"""bench/auth_util.py: the loopback helpers of bench/auth.sh (standard library
only, 127.0.0.1 only).

  serve CERT KID PORTFILE LOG [DELAY_MS]
      Serves Google's x509 key map {KID: PEM of CERT} at GET /certs with
      Cache-Control: max-age=3600, each answer DELAY_MS late (default 0).
      Binds a free port and writes it to PORTFILE; appends one line per key
      request to LOG: "ARRIVED_US ANSWERED_US" (Unix microseconds). Runs
      until killed.

  burst PORT PATH TOKEN N READYFILE
      Creates READYFILE once its threads are up, then polls GET /health on
      PORT until it answers 200 (for up to 15 s; so it is started before
      the server, and its own start-up delays nothing), then sends N GET PATH requests with
      "Authorization: Bearer TOKEN" at once, one connection each, and prints
      one line per request: "STATUS SENT_US DONE_US" (Unix microseconds;
      status 0 on a socket error). Each request gives up after 10 s. Exits 1
      when /health never answered.
"""

import json
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def now_us():
    return time.time_ns() // 1000


def serve(cert_path, kid, port_file, log_path, delay_ms=0):
    with open(cert_path, encoding="ascii") as f:
        body = json.dumps({kid: f.read()}).encode()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            arrived = now_us()
            if self.path.split("?")[0] != "/certs":
                self.send_error(404)
                return
            if delay_ms > 0:
                time.sleep(delay_ms / 1000)
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Cache-Control", "public, max-age=3600, must-revalidate, no-transform")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            with lock, open(log_path, "a", encoding="ascii") as log:
                log.write("%d %d\n" % (arrived, now_us()))

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    tmp = port_file + ".tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write("%d\n" % httpd.server_address[1])
    # A reader never sees a half-written port.
    os.replace(tmp, port_file)
    httpd.serve_forever()


def one_request(port, request, start, out, i):
    start.wait()
    sent = now_us()
    status = 0
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(request)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        line = data.split(b"\r\n", 1)[0].split()
        if len(line) >= 2 and line[1].isdigit():
            status = int(line[1])
    except OSError:
        status = 0
    out[i] = (status, sent, now_us())


def health_ok(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith((b"HTTP/1.1 200", b"HTTP/1.0 200"))
    except OSError:
        return False


def burst(port, path, token, n, ready_file):
    request = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n"
               "Connection: close\r\n\r\n" % (path, port, token)).encode()
    start = threading.Event()
    out = [None] * n
    threads = [threading.Thread(target=one_request, args=(port, request, start, out, i),
                                daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    with open(ready_file, "w", encoding="ascii") as f:
        f.write("ready\n")
    deadline = time.monotonic() + 15
    while not health_ok(port):
        if time.monotonic() > deadline:
            start.set()
            return 1
        time.sleep(0.001)
    start.set()
    for t in threads:
        t.join(15)
    for r in out:
        print("%d %d %d" % (r if r is not None else (0, 0, 0)))
    return 0


def main(argv):
    if len(argv) in (6, 7) and argv[1] == "serve":
        serve(argv[2], argv[3], argv[4], argv[5], int(argv[6]) if len(argv) > 6 else 0)
    elif len(argv) == 7 and argv[1] == "burst":
        return burst(int(argv[2]), argv[3], argv[4], int(argv[5]), argv[6])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
