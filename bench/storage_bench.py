#!/usr/bin/env python3
"""bench/storage_bench.py: the measurements of bench/storage.sh on ONE build
of lexiaid and one database backend (standard library plus the
`cryptography` package for the test tokens; 127.0.0.1 only).

    storage_bench.py fixtures --backend sqlite|postgres --dir DIR [--pg-url URL]
        [--text-mb "1 10 100"] [--docs "10 1000 10000"] [--turns "10 1000 10000"]
        [--users N] --build BUILD --fake-model FAKE_MODEL
      Makes the data every run starts from, once: a database migrated by
      BUILD's lexiaid and filled by direct SQL (SQLite: DIR/template/; PostgreSQL:
      the database lexiaid_bench_tmpl). Writes DIR/fixtures.json (what is where).

    storage_bench.py run --backend ... --dir DIR [--pg-url URL] --build BUILD
        --label LABEL --out FILE.json --fake-model FAKE_MODEL [--quick]
      Copies the template, starts BUILD's lexiaid (2 workers, auth with a
      loopback key server, storage, tutoring with FAKE_MODEL (the built
      bench/fake_model.c) answering at once, the storage_client test plugin
      for passage search) and measures:
        upload    8 clients uploading 20 KB text files: uploads/s, p50, p99;
                  one client alone: p50
        chat      4 clients each on its own 50-turn thread about a document,
                  the fake 0 s model, driven by wrk with bench/storage_chat.lua
                  (-t4 -c4, one connection per user; 1-2 s of warm-up, then
                  10 s, 5 s with --quick): turns/s, p50, p99 from wrk's
                  histogram (chat_rate, chat_p50, chat_p99); any non-2xx
                  answer, socket error, or a model called fewer times than
                  there were turns fails the run. And the CPU ms per turn,
                  from /proc/PID/stat (utime+stime+cutime+cstime of each
                  process tree) before and after the measured part:
                  chat_cpu_lexiaid (master, workers, their children),
                  chat_cpu_pg (the PostgreSQL server under test: its
                  postmaster's tree; null on SQLite), chat_cpu_model (the
                  fake model), chat_cpu_client (wrk, its rusage)
        growth    p50 of: the document list and one document for a user with
                  10/1,000/10,000 documents; a passage search (and a chat turn)
                  in a document of a user with 1/10/100 MB of text; the
                  history page and a chat turn on a thread of 10/1,000/10,000
                  turns; the profile and the list with 100,000 users in the
                  table (and without)
      and writes the figures as JSON to FILE.

It needs wrk on PATH for the chat figure. It measures, it does not judge.
Progress goes to stderr.
"""

import argparse
import base64
import datetime
import http.client
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

PROJECT = "bench-project"
KID = "0123456789abcdef0123456789abcdef01234567"
WORDS = None  # the vocabulary, made by vocab()
TS = "2026-11-28T10:00:00.000Z"


def log(*a):
    print("[storage-bench]", *a, file=sys.stderr, flush=True)


def vocab():
    """About 6,000 made-up words with a few common English ones, so that
    full-text indexes see a realistic spread."""
    global WORDS
    if WORDS is None:
        rnd = random.Random(7)
        letters = "abcdefghijklmnopqrstuvwxyz"
        ws = set()
        while len(ws) < 6000:
            ws.add("".join(rnd.choice(letters) for _ in range(rnd.randint(3, 10))))
        WORDS = sorted(ws) + ["water", "cycle", "river", "light", "plant", "energy"] * 50
    return WORDS


def text_of(rnd, nbytes):
    ws = vocab()
    out, n = [], 0
    while n < nbytes:
        w = rnd.choice(ws)
        out.append(w)
        n += len(w) + 1
    return " ".join(out)


def passages_of(text, size=800):
    """Pieces of about `size` bytes cut at spaces (text.c's job, roughly)."""
    out, i = [], 0
    while i < len(text):
        j = min(len(text), i + size)
        if j < len(text):
            k = text.rfind(" ", i, j)
            j = k if k > i else j
        out.append(text[i:j].strip())
        i = j
    return [p for p in out if p]


# --------------------------------------------------------------------------
# Tokens and the key server


class Keys:
    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lexiaid-bench")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(self.key.public_key()).serial_number(1)
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=2))
                .sign(self.key, hashes.SHA256()))
        body = json.dumps({KID: cert.public_bytes(serialization.Encoding.PEM).decode()}).encode()

        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "public, max-age=3600")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.tokens = {}

    def token(self, uid):
        if uid in self.tokens:
            return self.tokens[uid]

        def b64(b):
            return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

        now = int(time.time())
        h = {"alg": "RS256", "kid": KID, "typ": "JWT"}
        p = {"iss": "https://securetoken.google.com/" + PROJECT, "aud": PROJECT,
             "auth_time": now - 60, "user_id": uid, "sub": uid, "iat": now - 60,
             "exp": now + 3500, "email": uid + "@example.com", "email_verified": True,
             "firebase": {"identities": {}, "sign_in_provider": "password"}}
        si = (b64(json.dumps(h).encode()) + "." + b64(json.dumps(p).encode())).encode()
        sig = self.key.sign(si, padding.PKCS1v15(), hashes.SHA256())
        t = si.decode() + "." + b64(sig)
        self.tokens[uid] = t
        return t


# --------------------------------------------------------------------------
# Servers


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port, path="/health", timeout=30, proc=None):
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("the server exited (%s)" % proc.returncode)
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", path)
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("nothing answers on port %d" % port)


class Build:
    def __init__(self, d):
        self.d = os.path.abspath(d)
        self.bin = os.path.join(self.d, "lexiaid")
        self.plugins = os.path.join(self.d, "plugins")
        self.client = os.path.join(self.d, "tests/plugins/.libs/storage_client.so")
        self.extractor = os.path.join(self.d, "plugins/storage/extract/lexiaid-extract")
        self.http_client = os.path.join(self.d, "core/.libs/lx_http_client.so")


def conf_text(b, port, kport, fport, backend, data_dir, pg_url):
    db = 'database_url = "%s";' % pg_url if backend == "postgres" else ""
    p = b.plugins
    return """
server = { listen = "127.0.0.1:%(port)d"; workers = 2; data_dir = "%(data)s";
           log_format = "json"; max_body = "64M"; };
plugins = (
  { name = "health"; file = "%(p)s/health/.libs/health.so"; },
  { name = "auth"; file = "%(p)s/auth/.libs/auth.so";
    config = { project_id = "%(project)s"; certs_url = "http://127.0.0.1:%(kport)d/certs"; }; },
  { name = "storage"; file = "%(p)s/storage/.libs/storage.so";
    config = { backend = "%(backend)s"; %(db)s max_upload = "64M"; extractor = "%(ex)s"; }; },
  { name = "tutoring"; file = "%(p)s/tutoring/.libs/tutoring.so";
    config = { provider = "openai";
               openai = { base_url = "http://127.0.0.1:%(fport)d/v1"; api_key = "sk-bench-fake";
                          model = "fake"; }; }; },
  { name = "storage_client"; file = "%(client)s"; }
);
routes = (
  { method = "GET"; path = "/health"; handler = "health.live"; },
  { method = "POST"; path = "/api/users/init"; handler = "storage.user_init"; before = ["auth.require_user"]; },
  { method = "GET"; path = "/api/users/profile"; handler = "storage.profile_get"; before = ["auth.require_user"]; },
  { method = "POST"; path = "/api/documents/upload"; handler = "storage.upload";
    before = ["auth.require_user"]; max_body = "64M"; timeout = "2m"; },
  { method = "GET"; path = "/api/documents"; handler = "storage.doc_list"; before = ["auth.require_user"]; },
  { method = "GET"; path = "/api/documents/{id}"; handler = "storage.doc_get"; before = ["auth.require_user"]; },
  { method = "POST"; path = "/api/v2/agent/chat"; handler = "tutoring.chat";
    before = ["auth.require_user"]; timeout = "130s"; },
  { method = "GET"; path = "/api/v2/agent/history"; handler = "tutoring.history"; before = ["auth.require_user"]; },
  { method = "GET"; path = "/svc/docs/{id}/search"; handler = "storage_client.doc_search"; before = ["auth.require_user"]; }
);
""" % {"port": port, "data": data_dir, "p": p, "project": PROJECT, "kport": kport,
       "backend": backend, "db": db, "ex": b.extractor, "fport": fport, "client": b.client}


class Lexiaid:
    def __init__(self, b, dirname, backend, data_dir, pg_url, keys, fport):
        self.port = free_port()
        self.conf = os.path.join(dirname, "lexiaid-%d.conf" % self.port)
        with open(self.conf, "w") as f:
            f.write(conf_text(b, self.port, keys.port, fport, backend, data_dir, pg_url))
        env = dict(os.environ, LEXIAID_EXTRACTOR=b.extractor)
        if os.path.exists(b.http_client):
            env["LEXIAID_HTTP_CLIENT_MODULE"] = b.http_client
        self.err = open(os.path.join(dirname, "lexiaid-%d.err" % self.port), "w")
        self.proc = subprocess.Popen([b.bin, "-c", self.conf], stdout=subprocess.DEVNULL,
                                     stderr=self.err, env=env, start_new_session=True)
        wait_http(self.port, proc=self.proc)

    def pids(self):
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
        return [self.proc.pid] + [int(x) for x in out.stdout.split()]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.err.close()


class FakeModel:
    """bench/fake_model.c (built by bench/storage.sh) answering at once."""

    def __init__(self, binary, dirname):
        pf = os.path.join(dirname, "fake.port")
        if os.path.exists(pf):
            os.unlink(pf)
        self.err = open(os.path.join(dirname, "fake.err"), "w")
        self.proc = subprocess.Popen([binary, pf], stdout=subprocess.DEVNULL, stderr=self.err)
        end = time.time() + 15
        while not (os.path.exists(pf) and os.path.getsize(pf) > 0):
            if time.time() > end or self.proc.poll() is not None:
                raise RuntimeError("the fake model did not start (see %s)" % self.err.name)
            time.sleep(0.05)
        self.port = int(open(pf).read())
        wait_http(self.port, proc=self.proc)

    def answered(self):
        """Chat completions answered so far."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("GET", "/stats")
        return json.loads(c.getresponse().read())["answered"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        self.err.close()


# --------------------------------------------------------------------------
# HTTP


class Client:
    """One keep-alive connection of one user."""

    def __init__(self, port, keys, uid):
        self.port, self.auth = port, "Bearer " + keys.token(uid)
        self.c = None

    def req(self, method, path, body=None, headers=None):
        h = {"Authorization": self.auth}
        h.update(headers or {})
        for attempt in range(2):
            try:
                if self.c is None:
                    self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                self.c.request(method, path, body=body, headers=h)
                r = self.c.getresponse()
                data = r.read()
                return r.status, data
            except (OSError, http.client.HTTPException):
                self.c = None
                if attempt == 1:
                    raise
        return 0, b""

    def timed(self, method, path, body=None, headers=None, want=200):
        t0 = time.perf_counter()
        st, data = self.req(method, path, body, headers)
        ms = (time.perf_counter() - t0) * 1000
        if st != want:
            raise RuntimeError("%s %s answered %d: %s" % (method, path, st, data[:300]))
        return ms, data

    def json(self, method, path, obj=None):
        return self.timed(method, path, json.dumps(obj).encode() if obj is not None else None,
                          {"Content-Type": "application/json"} if obj is not None else None)


def multipart(filename, data):
    boundary = "bench" + uuid.uuid4().hex
    body = (("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
             "Content-Type: text/plain\r\n\r\n" % (boundary, filename)).encode() + data +
            ("\r\n--%s--\r\n" % boundary).encode())
    return body, {"Content-Type": "multipart/form-data; boundary=" + boundary}


def pct(v, p):
    v = sorted(v)
    if not v:
        return None
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def p50(v):
    return statistics.median(v) if v else None


# --------------------------------------------------------------------------
# Fixtures by direct SQL


class Sink:
    """Rows into the database lexiaid migrated: SQLite with sqlite3, PostgreSQL
    with psql's COPY (tab-separated text)."""

    COLS = {
        "users": ["uid", "email", "display_name", "profile_json", "created_at", "updated_at"],
        "documents": ["id", "user_id", "name", "original_filename", "file_type", "mime_type",
                      "status", "size", "content_length", "page_count", "created_at",
                      "updated_at"],
        "doc_texts": ["doc_id", "text"],
        "passages": ["doc_id", "seq", "text"],
        "records": ["uid", "kind", "key", "json", "n_items", "created_at", "updated_at"],
        "record_items": ["uid", "kind", "key", "seq", "json", "created_at"],
    }

    def __init__(self, backend, sqlite_path=None, pg_url=None):
        self.backend = backend
        self.rows = {t: [] for t in self.COLS}
        if backend == "sqlite":
            self.db = sqlite3.connect(sqlite_path)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=OFF")
        self.pg_url = pg_url

    def add(self, table, row):
        self.rows[table].append(row)
        if len(self.rows[table]) >= 20000:
            self.flush()  # every table, parents first (foreign keys)

    def flush(self):
        for t in self.COLS:  # in the order of the foreign keys
            rows = self.rows[t]
            if not rows:
                continue
            cols = self.COLS[t]
            if self.backend == "sqlite":
                self.db.executemany("INSERT INTO %s (%s) VALUES (%s)" %
                                    (t, ", ".join(cols), ", ".join("?" * len(cols))), rows)
                self.db.commit()
            else:
                def esc(v):
                    s = str(v)
                    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
                data = "".join("\t".join(esc(v) for v in r) + "\n" for r in rows)
                subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", self.pg_url, "-c",
                                "\\copy %s (%s) FROM STDIN" % (t, ", ".join(cols))],
                               input=data.encode(), check=True)
            self.rows[t] = []

    def close(self):
        self.flush()
        if self.backend == "sqlite":
            self.db.close()


def add_doc(sink, uid, name, text, files_dir=None):
    doc_id = str(uuid.uuid4())
    ps = passages_of(text)
    sink.add("documents", (doc_id, uid, name, name + ".txt", "txt", "text/plain", "processed",
                           len(text), len(text), 1, TS, TS))
    sink.add("doc_texts", (doc_id, text))
    for i, p in enumerate(ps):
        sink.add("passages", (doc_id, i, p))
    if files_dir is not None:  # SQLite keeps the file; the start-up check wants it
        with open(os.path.join(files_dir, doc_id), "w") as f:
            f.write(text)
    return doc_id


def add_thread(sink, uid, key, n_turns, doc_id=None):
    sink.add("records", (uid, "tutoring.thread", key,
                         json.dumps({"document_id": doc_id, "quiz": None, "created_at": TS}),
                         n_turns, TS, TS))
    for i in range(1, n_turns + 1):
        sink.add("record_items", (uid, "tutoring.thread", key, i,
                                  json.dumps({"type": "human" if i % 2 else "ai",
                                              "content": "turn %d about the water cycle" % i}),
                                  TS))


def thread_key(n):
    return "thread_%08x_%08x" % (n, n * 7919 % 0xffffffff)


def cmd_fixtures(a):
    b = Build(a.build)
    os.makedirs(a.dir, exist_ok=True)
    keys, fake = Keys(), FakeModel(a.fake_model, a.dir)
    tmpl = os.path.join(a.dir, "template")
    pg_tmpl = None
    if a.backend == "sqlite":
        shutil.rmtree(tmpl, ignore_errors=True)
        os.makedirs(tmpl)
        data, pg = tmpl, ""
    else:
        pg_tmpl = a.pg_url + " dbname=lexiaid_bench_tmpl"
        subprocess.run(["psql", "-q", a.pg_url + " dbname=postgres", "-c",
                        "DROP DATABASE IF EXISTS lexiaid_bench_tmpl"], check=True)
        subprocess.run(["psql", "-q", a.pg_url + " dbname=postgres", "-c",
                        "CREATE DATABASE lexiaid_bench_tmpl"], check=True)
        data, pg = os.path.join(a.dir, "pgdata-files"), pg_tmpl
        os.makedirs(data, exist_ok=True)
    srv = Lexiaid(b, a.dir, a.backend, data, pg, keys, fake.port)  # migrates
    srv.stop()
    fake.stop()
    sink = Sink(a.backend, os.path.join(tmpl, "lexiaid.db") if a.backend == "sqlite" else None,
                pg_tmpl)
    files = os.path.join(tmpl, "uploads") if a.backend == "sqlite" else None
    if files:
        os.makedirs(files, exist_ok=True)
    rnd = random.Random(42)
    fx = {"docs": {}, "text": {}, "turns": {}, "chat": {}, "users": a.users}
    t0 = time.time()
    for n in [int(x) for x in a.docs.split()]:
        uid = "docs%d" % n
        ids = [add_doc(sink, uid, "doc %d" % i, text_of(rnd, 300), files) for i in range(n)]
        fx["docs"][str(n)] = {"uid": uid, "doc": ids[len(ids) // 2]}
        log("fixtures: %s has %d documents" % (uid, n))
    for mb in [int(x) for x in a.text_mb.split()]:
        uid = "text%d" % mb
        ids = [add_doc(sink, uid, "book %d" % i, text_of(rnd, 1 << 20), files)
               for i in range(mb)]
        fx["text"][str(mb)] = {"uid": uid, "doc": ids[0]}
        log("fixtures: %s has %d MB of text" % (uid, mb))
    for n in [int(x) for x in a.turns.split()]:
        uid = "turns%d" % n
        add_thread(sink, uid, thread_key(n), n)
        fx["turns"][str(n)] = {"uid": uid, "thread": thread_key(n)}
        log("fixtures: %s has a thread of %d turns" % (uid, n))
    for i in range(8):  # the chat clients: a document and a 50-turn thread each
        uid = "chat%d" % i
        d = add_doc(sink, uid, "water", text_of(rnd, 16000) + " the water cycle moves water",
                    files)
        add_thread(sink, uid, thread_key(1000 + i), 50, d)
        fx["chat"][uid] = {"doc": d, "thread": thread_key(1000 + i)}
    sink.close()
    log("fixtures made in %.0f s" % (time.time() - t0))
    if a.backend == "postgres":
        subprocess.run(["psql", "-q", pg_tmpl, "-c", "ANALYZE"], check=True)
    with open(os.path.join(a.dir, "fixtures.json"), "w") as f:
        json.dump(fx, f)


def add_users(backend, sqlite_path, pg_url, n):
    sink = Sink(backend, sqlite_path, pg_url)
    for i in range(n):
        u = "many%06d" % i
        sink.add("users", (u, u + "@example.com", "User %d" % i, "{}", TS, TS))
    sink.close()
    if backend == "postgres":
        subprocess.run(["psql", "-q", pg_url, "-c", "ANALYZE users"], check=True)


# --------------------------------------------------------------------------
# CPU time by process, from /proc


TICK_MS = 1000.0 / os.sysconf("SC_CLK_TCK")


def proc_table():
    """{pid: (ppid, comm, ticks)} of every process; ticks are utime + stime +
    cutime + cstime (the last two: children it reaped, so a short-lived
    child's time still counts once its parent waited for it)."""
    t = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue  # gone meanwhile
        r = st.rindex(")")  # comm may hold spaces and parentheses
        comm = st[st.index("(") + 1:r]
        f = st[r + 2:].split()
        # fields from 3 (state): ppid is 4, utime..cstime are 14..17
        t[int(d)] = (int(f[1]), comm, sum(int(x) for x in f[11:15]))
    return t


def tree_of(table, roots):
    """roots and all their descendants in table."""
    kids = {}
    for pid, (ppid, _, _) in table.items():
        kids.setdefault(ppid, []).append(pid)
    out, todo = set(), [r for r in roots if r in table]
    while todo:
        p = todo.pop()
        if p not in out:
            out.add(p)
            todo.extend(kids.get(p, []))
    return out


def postmaster_of(pg_url):
    """The pid of the PostgreSQL server behind pg_url (a scripts/pg-test.sh
    cluster: host=DIR, data in DIR/data), or None."""
    host = dict(kv.split("=", 1) for kv in pg_url.split() if "=" in kv).get("host")
    if not host:
        return None
    try:
        with open(os.path.join(host, "data", "postmaster.pid")) as f:
            return int(f.readline())
    except (OSError, ValueError):
        return None


def cpu_ticks(roots):
    """{group: {pid: ticks}} of each root pid's process tree, read now, for
    {group: root pid}."""
    t = proc_table()
    return {g: {p: t[p][2] for p in tree_of(t, [r])} for g, r in roots.items()}


def cpu_ms_delta(before, after):
    """{group: CPU ms spent between the two readings}; a pid that appeared
    meanwhile counts from zero, one that vanished counts in its parent's
    cutime/cstime once reaped."""
    return {g: sum(v - before[g].get(p, 0) for p, v in after[g].items()) * TICK_MS
            for g in after}


def run_wrk(port, lua, users_file, seconds, out_path):
    """wrk -tN -cN (N users, one connection each) for `seconds` against the
    chat route; returns ({LX name: value}, CPU ms wrk used). Fails on any
    non-2xx answer or socket error."""
    env = dict(os.environ, LX_BENCH_CHAT=users_file)
    n = sum(1 for ln in open(users_file) if ln.strip())
    cmd = ["wrk", "-t%d" % n, "-c%d" % n, "-d%ds" % seconds, "--timeout", "%ds" % (seconds + 60),
           "-s", lua, "http://127.0.0.1:%d" % port]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    out = p.stdout.read().decode(errors="replace")
    p.stdout.close()
    _, status, ru = os.wait4(p.pid, 0)  # the rusage of wrk itself
    p.returncode = os.waitstatus_to_exitcode(status)
    with open(out_path, "w") as f:
        f.write(out)
    lx = {}
    for ln in out.splitlines():
        parts = ln.split()
        if len(parts) == 3 and parts[0] == "LX":
            lx[parts[1]] = float(parts[2])
    bad = [k for k in ("errors_connect", "errors_read", "errors_write", "errors_status",
                       "errors_timeout", "status_other") if lx.get(k, 0) != 0]
    if p.returncode != 0 or "requests" not in lx or lx["requests"] <= 0 or bad or \
            lx.get("status_2xx") != lx.get("answered"):
        raise RuntimeError("wrk on the chat route failed (rc %d, %s); see %s:\n%s" %
                           (p.returncode, ", ".join("%s %g" % (k, lx[k]) for k in bad) or
                            "no answers", out_path, out[-2000:]))
    return lx, (ru.ru_utime + ru.ru_stime) * 1000.0


# --------------------------------------------------------------------------
# The run


def run_clients(n, fn):
    """fn(i) in n threads at once; returns the wall time in seconds."""
    errs = []

    def wrap(i):
        try:
            fn(i)
        except Exception as e:  # reported, not hidden
            errs.append(repr(e))

    ts = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errs:
        raise RuntimeError(errs[0])
    return time.perf_counter() - t0


def cmd_run(a):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    b = Build(a.build)
    fx = json.load(open(os.path.join(a.dir, "fixtures.json")))
    run_dir = os.path.join(a.dir, "run-" + a.label)
    shutil.rmtree(run_dir, ignore_errors=True)
    os.makedirs(run_dir)
    pg = ""
    sqlite_path = None
    if a.backend == "sqlite":
        data = os.path.join(run_dir, "data")
        shutil.copytree(os.path.join(a.dir, "template"), data)
        sqlite_path = os.path.join(data, "lexiaid.db")
    else:
        data = os.path.join(run_dir, "files")
        os.makedirs(data)
        name = "lexiaid_bench_" + a.label.replace("-", "_")
        subprocess.run(["psql", "-q", a.pg_url + " dbname=postgres", "-c",
                        "DROP DATABASE IF EXISTS %s" % name], check=True)
        subprocess.run(["psql", "-q", a.pg_url + " dbname=postgres", "-c",
                        "CREATE DATABASE %s TEMPLATE lexiaid_bench_tmpl" % name], check=True)
        pg = a.pg_url + " dbname=" + name
    keys, fake = Keys(), FakeModel(a.fake_model, run_dir)
    srv = Lexiaid(b, run_dir, a.backend, data, pg, keys, fake.port)
    R = {"label": a.label, "backend": a.backend}
    n_up = 40 if a.quick else 120
    n_chat = 40 if a.quick else 100
    n_p = 15 if a.quick else 40
    try:
        rnd = random.Random(1)
        port = srv.port
        want = a.parts.split()
        if "uploads" in want:
            # ---- uploads
            files = [text_of(rnd, 20 * 1024).encode() for _ in range(n_up + 20)]
            one = Client(port, keys, "up-alone")
            lat = []
            for i in range(10 if a.quick else 20):
                body, h = multipart("alone%d.txt" % i, files[n_up + i])
                lat.append(one.timed("POST", "/api/documents/upload", body, h)[0])
            R["upload_alone_p50"] = p50(lat)
            lats = [[] for _ in range(8)]

            def uploader(i):
                c = Client(port, keys, "up%d" % i)
                for k in range(i, n_up, 8):
                    body, h = multipart("f%d.txt" % k, files[k])
                    ms, data = c.timed("POST", "/api/documents/upload", body, h)
                    lats[i].append(ms)

            wall = run_clients(8, uploader)
            allv = [x for v in lats for x in v]
            R["upload_rate"] = len(allv) / wall
            R["upload_p50"], R["upload_p99"] = p50(allv), pct(allv, 99)
            log(a.label, "uploads: %.1f/s, p50 %.1f ms, p99 %.1f ms (alone %.1f ms)" %
                (R["upload_rate"], R["upload_p50"], R["upload_p99"], R["upload_alone_p50"]))

        if "chat" in want:
            # ---- chat turns on 50-turn threads: wrk, one connection per user
            chat = fx["chat"]
            uids = sorted(chat)[:4]
            users_file = os.path.join(run_dir, "chat-users.txt")
            with open(users_file, "w") as f:
                for u in uids:
                    f.write("%s %s %s\n" % (keys.token(u), chat[u]["thread"], chat[u]["doc"]))
            lua = os.path.join(root, "bench/storage_chat.lua")
            run_wrk(port, lua, users_file, 1 if a.quick else 2,
                    os.path.join(run_dir, "wrk-warmup.txt"))
            roots = {"lexiaid": srv.proc.pid, "model": fake.proc.pid}
            if a.backend == "postgres":
                roots["pg"] = postmaster_of(pg)
                if roots["pg"] is None:
                    raise RuntimeError("no PostgreSQL server found for %s" % pg)
            calls0 = fake.answered()
            cpu0 = cpu_ticks(roots)
            lx, wrk_ms = run_wrk(port, lua, users_file, 5 if a.quick else 10,
                                 os.path.join(run_dir, "wrk-chat.txt"))
            cpu1 = cpu_ticks(roots)
            calls = fake.answered() - calls0
            turns = lx["requests"]
            if calls < turns:
                raise RuntimeError("the fake model answered %d calls for %d chat turns: lexiaid "
                                   "answered without it" % (calls, turns))
            R["chat_turns"] = int(turns)
            R["chat_rate"] = lx["rate"]
            R["chat_p50"], R["chat_p99"] = lx["p50_ms"], lx["p99_ms"]
            R["chat_model_calls_per_turn"] = calls / turns
            d = cpu_ms_delta(cpu0, cpu1)
            R["chat_cpu_lexiaid"] = d["lexiaid"] / turns
            R["chat_cpu_pg"] = d["pg"] / turns if "pg" in d else None
            R["chat_cpu_model"] = d["model"] / turns
            R["chat_cpu_client"] = wrk_ms / turns
            log(a.label, "chat: %.1f turns/s, p50 %.2f ms, p99 %.2f ms (%d turns); CPU ms per turn: "
                "lexiaid %.2f, postgres %s, model %.2f, wrk %.2f" %
                (R["chat_rate"], R["chat_p50"], R["chat_p99"], turns, R["chat_cpu_lexiaid"],
                 "—" if R["chat_cpu_pg"] is None else "%.2f" % R["chat_cpu_pg"],
                 R["chat_cpu_model"], R["chat_cpu_client"]))

        if "growth" in want:
            # ---- growth with data
            def series(c, method, path, n=n_p, obj=None):
                v = []
                for _ in range(n):
                    v.append(c.json(method, path, obj)[0] if obj is not None else
                             c.timed(method, path)[0])
                return p50(v)

            for n, f in sorted(fx["docs"].items(), key=lambda x: int(x[0])):
                c = Client(port, keys, f["uid"])
                R["docs%s_list" % n] = series(c, "GET", "/api/documents", max(5, n_p // 4))
                R["docs%s_get" % n] = series(c, "GET", "/api/documents/" + f["doc"])
                log(a.label, "%s documents: list %.1f ms, one %.1f ms" %
                    (n, R["docs%s_list" % n], R["docs%s_get" % n]))
            for mb, f in sorted(fx["text"].items(), key=lambda x: int(x[0])):
                c = Client(port, keys, f["uid"])
                R["text%s_search" % mb] = series(
                    c, "GET", "/svc/docs/%s/search?q=water+cycle+river&limit=5" % f["doc"])
                tid = thread_key(5000 + int(mb))
                R["text%s_chat" % mb] = series(c, "POST", "/api/v2/agent/chat", max(5, n_p // 2),
                                               {"query": "Where does the river water go?",
                                                "thread_id": tid, "document_id": f["doc"]})
                log(a.label, "%s MB: search %.1f ms, chat %.1f ms" %
                    (mb, R["text%s_search" % mb], R["text%s_chat" % mb]))
            for n, f in sorted(fx["turns"].items(), key=lambda x: int(x[0])):
                c = Client(port, keys, f["uid"])
                R["turns%s_history" % n] = series(c, "GET",
                                                  "/api/v2/agent/history?thread_id=" + f["thread"])
                R["turns%s_chat" % n] = series(c, "POST", "/api/v2/agent/chat", max(5, n_p // 2),
                                               {"query": "And then?", "thread_id": f["thread"]})
                log(a.label, "thread of %s turns: history %.1f ms, chat %.1f ms" %
                    (n, R["turns%s_history" % n], R["turns%s_chat" % n]))
            f = fx["docs"][sorted(fx["docs"], key=int)[0]]
            c = Client(port, keys, f["uid"])
            R["users_few_profile"] = series(c, "GET", "/api/users/profile")
            R["users_few_list"] = series(c, "GET", "/api/documents")
            add_users(a.backend, sqlite_path, pg, fx["users"])
            R["users_many_profile"] = series(c, "GET", "/api/users/profile")
            R["users_many_list"] = series(c, "GET", "/api/documents")
            log(a.label, "profile %.1f -> %.1f ms, list %.1f -> %.1f ms with %d users" %
                (R["users_few_profile"], R["users_many_profile"], R["users_few_list"],
                 R["users_many_list"], fx["users"]))
    finally:
        srv.stop()
        fake.stop()
        if a.backend == "postgres":
            subprocess.run(["psql", "-q", a.pg_url + " dbname=postgres", "-c",
                            "DROP DATABASE IF EXISTS lexiaid_bench_" + a.label.replace("-", "_")])
        else:
            shutil.rmtree(os.path.join(run_dir, "data"), ignore_errors=True)
    with open(a.out, "w") as f:
        json.dump(R, f, indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["fixtures", "run"])
    ap.add_argument("--backend", default="sqlite")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--pg-url", default="")
    ap.add_argument("--build", required=True)
    ap.add_argument("--label", default="run")
    ap.add_argument("--out", default="")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--fake-model", required=True, help="the built bench/fake_model.c")
    ap.add_argument("--text-mb", default="1 10 100")
    ap.add_argument("--docs", default="10 1000 10000")
    ap.add_argument("--turns", default="10 1000 10000")
    ap.add_argument("--users", type=int, default=100000)
    ap.add_argument("--parts", default="uploads chat growth",
                    help="which parts of a run to measure (run only)")
    a = ap.parse_args()
    if a.cmd == "fixtures":
        cmd_fixtures(a)
    else:
        cmd_run(a)


if __name__ == "__main__":
    main()
