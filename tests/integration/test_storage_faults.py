#!/usr/bin/env python3
"""Storage under faults, against the real binary: every acknowledged upload
ends processed once the fault is gone.

- A worker killed while it extracts: another takes the document over once
  its claim lapses; a document that kills its worker each time fails
  after extract_attempts, with the reason.
- Workers killed again and again during uploads: nothing stays pending.
- A committed document whose file is still a .part: rolled forward when
  read (left alone while its upload holds it), never failed for it.
- One user's slow documents do not hold up another user's, and
  extraction never holds the threads database jobs need.
- PostgreSQL killed while uploads are in flight, then started again.
- A full disk (a real tmpfs): 507 for uploads, /ready says why, deletes
  work, and after space is freed uploads work and nothing stays stuck.
- An extractor out of memory says so.

"While an extraction runs" is an event: the extractor is gated_extract.py,
which holds a document (a PDF, see gated_text) that starts "GATE <name>" until the test
lets it go. Deadlines are safety nets only.

Backend: LX_TEST_STORAGE=sqlite (default) or postgres; the PostgreSQL
outage test starts a cluster of its own (scripts/pg-test.sh), and the
disk-full test mounts a tmpfs (root): under CI=true both FAIL when they
cannot, elsewhere they skip (lxtest.require).
"""

import fcntl
import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest

import lxsamples
import lxstorage
import lxtest
from lxstorage import BACKEND, StorageServer

HERE = os.path.dirname(os.path.abspath(__file__))
GATED = os.path.join(HERE, "gated_extract.py")
PLAIN_EXTRACTOR = os.path.join(lxtest.BUILDDIR, "plugins", "storage", "extract",
                               "lexiaid-extract-plain")
PENDING = ("uploaded", "processing")


def wait_until(pred, timeout, what):
    """pred()'s first true value, polled; fails with `what` at the deadline
    (a safety net, never the point of a test)."""
    deadline = time.time() + timeout
    while True:
        got = pred()
        if got:
            return got
        if time.time() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(0.05)


class Gates:
    """The directory gated_extract.py talks to."""

    def __init__(self):
        self.dir = lxtest.tempdir()

    def env(self):
        return {"LX_GATE_DIR": self.dir, "LX_REAL_EXTRACTOR": lxstorage.extractor()}

    def started(self, name):
        """The pid of the worker extracting it, or None."""
        try:
            with open(os.path.join(self.dir, name + ".started")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def wait_started(self, name, timeout=60):
        return wait_until(lambda: self.started(name), timeout, "%s to start" % name)

    def forget(self, name):
        try:
            os.unlink(os.path.join(self.dir, name + ".started"))
        except FileNotFoundError:
            pass

    def go(self, name):
        with open(os.path.join(self.dir, name + ".go"), "w"):
            pass


def gated_text(name, text="some text to read"):
    """A PDF of `text` held by gated_extract.py under `name` (upload it as
    .pdf): txt and md files are read without the child, so a held
    extraction is a PDF's. The gate line stays within the first 1024
    bytes, where a PDF's header may start."""
    return ("GATE %s\n" % name).encode() + lxsamples.make_pdf([[text]])


class FaultsCase(lxtest.TestCase):

    def server(self, workers=1, storage=None, server=None, env=None, gates=None, **kw):
        cfg = {"extract_wait": "0", "claim_lease": "5s", "retry_delay": "100ms",
               "retry_delay_max": "1s"}
        e = dict(env or {})
        if gates is not None:
            cfg["extractor"] = GATED
            e.update(gates.env())
        cfg.update(storage or {})
        return StorageServer(self, workers=workers, storage_cfg=cfg, server=server, env=e, **kw)

    def upload(self, s, name, data, uid="u1"):
        status, doc = s.upload(name, data, uid=uid, mime="text/plain")
        self.assertEqual(status, 200, doc)
        return doc["id"]

    def doc(self, s, doc_id, uid="u1", content=False):
        status, one = s.json("GET", "/api/documents/%s%s" % (
            doc_id, "?include_content=true" if content else ""), uid=uid)
        self.assertEqual(status, 200, one)
        return one

    def status(self, s, doc_id, uid="u1"):
        return self.doc(s, doc_id, uid)["processing_status"]

    def wait_final(self, s, doc_id, uid="u1", timeout=60):
        """The document once its status is final."""
        return wait_until(lambda: (lambda d: d if d["processing_status"] not in PENDING else None)(
            self.doc(s, doc_id, uid, content=True)), timeout, "document %s to end" % doc_id)

    def assert_all_processed(self, s, uids, timeout=90):
        """Every document of these users ends processed."""
        def done():
            left = []
            for uid in uids:
                status, docs = s.json("GET", "/api/documents", uid=uid)
                if status != 200:
                    return None
                left += [(d["id"], d["processing_status"], d["processing_error"])
                         for d in docs if d["processing_status"] != "processed"]
            if any(st not in PENDING for _, st, _ in left):
                raise AssertionError("documents failed: %r" % left)
            return not left
        wait_until(done, timeout, "every document of %r to be processed" % (uids,))


class TestTakeover(FaultsCase):
    """Item 9: documents a dead worker held are taken over, once."""

    def test_faults_worker_killed_mid_extraction_is_taken_over(self):
        gates = Gates()
        s = self.server(workers=2, gates=gates)
        doc_id = self.upload(s, "k.pdf", gated_text("k1", "taken over"))
        pid = gates.wait_started("k1")
        gates.forget("k1")
        os.kill(pid, signal.SIGKILL)
        # Its claim lapses; a worker claims it and starts it again.
        gates.wait_started("k1")
        gates.go("k1")
        one = self.wait_final(s, doc_id)
        self.assertEqual(one["processing_status"], "processed", one)
        self.assertIn("taken over", one["content"])

    def test_faults_reload_mid_extraction_hands_the_document_on(self):
        gates = Gates()
        s = self.server(gates=gates, storage={"claim_lease": "1h"})
        doc_id = self.upload(s, "r.pdf", gated_text("r1", "handed on"))
        old = gates.wait_started("r1")
        gates.forget("r1")
        # The old worker stops: it kills its extraction and gives the
        # document back at once (no lease to wait for: it is an hour).
        s.srv.signal(signal.SIGHUP)
        new = gates.wait_started("r1")
        self.assertNotEqual(new, old)
        gates.go("r1")
        one = self.wait_final(s, doc_id)
        self.assertEqual(one["processing_status"], "processed", one)
        self.assertIn("handed on", one["content"])

    def test_faults_poison_document_fails_after_its_attempts(self):
        gates = Gates()
        s = self.server(workers=2, gates=gates, storage={"extract_attempts": 2})
        doc_id = self.upload(s, "p.pdf", gated_text("p1"))
        for _ in range(2):  # its worker dies each time it extracts it
            pid = gates.wait_started("p1")
            gates.forget("p1")
            os.kill(pid, signal.SIGKILL)
        one = self.wait_final(s, doc_id)
        self.assertEqual(one["processing_status"], "failed", one)
        self.assertIn("cut off 2 times", one["processing_error"])
        self.assertIsNone(gates.started("p1"), "not tried a third time")

    def test_faults_uploads_during_worker_kills_all_end_processed(self):
        s = self.server(workers=2)
        stop = threading.Event()
        acked = []

        def client(k):
            i = 0
            while not stop.is_set():
                i += 1
                data = ("client %d upload %d\n" % (k, i)).encode() * (1 + i % 5)
                try:
                    status, doc = s.upload("c%d-%d.txt" % (k, i), data, uid="kill%d" % k,
                                           mime="text/plain")
                except Exception:  # killed mid-request: not acknowledged
                    status, doc = None, None
                if status == 200:
                    acked.append(doc["id"])
                else:
                    time.sleep(0.05)

        threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(3)]
        for t in threads:
            t.start()
        try:
            for n in range(12):
                wait_until(lambda: len(acked) > 3 * n, 60, "uploads to go on")
                pids = s.srv.worker_pids()
                if pids:
                    try:
                        os.kill(pids[n % len(pids)], signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            s.srv.wait_workers(2)
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        self.assertGreater(len(acked), 30)
        # Acknowledged or not, every document that was committed ends
        # processed while the server runs: no restart needed.
        self.assert_all_processed(s, ["kill0", "kill1", "kill2"])


@unittest.skipIf(BACKEND != "sqlite", "SQLite only: PostgreSQL keeps the bytes itself")
class TestCommittedPart(FaultsCase):
    """Item 10: a committed document whose file is still its .part (its
    upload died between the commit and the rename)."""

    def to_part(self, s, doc_id):
        uploads = os.path.join(s.data_dir, "uploads")
        part = os.path.join(uploads, "tmp", doc_id + ".part")
        os.rename(os.path.join(uploads, doc_id), part)
        return part

    def sql(self, s, statement, *args):
        db = sqlite3.connect(os.path.join(s.data_dir, "lexiaid.db"), timeout=30)
        try:
            db.execute(statement, args)
            db.commit()
        finally:
            db.close()

    def test_faults_committed_part_is_rolled_forward_on_download(self):
        s = self.server()
        doc_id = self.upload(s, "a.txt", b"bytes that were never renamed")
        self.wait_final(s, doc_id)  # its extraction read the file: nobody else will
        part = self.to_part(s, doc_id)
        status, _, body = s.request("GET", "/api/documents/%s/download" % doc_id)
        self.assertEqual((status, body), (200, b"bytes that were never renamed"))
        self.assertTrue(os.path.exists(os.path.join(s.data_dir, "uploads", doc_id)))
        self.assertFalse(os.path.exists(part))

    def test_faults_committed_part_in_flight_is_read_where_it_is(self):
        s = self.server()
        doc_id = self.upload(s, "b.txt", b"an upload still renaming")
        self.wait_final(s, doc_id)
        part = self.to_part(s, doc_id)
        with open(part, "rb") as f:
            fcntl.flock(f, fcntl.LOCK_EX)  # as its upload holds it
            status, _, body = s.request("GET", "/api/documents/%s/download" % doc_id)
            self.assertEqual((status, body), (200, b"an upload still renaming"))
            self.assertTrue(os.path.exists(part), "an upload's .part is left to it")

    def test_faults_pending_document_with_its_file_as_part_is_processed(self):
        s = self.server()
        doc_id = self.upload(s, "c.txt", b"the text of a document left pending")
        self.wait_final(s, doc_id)
        # As a worker killed between commit and rename leaves it.
        self.to_part(s, doc_id)
        self.sql(s, "UPDATE documents SET status = 'uploaded', claimed_by = '', "
                    "lease_until = '' WHERE id = ?", doc_id)
        one = self.wait_final(s, doc_id)
        self.assertEqual(one["processing_status"], "processed", one)
        self.assertEqual(one["content"], "the text of a document left pending")

    def test_faults_failed_for_missing_file_recovers_when_it_is_back(self):
        s = self.server()
        doc_id = self.upload(s, "d.txt", b"failed once for nothing")
        self.wait_final(s, doc_id)
        self.to_part(s, doc_id)
        self.sql(s, "UPDATE documents SET status = 'failed', error = 'the file is missing' "
                    "WHERE id = ?", doc_id)
        status, _, body = s.request("GET", "/api/documents/%s/download" % doc_id)
        self.assertEqual((status, body), (200, b"failed once for nothing"))
        one = self.wait_final(s, doc_id)
        self.assertEqual(one["processing_status"], "processed", one)


class TestFairness(FaultsCase):
    """Item 11: extraction is fair across users and has threads of its own."""

    def test_faults_one_users_slow_documents_do_not_starve_another(self):
        gates = Gates()
        s = self.server(gates=gates, storage={"extract_concurrency": 2})
        slow = [self.upload(s, "a%d.pdf" % i, gated_text("a%d" % i), uid="alice")
                for i in range(1, 5)]
        gates.wait_started("a1")
        # The second slot waits for a user with nothing running: bob's text
        # goes through while alice's first is still being extracted.
        quick = self.upload(s, "b.txt", b"bob's short text", uid="bob")
        one = self.wait_final(s, quick, uid="bob")
        self.assertEqual(one["processing_status"], "processed", one)
        self.assertEqual(self.status(s, slow[0], uid="alice"), "processing")
        self.assertIsNone(gates.started("a2"), "alice took the slot kept for others")
        for i in range(1, 5):
            gates.go("a%d" % i)
        self.assert_all_processed(s, ["alice", "bob"])

    def test_faults_extraction_never_holds_the_database_threads(self):
        gates = Gates()
        # As many extractions at once as the core has offload threads.
        s = self.server(gates=gates, storage={"extract_concurrency": 3},
                        server={"offload_threads": 3, "request_timeout": "10s"})
        users = ["alice", "bob", "carol"]
        for u in users:
            self.upload(s, u + ".pdf", gated_text(u), uid=u)
        for u in users:
            gates.wait_started(u)
        # Every extraction runs: database jobs still get a thread.
        status, docs = s.json("GET", "/api/documents", uid="dave")
        self.assertEqual((status, docs), (200, []))
        self.upload(s, "d.txt", b"still answered", uid="dave")
        for u in users:
            gates.go(u)
        self.assert_all_processed(s, users + ["dave"])


def pg_bindir():
    """Where PostgreSQL's server programs are, or None."""
    cand = []
    try:
        cand.append(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True,
                                   timeout=10).stdout.strip())
    except OSError:
        pass
    cand += ["/usr/lib/postgresql/%d/bin" % v for v in range(20, 12, -1)]
    for d in cand:
        if d and os.path.exists(os.path.join(d, "initdb")):
            return d
    return None


class OwnPostgres(FaultsCase):
    """A PostgreSQL cluster of the test's own (scripts/pg-test.sh): the
    shared one serves other tests meanwhile."""

    def setUp(self):
        super().setUp()
        bindir = pg_bindir()
        lxtest.require(self, bindir is not None and shutil.which("psql") is not None,
                       "PostgreSQL's server and psql (postgresql)")
        self.pg_env = dict(os.environ, LX_PG_BINDIR=bindir)
        self.pg_dir = tempfile.mkdtemp(prefix="lxpg", dir="/tmp")
        self.addCleanup(shutil.rmtree, self.pg_dir, True)
        self.addCleanup(self.pg, "stop")
        self.url = self.pg("start").strip()
        # pg-test.sh's clusters trade durability for speed; this one must
        # keep what it acknowledged through a kill (fsync only matters
        # when the machine dies, not the server).
        lxstorage._psql("ALTER SYSTEM SET synchronous_commit = on", url=self.url)
        lxstorage._psql("SELECT pg_reload_conf()", url=self.url)

    def pg(self, cmd):
        p = subprocess.run([os.path.join(lxtest.SRCDIR, "scripts", "pg-test.sh"), cmd,
                            self.pg_dir], capture_output=True, text=True, env=self.pg_env,
                           timeout=120)
        if p.returncode != 0:
            raise AssertionError("pg-test.sh %s: %s" % (cmd, p.stderr))
        return p.stdout

    def pg_server(self, dbname, **kw):
        return self.server(pg_db=dbname, storage=dict(
            {"backend": "postgres", "database_url": self.url + " dbname=" + dbname},
            **kw.pop("storage", {})), **kw)


@unittest.skipUnless(lxtest.HAVE_POSTGRES, "configured --without-postgres")
class TestDatabaseOutage(OwnPostgres):
    """Item 9: PostgreSQL killed while uploads are in flight."""

    def test_faults_database_killed_mid_write_every_acknowledged_upload_ends_processed(self):
        lxstorage._psql('CREATE DATABASE "outage"', url=self.url)
        s = self.pg_server("outage", workers=2)
        stop = threading.Event()
        acked, refused = [], []

        def client(k):
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    status, doc = s.upload("o%d-%d.txt" % (k, i), b"written during an outage %d"
                                           % i, uid="out%d" % k, mime="text/plain")
                except Exception as ex:  # noqa: BLE001
                    status, doc = None, repr(ex)
                if status == 200:
                    acked.append((k, doc["id"]))
                else:
                    refused.append(status)
                    time.sleep(0.05)

        threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(3)]
        for t in threads:
            t.start()
        try:
            wait_until(lambda: len(acked) >= 20, 60, "uploads before the outage")
            # The database dies mid-write (no shutdown checkpoint), and
            # uploads go on failing for a while...
            subprocess.run([os.path.join(self.pg_env["LX_PG_BINDIR"], "pg_ctl"), "-D",
                            os.path.join(self.pg_dir, "data"), "-m", "immediate", "stop"],
                           capture_output=True, timeout=60,
                           user="postgres" if os.getuid() == 0 else None)
            n = len(refused)
            wait_until(lambda: len(refused) >= n + 10, 60, "uploads refused in the outage")
            # ...until it is back.
            self.pg("start")
            n = len(acked)
            wait_until(lambda: len(acked) >= n + 20, 90, "uploads after the outage")
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        self.assert_all_processed(s, ["out0", "out1", "out2"])
        for k, doc_id in acked:
            self.assertEqual(self.status(s, doc_id, uid="out%d" % k), "processed")


def mount_tmpfs(test, mib, options=""):
    """A tmpfs of mib MiB, unmounted at the test's end (mount needs root)."""
    mnt = tempfile.mkdtemp(prefix="lxfull", dir="/tmp")
    os.chmod(mnt, 0o755)
    test.addCleanup(os.rmdir, mnt)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm%s" % (mib, options), "lxfull",
                        mnt], capture_output=True, text=True)
    lxtest.require(test, p.returncode == 0,
                   "a tmpfs mounted as the data directory (root): %s" % p.stderr.strip())
    test.addCleanup(subprocess.run, ["umount", "-l", mnt], capture_output=True)
    return mnt


class FullDisk:
    """Filling a file system up."""

    def fill(self):
        """Fills the file system up; returns the filler's path."""
        path = os.path.join(self.mnt, "filler")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for size in (1 << 20, 65536, 4096, 512, 1):
                try:
                    while True:
                        os.write(fd, b"\0" * size)
                except OSError:
                    pass
        finally:
            os.close(fd)
        return path

    def ready(self, s):
        status, _, body = s.request("GET", "/ready", uid=None)
        return status, lxtest.parse_json(body)["plugins"]["storage"]


class TestDiskFull(FullDisk, FaultsCase):
    """Item 12: the data directory on a real, small file system."""

    def setUp(self):
        super().setUp()
        if BACKEND != "sqlite":
            self.skipTest("SQLite only: PostgreSQL's disk is its own (TestPostgresDiskFull)")
        self.mnt = mount_tmpfs(self, 24, ",mode=0755")

    def test_faults_disk_full_507_ready_says_why_deletes_work_then_recovers(self):
        gates = Gates()
        s = self.server(gates=gates, data_dir=self.mnt, storage={"disk_reserve": "1M"})
        kept = [self.upload(s, "k%d.txt" % i, ("document %d " % i).encode() * 2000)
                for i in range(3)]
        for doc_id in kept:
            self.assertEqual(self.wait_final(s, doc_id)["processing_status"], "processed")
        held = self.upload(s, "held.pdf", gated_text("held", "its text came after the disk "
                                                               "was full"))
        gates.wait_started("held")
        wait_until(lambda: os.path.exists(os.path.join(self.mnt, "uploads", "tmp", "reserve")),
                   30, "the disk reserve")

        filler = self.fill()
        status, item = self.ready(s)
        self.assertEqual(status, 503)
        self.assertFalse(item["ok"])
        self.assertRegex(item["detail"], r"^disk full on %s: \d+ bytes free$" % self.mnt)
        status, out = s.upload("more.txt", b"x" * 200000, mime="text/plain")
        self.assertEqual(status, 507, out)
        self.assertEqual(out["code"], "INSUFFICIENT_STORAGE")
        gates.go("held")  # its text cannot be stored now: it waits, retried

        # Deleting frees space, on a full disk too: SQLite needs room in
        # its log for it, which the reserve gives back.
        status, _, body = s.request("DELETE", "/api/documents/" + kept[0])
        self.assertEqual(status, 204, body[:300])
        self.assertIsNotNone(s.srv.wait_log(lambda l: "freed for a deletion" in l.get("msg", "")),
                             "the deletion needed the reserve")
        self.assertFalse(os.path.exists(os.path.join(self.mnt, "uploads", kept[0])))
        status, docs = s.json("GET", "/api/documents")
        self.assertNotIn(kept[0], [d["id"] for d in docs])

        os.unlink(filler)
        wait_until(lambda: self.ready(s)[0] == 200, 30, "/ready once there is room")
        again = self.upload(s, "again.txt", b"uploads work again")
        self.assertEqual(self.wait_final(s, again)["processing_status"], "processed")
        one = self.wait_final(s, held)
        self.assertEqual(one["processing_status"], "processed", one)
        self.assertIn("after the disk was full", one["content"])
        self.assert_all_processed(s, ["u1"])
        wait_until(lambda: os.path.exists(os.path.join(self.mnt, "uploads", "tmp", "reserve")),
                   30, "the disk reserve made again")


    def test_faults_without_the_reserve_a_full_disk_refuses_deletions_too(self):
        # What the reserve is for: with none, SQLite has no room to log a
        # deletion once the disk is full (507, not 503).
        s = self.server(data_dir=self.mnt, storage={"disk_reserve": "0"})
        doc_id = self.upload(s, "k.txt", b"a document to delete" * 1000)
        self.assertEqual(self.wait_final(s, doc_id)["processing_status"], "processed")
        s.restart()  # its log checkpointed away: a deletion must grow it
        filler = self.fill()
        status, _, body = s.request("DELETE", "/api/documents/" + doc_id)
        self.assertEqual(status, 507, body[:300])
        self.assertEqual(lxtest.parse_json(body)["code"], "INSUFFICIENT_STORAGE")
        os.unlink(filler)
        status, _, body = s.request("DELETE", "/api/documents/" + doc_id)
        self.assertEqual(status, 204, body[:300])


@unittest.skipUnless(lxtest.HAVE_POSTGRES, "configured --without-postgres")
class TestPostgresDiskFull(FullDisk, OwnPostgres):
    """Item 12 on PostgreSQL: the database's tables in a tablespace on a
    small tmpfs (its write-ahead log stays on the cluster's own disk, as a
    full disk under the tables alone answers SQLSTATE 53100, disk_full)."""

    def test_faults_postgres_disk_full_507_ready_says_why_deletes_work(self):
        import pwd
        lxtest.require(self, os.getuid() == 0, "root, for a tablespace on a tmpfs")
        pg = pwd.getpwnam("postgres")
        self.mnt = mount_tmpfs(self, 16, ",mode=0700,uid=%d,gid=%d" % (pg.pw_uid, pg.pw_gid))
        lxstorage._psql("CREATE TABLESPACE small LOCATION '%s'" % self.mnt, url=self.url)
        lxstorage._psql('CREATE DATABASE "full" TABLESPACE small', url=self.url)
        self.addCleanup(lxstorage._psql, "DROP TABLESPACE IF EXISTS small", self.url)
        self.addCleanup(lxstorage._psql, 'DROP DATABASE IF EXISTS "full" WITH (FORCE)', self.url)
        gates = Gates()
        s = self.pg_server("full", gates=gates)
        kept = [self.upload(s, "k%d.txt" % i, ("document %d " % i).encode() * 2000)
                for i in range(3)]
        held = self.upload(s, "held.pdf", gated_text("held", "stored after all"))
        gates.wait_started("held")

        filler = self.fill()
        status, out = s.upload("more.txt", b"y" * 300000, mime="text/plain")
        self.assertEqual(status, 507, out)
        self.assertEqual(out["code"], "INSUFFICIENT_STORAGE")
        status, item = self.ready(s)
        self.assertEqual(status, 503)
        self.assertRegex(item["detail"], r"^postgres: disk full")
        gates.go("held")  # its text waits for room, retried
        status, _, body = s.request("DELETE", "/api/documents/" + kept[0])
        self.assertEqual(status, 204, body[:300])

        os.unlink(filler)
        again = self.upload(s, "again.txt", b"uploads work again")
        self.assertEqual(self.wait_final(s, again)["processing_status"], "processed")
        self.assertEqual(self.ready(s)[0], 200)
        one = self.wait_final(s, held)
        self.assertEqual(one["processing_status"], "processed", one)
        self.assert_all_processed(s, ["u1"])


class TestOutOfMemory(FaultsCase):
    """Item 12: the extractor out of memory says so in the document."""

    def test_faults_extractor_out_of_memory_is_the_documents_reason(self):
        lxtest.require(self, os.path.exists(PLAIN_EXTRACTOR), PLAIN_EXTRACTOR + " (make builds it)")
        s = self.server(storage={"extractor": PLAIN_EXTRACTOR, "extract_memory": "128M"})
        status, doc = s.upload("huge.docx", lxsamples.make_big_docx(40))
        self.assertEqual(status, 200, doc)
        one = self.wait_final(s, doc["id"])
        self.assertEqual(one["processing_status"], "failed", one)
        self.assertEqual(one["processing_error"], "ran out of memory at 128 MiB")


if __name__ == "__main__":
    lxtest.main()
