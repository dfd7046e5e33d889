#!/usr/bin/env python3
"""bench/soak.py: lexiaid against hostile clients, on loopback, bounded in time.
The figures of docs/limits.md.

Usage: bench/soak.py [--quick]
  --quick   smaller crowds and shorter runs (about a minute instead of about three)

Each scenario starts a fresh lexiaid (2 workers, the shipped limits unless said)
with the health and auth plugins and three routes: GET /health, POST /upload
(auth.require_user, max_body 25M, as the shipped upload route) and POST /open
(no middleware, max_body 1M). While the attack runs, a probe opens a new
connection every 50 ms and asks GET /health (2 s timeout); its latencies and
failures say whether other clients were still served. Workers' memory is the
sum of VmRSS over the worker processes, sampled every 0.2 s.

  idle       many connections that send nothing
  limit      more idle connections than max_connections (set low)
  slowloris  connections that send a head a byte every 2 s
  pipeline   clients that pipeline requests and never read an answer
  bodyhold   unauthenticated heads of 24 MiB uploads, then as much body as
             the server takes
  slowbody   bodies on an open route, a byte every 2 s

Environment: LEXIAID_BIN (default _build/lexiaid), LEXIAID_PLUGINS (the build
directory holding plugins/health/.libs/health.so and plugins/auth/.libs/auth.so;
default _build). The report goes to stdout and bench/results/soak.md. It
measures, it does not judge: it exits 0 after a complete run.
"""

import errno
import multiprocessing
import os
import re
import resource
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.environ.get("LEXIAID_BIN") or os.path.join(ROOT, "_build", "lexiaid")
PLUGINS = os.environ.get("LEXIAID_PLUGINS") or os.path.join(ROOT, "_build")
QUICK = "--quick" in sys.argv[1:]
MB = 1 << 20


def log(msg):
    sys.stderr.write("[soak] %s\n" % msg)
    sys.stderr.flush()


# ---------------------------------------------------------------- the server

CONFIG = """
server = {
    listen = "127.0.0.1:0"; workers = 2; log_level = "info"; log_format = "json";
    data_dir = "%(dir)s";
    %(extra)s
};
plugins = (
    { name = "health"; file = "%(plugins)s/plugins/health/.libs/health.so"; },
    { name = "auth"; file = "%(plugins)s/plugins/auth/.libs/auth.so";
      config = { project_id = "soak"; certs_url = "http://127.0.0.1:9/certs"; }; }
);
routes = (
    { method = "GET"; path = "/health"; handler = "health.live"; },
    { method = "POST"; path = "/upload"; handler = "health.live";
      before = ["auth.require_user"]; max_body = "25M"; },
    { method = "POST"; path = "/open"; handler = "health.live"; max_body = "1M"; }
);
"""


class Server:
    def __init__(self, **settings):
        self.dir = tempfile.mkdtemp(prefix="lexiaid-soak-")
        extra = " ".join('%s = "%s";' % kv for kv in settings.items())
        path = os.path.join(self.dir, "lexiaid.conf")
        with open(path, "w") as f:
            f.write(CONFIG % {"dir": self.dir, "plugins": PLUGINS, "extra": extra})
        self.out = open(os.path.join(self.dir, "out.log"), "wb")
        env = dict(os.environ)
        httpc = os.path.join(PLUGINS, "core", ".libs", "lx_http_client.so")
        if "LEXIAID_HTTP_CLIENT_MODULE" not in env and os.path.exists(httpc):
            env["LEXIAID_HTTP_CLIENT_MODULE"] = httpc  # auth needs it; no `make install` here
        self.proc = subprocess.Popen([BIN, "-c", path], stdout=self.out, stderr=subprocess.STDOUT,
                                     start_new_session=True, env=env)
        self.port = None
        deadline = time.time() + 15
        while time.time() < deadline and self.port is None:
            time.sleep(0.05)
            with open(os.path.join(self.dir, "out.log"), "rb") as f:
                text = f.read().decode("utf-8", "replace")
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", text)
            if m:
                self.port = int(m.group(1))
            if self.proc.poll() is not None:
                raise SystemExit("lexiaid exited:\n" + text)
        if self.port is None:
            self.stop()
            raise SystemExit("lexiaid did not say where it listens")
        while time.time() < deadline and len(self.workers()) < 2:
            time.sleep(0.05)

    def workers(self):
        kids = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % d) as f:
                    st = f.read()
            except OSError:
                continue
            rest = st[st.rindex(")") + 2:].split()
            if int(rest[1]) == self.proc.pid and rest[0] != "Z":
                kids.append(int(d))
        return kids

    def rss_kb(self):
        total = 0
        for pid in self.workers():
            try:
                with open("/proc/%d/status" % pid) as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
            except OSError:
                pass
        return total

    def sockets(self):
        n = 0
        for pid in self.workers():
            try:
                for fd in os.listdir("/proc/%d/fd" % pid):
                    try:
                        if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:"):
                            n += 1
                    except OSError:
                        pass
            except OSError:
                pass
        return n

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.out.close()

    def connect(self, timeout=5):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        return s


# ---------------------------------------------------------------- measuring

def _probe_loop(port, stop, out):
    req = b"GET /health HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n"
    lat, failed = [], 0
    while not stop.is_set():
        t0 = time.time()
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            s.settimeout(2)
            s.sendall(req)
            buf = b""
            while True:
                b = s.recv(4096)
                if not b:
                    break
                buf += b
            s.close()
            if buf.startswith(b"HTTP/1.1 200"):
                lat.append(time.time() - t0)
            else:
                failed += 1
        except OSError:
            failed += 1
        stop.wait(0.05)
    out.put((lat, failed))


class Probe:
    """A well-behaved client in a process of its own (so that the attack's
    loops cannot starve it): a new connection and GET /health every 50 ms."""

    def __init__(self, srv):
        self.stop_ev = multiprocessing.Event()
        self.out = multiprocessing.Queue()
        self.proc = multiprocessing.Process(target=_probe_loop,
                                            args=(srv.port, self.stop_ev, self.out), daemon=True)

    def start(self):
        self.proc.start()

    def summary(self):
        self.stop_ev.set()
        try:
            lat, failed = self.out.get(timeout=10)
        except Exception:  # noqa: BLE001 - the probe died: say so
            return "probe lost"
        self.proc.join(5)
        n = len(lat) + failed
        if not lat:
            return "0 of %d answered" % n
        lat = sorted(lat)
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        return "%d of %d answered, p50 %.1f ms, p99 %.1f ms" % (
            len(lat), n, statistics.median(lat) * 1000, p99 * 1000)


class Sampler(threading.Thread):
    def __init__(self, srv):
        super().__init__(daemon=True)
        self.srv = srv
        self.base = srv.rss_kb()
        self.peak = self.base
        self.peak_socks = 0
        self.stop_ev = threading.Event()

    def run(self):
        while not self.stop_ev.is_set():
            self.peak = max(self.peak, self.srv.rss_kb())
            self.peak_socks = max(self.peak_socks, self.srv.sockets())
            self.stop_ev.wait(0.2)

    def done(self):
        self.stop_ev.set()
        self.join(5)
        return (self.peak - self.base) / 1024.0


def open_many(srv, n):
    socks = []
    for _ in range(n):
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            err = s.connect_ex(("127.0.0.1", srv.port))
            if err not in (0, errno.EINPROGRESS):
                s.close()
                break
            socks.append(s)
        except OSError:
            break
    return socks


def ready(rd, wr=(), timeout=0.2):
    """The sockets of rd readable and of wr writable within timeout (poll:
    select() cannot take descriptors above 1023)."""
    p = select.poll()
    by_fd = {}
    for s in rd:
        p.register(s, select.POLLIN)
        by_fd[s.fileno()] = s
    for s in wr:
        p.register(s, select.POLLOUT | (select.POLLIN if s.fileno() in by_fd else 0))
        by_fd[s.fileno()] = s
    r, w = [], []
    for fd, ev in p.poll(timeout * 1000):
        if ev & (select.POLLIN | select.POLLHUP | select.POLLERR):
            r.append(by_fd[fd])
        if ev & select.POLLOUT:
            w.append(by_fd[fd])
    return r, w


def wait_closed(socks, limit, t0=None):
    """Seconds from t0 (default: now) until the server closed each socket
    (None: still open at the limit); what each received."""
    t0 = t0 or time.time()
    when = {s: None for s in socks}
    got = {s: b"" for s in socks}
    live = set(socks)
    while live and time.time() - t0 < limit:
        r, _ = ready(live)
        for s in r:
            try:
                b = s.recv(65536)
            except OSError:
                b = b""
            if b:
                got[s] += b
                continue
            when[s] = time.time() - t0
            live.discard(s)
    return when, got


def dist(values):
    v = sorted(x for x in values if x is not None)
    if not v:
        return "none"
    return "min %.1f s, median %.1f s, max %.1f s" % (v[0], statistics.median(v), v[-1])


# ---------------------------------------------------------------- scenarios

def scenario_idle(rows):
    n = 1000 if QUICK else 3000
    srv = Server()
    try:
        probe, samp = Probe(srv), Sampler(srv)
        base_socks = srv.sockets()
        probe.start()
        samp.start()
        t_open = time.time()
        socks = open_many(srv, n)
        time.sleep(1.0)
        held = srv.sockets() - base_socks
        rss = (srv.rss_kb() - samp.base) / 1024.0
        when, _ = wait_closed(socks, 20, t0=t_open)
        grown = samp.done()
        rows.append(("idle", "%d connections that send nothing (header_timeout 10s)" % len(socks),
                     "%d held; %.1f MiB for them (%.1f KiB each); closed after %s; "
                     "%d still open at 20 s" % (held, rss, rss * 1024 / max(held, 1), dist(when.values()),
                                                 sum(1 for x in when.values() if x is None)),
                     "+%.1f MiB" % grown, probe.summary()))
        for s in socks:
            s.close()
    finally:
        srv.stop()


def scenario_limit(rows):
    n = 600 if QUICK else 1000
    srv = Server(max_connections="64")
    try:
        probe, samp = Probe(srv), Sampler(srv)
        base_socks = srv.sockets()
        samp.start()
        t_open = time.time()
        socks = open_many(srv, n)
        time.sleep(1.0)
        held = srv.sockets() - base_socks
        probe.start()
        when, _ = wait_closed(socks, 40, t0=t_open)
        grown = samp.done()
        rows.append(("limit", "%d idle connections against max_connections 64 x 2 workers" % len(socks),
                     "at most %d held at once; the rest waited in the kernel's queue and were served "
                     "(closed) in turn: %s" % (held, dist(when.values())),
                     "+%.1f MiB" % grown, probe.summary()))
        for s in socks:
            s.close()
    finally:
        srv.stop()


def scenario_slowloris(rows):
    n = 300 if QUICK else 1000
    srv = Server()
    try:
        probe, samp = Probe(srv), Sampler(srv)
        probe.start()
        samp.start()
        socks = []
        for _ in range(n):
            try:
                s = srv.connect()
                s.sendall(b"GET /health HTTP/1.1\r\nHost: s\r\nX-Pad: ")
                s.setblocking(False)
                socks.append(s)
            except OSError:
                break
        t0 = time.time()
        live = set(socks)
        when = {}
        answers = 0
        while live and time.time() - t0 < 25:
            for s in list(live):
                try:
                    s.send(b"a")
                except OSError:
                    pass
            end = time.time() + 2.0
            while time.time() < end and live:
                r, _ = ready(live)
                for s in r:
                    try:
                        b = s.recv(65536)
                    except OSError:
                        b = b""
                    if b.startswith(b"HTTP/1.1 408"):
                        answers += 1
                    if not b or b.startswith(b"HTTP/"):
                        when[s] = time.time() - t0
                        live.discard(s)
        grown = samp.done()
        rows.append(("slowloris", "%d connections sending a head a byte every 2 s" % len(socks),
                     "%d got 408 REQUEST_TIMEOUT; cut after %s; %d still open at 25 s" %
                     (answers, dist(when.values()), len(live)),
                     "+%.1f MiB" % grown, probe.summary()))
        for s in socks:
            s.close()
    finally:
        srv.stop()


def scenario_pipeline(rows):
    n = 10 if QUICK else 20
    push_s = 8 if QUICK else 15
    srv = Server(idle_timeout="15s")
    try:
        probe, samp = Probe(srv), Sampler(srv)
        base_socks = srv.sockets()
        probe.start()
        samp.start()
        req = b"GET /health HTTP/1.1\r\nHost: p\r\n\r\n" * 1000
        socks = []
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(("127.0.0.1", srv.port))
            s.setblocking(False)
            socks.append(s)
        sent = {s: 0 for s in socks}
        t0 = time.time()
        while time.time() - t0 < push_s:
            _, w = ready((), socks, 0.5)
            for s in w:
                try:
                    sent[s] += s.send(req)
                except OSError:
                    pass
        pushed = time.time() - t0
        # how long until the server dropped them (write timeout)
        t1 = time.time()
        dropped = None
        while time.time() - t1 < 30:
            if srv.sockets() <= base_socks:
                dropped = time.time() - t0
                break
            time.sleep(0.2)
        grown = samp.done()
        per = sorted(sent.values())
        rows.append(("pipeline", "%d clients pipelining GET /health for %d s, never reading "
                     "(idle_timeout 15s)" % (n, push_s),
                     "the server took %.1f-%.1f MiB from each (%.1f MiB in all) and stopped reading; "
                     "all dropped %s after they began" % (per[0] / MB, per[-1] / MB, sum(per) / MB,
                                                          "%.1f s" % dropped if dropped else "not within 30 s of the end"),
                     "+%.1f MiB" % grown, probe.summary()))
        del pushed
        for s in socks:
            s.close()
    finally:
        srv.stop()


def scenario_bodyhold(rows):
    n = 100 if QUICK else 200
    push_s = 5 if QUICK else 10
    srv = Server()
    try:
        probe, samp = Probe(srv), Sampler(srv)
        probe.start()
        samp.start()
        head = (b"POST /upload HTTP/1.1\r\nHost: b\r\nContent-Type: application/octet-stream\r\n"
                b"Content-Length: %d\r\n\r\n" % (24 * MB))
        socks, t_sent = [], {}
        for _ in range(n):
            try:
                s = srv.connect()
                s.sendall(head)
                t_sent[s] = time.time()
                s.setblocking(False)
                socks.append(s)
            except OSError:
                break
        # an attacker goes on sending after the answer and the server's FIN,
        # until the server stops reading (its lingering close ends)
        chunk = b"x" * 65536
        got, first, pushed = {s: b"" for s in socks}, {}, {s: 0 for s in socks}
        live, reading = set(socks), set(socks)
        t0 = time.time()
        while time.time() - t0 < push_s and live:
            r, w = ready(reading, live)
            time.sleep(0.005)
            for s in r:
                try:
                    b = s.recv(65536)
                except OSError:
                    b = b""
                if b and s not in first:
                    first[s] = time.time() - t_sent[s]
                got[s] += b
                if not b:
                    reading.discard(s)
            for s in w:
                if s in live:
                    try:
                        pushed[s] += s.send(chunk)
                    except OSError:
                        live.discard(s)
        cut = time.time() - t0
        grown = samp.done()
        n401 = sum(1 for s in socks if got[s].startswith(b"HTTP/1.1 401"))
        rows.append(("bodyhold", "%d unauthenticated 24 MiB uploads, body pushed for up to %d s" %
                     (len(socks), push_s),
                     "%d answered 401 after %s, before any body; then the server read and dropped "
                     "%.0f MiB more (lingering close) and cut them all within %.1f s" %
                     (n401, dist(first.values()), sum(pushed.values()) / MB, cut),
                     "+%.1f MiB" % grown, probe.summary()))
        for s in socks:
            s.close()
    finally:
        srv.stop()


def scenario_slowbody(rows):
    n = 100 if QUICK else 300
    srv = Server()
    try:
        probe, samp = Probe(srv), Sampler(srv)
        probe.start()
        samp.start()
        socks = []
        for _ in range(n):
            try:
                s = srv.connect()
                s.sendall(b"POST /open HTTP/1.1\r\nHost: b\r\nContent-Length: 100000\r\n\r\n")
                s.setblocking(False)
                socks.append(s)
            except OSError:
                break
        t0 = time.time()
        live = set(socks)
        when = {}
        answers = 0
        while live and time.time() - t0 < 45:
            for s in list(live):
                try:
                    s.send(b"b")
                except OSError:
                    pass
            end = time.time() + 2.0
            while time.time() < end and live:
                r, _ = ready(live)
                for s in r:
                    try:
                        b = s.recv(65536)
                    except OSError:
                        b = b""
                    if b.startswith(b"HTTP/1.1 408"):
                        answers += 1
                    if not b or b.startswith(b"HTTP/"):
                        when[s] = time.time() - t0
                        live.discard(s)
        grown = samp.done()
        rows.append(("slowbody", "%d bodies of 100 kB on an open route, a byte every 2 s "
                     "(body_timeout 30s, body_min_rate 4K)" % len(socks),
                     "%d got 408 REQUEST_TIMEOUT; cut after %s; %d still open at 45 s" %
                     (answers, dist(when.values()), len(live)),
                     "+%.1f MiB" % grown, probe.summary()))
        for s in socks:
            s.close()
    finally:
        srv.stop()


def main():
    if not os.access(BIN, os.X_OK):
        raise SystemExit("soak: no lexiaid binary at %s (LEXIAID_BIN)" % BIN)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    rows = []
    t0 = time.time()
    for f in (scenario_idle, scenario_limit, scenario_slowloris, scenario_pipeline,
              scenario_bodyhold, scenario_slowbody):
        log("running %s" % f.__name__[9:])
        f(rows)
    out = ["# lexiaid soak (%s, %.0f s, %s)" % ("quick" if QUICK else "full", time.time() - t0,
                                               time.strftime("%Y-%m-%d")),
           "",
           "| scenario | attack | what the server did | workers' RSS peak | other clients (probe) |",
           "|---|---|---|---|---|"]
    for r in rows:
        out.append("| " + " | ".join(r) + " |")
    text = "\n".join(out) + "\n"
    sys.stdout.write(text)
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", "soak.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
