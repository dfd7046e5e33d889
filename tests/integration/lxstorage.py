"""lxstorage: the shared fixture of the storage plugin's integration tests.

A StorageServer is the real lexiaid binary with the health, auth and
storage plugins, the storage routes of etc/lexiaid.conf (auth.require_user
before each, auth.require_admin before the admin ones), real RS256 tokens
made with lxkeys.py and checked against a loopback certificate server, and
a fresh data directory (SQLite) or a fresh PostgreSQL database.

Environment:
  LX_TEST_STORAGE  "sqlite" (the default) or "postgres"
  LX_TEST_PG_URL   postgres only: a libpq key=value conninfo to an admin
                   database; each StorageServer makes its own database
                   lxt_<pid>_<counter> with psql and drops it at cleanup
  LEXIAID_EXTRACTOR  the lexiaid-extract program (make check sets it)

    with StorageServer(self, workers=2) as s:
        status, doc = s.upload("a.txt", b"hello")
        status, docs = s.json("GET", "/api/documents")
"""

import itertools
import json
import os
import subprocess
import uuid

import lxkeys
import lxtest

BACKEND = os.environ.get("LX_TEST_STORAGE") or "sqlite"
PG_URL = os.environ.get("LX_TEST_PG_URL") or ""

# The storage routes of etc/lexiaid.conf: (method, path, handler, before, extra).
USER = ["auth.require_user"]
ADMIN = ["auth.require_admin"]
STORAGE_ROUTES = [
    ("POST", "/api/users/init", "storage.user_init", USER, {}),
    ("GET", "/api/users/profile", "storage.profile_get", USER, {}),
    ("PUT", "/api/users/profile", "storage.profile_put", USER, {}),
    ("POST", "/api/documents/upload", "storage.upload", USER, {"timeout": "2m"}),
    ("GET", "/api/documents", "storage.doc_list", USER, {}),
    ("GET", "/api/documents/{id}", "storage.doc_get", USER, {}),
    ("DELETE", "/api/documents/{id}", "storage.doc_delete", USER, {}),
    ("GET", "/api/documents/{id}/download", "storage.doc_download", USER, {"timeout": "5m"}),
    ("POST", "/api/feedback", "storage.feedback", USER, {}),
    ("GET", "/api/progress", "storage.progress", USER, {}),
    ("GET", "/api/admin/stats", "storage.admin_stats", ADMIN, {}),
    ("GET", "/api/admin/users", "storage.admin_users", ADMIN, {}),
    ("POST", "/api/admin/users/sync", "storage.admin_users_sync", ADMIN, {"timeout": "5m"}),
    ("GET", "/api/admin/feedback", "storage.admin_feedback", ADMIN, {}),
]


def storage_so():
    """The built storage plugin."""
    return os.path.join(lxtest.BUILDDIR, "plugins", "storage", ".libs", "storage.so")


def extractor():
    """The lexiaid-extract program the tests use."""
    return (os.environ.get("LEXIAID_EXTRACTOR")
            or os.path.join(lxtest.BUILDDIR, "plugins", "storage", "extract", "lexiaid-extract"))


def parse_size(v):
    """A config size (1048576, "64K", "25M", "1G") in bytes."""
    if isinstance(v, int):
        return v
    v = str(v).strip().upper()
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(v[-1:], 1)
    return int(v[:-1] if mult != 1 else v) * mult


# ---------------------------------------------------------------- multipart

def multipart(fields):
    """multipart/form-data of fields, a list of (name, filename or None,
    content_type or None, bytes or str): (body bytes, content type)."""
    boundary = "lxb" + uuid.uuid4().hex
    out = []
    for name, filename, ctype, data in fields:
        if isinstance(data, str):
            data = data.encode("utf-8")
        disp = 'form-data; name="%s"' % name
        if filename is not None:
            disp += '; filename="%s"' % filename.replace("\\", "\\\\").replace('"', '\\"')
        head = "--%s\r\nContent-Disposition: %s\r\n" % (boundary, disp)
        if ctype:
            head += "Content-Type: %s\r\n" % ctype
        head += "\r\n"
        out.append(head.encode("utf-8") + data + b"\r\n")
    out.append(("--%s--\r\n" % boundary).encode())
    return b"".join(out), "multipart/form-data; boundary=" + boundary


# ---------------------------------------------------------------- PostgreSQL

_pg_counter = itertools.count(1)


def _psql(sql, url=None):
    p = subprocess.run(["psql", url or PG_URL, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError("psql failed: %s" % (p.stderr.strip() or p.stdout.strip()))


def pg_create_db():
    """A fresh database on the LX_TEST_PG_URL server; returns its name."""
    if not PG_URL:
        raise AssertionError("LX_TEST_STORAGE=postgres needs LX_TEST_PG_URL")
    name = "lxt_%d_%d" % (os.getpid(), next(_pg_counter))
    _psql('DROP DATABASE IF EXISTS "%s"' % name)
    _psql('CREATE DATABASE "%s"' % name)
    return name


def pg_drop_db(name):
    try:
        _psql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
    except (AssertionError, OSError, subprocess.TimeoutExpired):
        pass


def pg_url(name):
    """The libpq conninfo of database `name` on the test server."""
    return PG_URL + " dbname=" + name


# ---------------------------------------------------------------- the server

_token_cache = {}


class StorageServer:
    """The real server with health, auth and storage. Cleaned up (stopped,
    checked for sanitizer reports, its PostgreSQL database dropped) by the
    test case's cleanups, or at the end of a `with` block."""

    def __init__(self, testcase, workers=1, storage_cfg=None, data_dir=None, pg_db=None,
                 env=None, admin_emails="admin@example.com", server=None, extra_plugins=None,
                 extra_routes=None, auth_cfg=None):
        self.testcase = testcase
        # More plugins (names or dicts as lxtest.config takes them), loaded
        # after storage, and their routes (dicts from lxtest.route, or
        # tuples (method, path, handler)), e.g. a plugin using storage.v1.
        self.extra_plugins = list(extra_plugins or [])
        self.extra_routes = list(extra_routes or [])
        self.workers = workers
        self.storage_cfg = dict(storage_cfg or {})
        self.env = dict(env or {})
        self.admin_emails = admin_emails
        # More keys of the auth plugin's config group (they win).
        self.auth_cfg = dict(auth_cfg or {})
        self.server = dict(server or {})
        self.data_dir = data_dir or lxtest.tempdir()
        self.backend = self.storage_cfg.get("backend", BACKEND)
        self._own_db = False
        self.pg_db = pg_db
        self.srv = None
        self._closed = False
        lxkeys.make_keys()
        self.fake = lxkeys.Fake()
        self.fake.certs("/certs", "k1")
        if testcase is not None:
            testcase.addCleanup(self.close)
        try:
            if self.backend == "postgres" and self.pg_db is None:
                self.pg_db = pg_create_db()
                self._own_db = True
            self.start()
        except BaseException:
            self.close()
            raise

    # -- config

    def config_text(self):
        cfg = {"backend": self.backend, "extractor": extractor(),
               "extract_wait": "20s"}
        if self.backend == "postgres":
            cfg["database_url"] = pg_url(self.pg_db)
        cfg.update(self.storage_cfg)
        auth = {"project_id": lxkeys.PROJECT, "certs_url": self.fake.url + "/certs",
                "admin_emails": self.admin_emails or ""}
        auth.update(self.auth_cfg)
        plugins = ["health",
                   {"name": "auth", "file": lxkeys.auth_so(), "config": auth},
                   {"name": "storage", "file": storage_so(), "config": cfg}]
        plugins += self.extra_plugins
        routes = [("GET", "/health", "health.live"), ("GET", "/ready", "health.ready")]
        # The upload route's body limit leaves room for the multipart
        # framing, so that the plugin's own 413 FILE_TOO_LARGE is what a
        # file over max_upload meets; server={"upload_max_body": ...} sets it.
        max_body = self.server.get("upload_max_body",
                                   parse_size(cfg.get("max_upload", "25M")) + 65536)
        for method, path, handler, before, extra in STORAGE_ROUTES:
            r = lxtest.route(method, path, handler, before=list(before), **extra)
            if handler == "storage.upload":
                r["max_body"] = max_body
            routes.append(r)
        routes += self.extra_routes
        srv = {"data_dir": self.data_dir, "request_timeout": "30s", "max_header": "64K"}
        srv.update({k: v for k, v in self.server.items() if k != "upload_max_body"})
        return lxtest.config(routes=routes, plugins=plugins, server=srv, workers=self.workers)

    # -- lifecycle

    def start(self):
        """Starts the server (again) on the same data dir / database; waits
        until /ready answers 200."""
        self.srv = lxtest.Server(self.config_text(), env=self.env)
        if not self.srv.wait_ok("/ready", timeout=20):
            out = self.srv.output()
            self.srv.cleanup()
            raise lxtest.StartError("storage server not ready\n" + out[-4000:])
        return self.srv

    def stop(self):
        """Graceful stop; raises AssertionError on a sanitizer report."""
        if self.srv is not None:
            srv, self.srv = self.srv, None
            srv.stop_checked()

    def restart(self):
        self.stop()
        return self.start()

    def close(self):
        if self._closed:
            return
        self._closed = True
        try:
            self.stop()
        finally:
            self.fake.close()
            if self._own_db and self.pg_db:
                pg_drop_db(self.pg_db)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- tokens and requests

    def token(self, uid="u1", email=None, admin=False, **claims):
        """A real RS256 ID token of uid (cached per arguments)."""
        if email is None:
            email = uid + "@example.com"
        over = {"sub": uid, "email": email, "user_id": uid}
        if admin:
            over["admin"] = True
        over.update(claims)
        key = json.dumps(over, sort_keys=True, default=str)
        tok = _token_cache.get(key)
        if tok is None:
            tok = lxkeys.token(payload=lxkeys.claims(**over))
            _token_cache[key] = tok
        return tok

    def request(self, method, path, uid="u1", body=None, headers=None, token=None):
        """(status, headers lower-cased, body bytes). uid None: no token."""
        h = {}
        tok = token if token is not None else (self.token(uid) if uid is not None else None)
        if tok is not None:
            h["Authorization"] = "Bearer " + tok
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        elif isinstance(body, str):
            body = body.encode("utf-8")
        h.update(headers or {})
        return self.srv.request(method, path, headers=h, body=body, timeout=60)

    def json(self, method, path, uid="u1", body=None):
        """(status, the parsed JSON body, or None when it is empty)."""
        status, _, data = self.request(method, path, uid=uid, body=body)
        return status, (lxtest.parse_json(data) if data else None)

    def upload(self, filename, data, uid="u1", name=None, mime=None, use_metadata=True,
               fields=None):
        """POST /api/documents/upload as the frontend does: a `file` part
        and, when name is given, a `metadata` JSON part (or a `name` part
        when use_metadata is false); `fields` are extra parts appended as
        multipart() takes them. (status, parsed or None)."""
        parts = [("file", filename, mime or "application/octet-stream", data)]
        if name is not None:
            if use_metadata:
                parts.append(("metadata", None, None, json.dumps({"name": name})))
            else:
                parts.append(("name", None, None, name))
        parts += list(fields or [])
        body, ctype = multipart(parts)
        status, _, out = self.request("POST", "/api/documents/upload", uid=uid, body=body,
                                      headers={"Content-Type": ctype})
        return status, (lxtest.parse_json(out) if out else None)
