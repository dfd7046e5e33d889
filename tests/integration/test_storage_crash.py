#!/usr/bin/env python3
"""Crash safety of the storage plugin on SQLite (files.h): workers killed
with SIGKILL again and again while clients upload, then the whole server
killed and started again on the same data directory. Nothing acknowledged
is lost: every upload answered 200/201 is listed and downloads the bytes
sent; the database passes PRAGMA integrity_check; uploads/ holds exactly
one file per document row (no orphans, nothing missing) and uploads/tmp
no .part file (the start-up check rolled forward or removed them)."""

import hashlib
import os
import random
import signal
import sqlite3
import threading
import time
import unittest

import lxtest
from lxstorage import BACKEND, StorageServer

N_CLIENTS = 4
N_KILLS = 15
KILL_EVERY_S = 0.3


class Uploaders:
    """Client threads uploading small .txt documents until stop(); keeps
    what the server acknowledged: {id: (uid, bytes)}."""

    def __init__(self, s, n):
        self.s = s
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.acked = {}
        self.n_failed = 0
        self.threads = [threading.Thread(target=self.run, args=(k,), daemon=True)
                        for k in range(n)]
        for t in self.threads:
            t.start()

    def run(self, k):
        uid = "crash%d" % (k % 2)
        i = 0
        while not self.stopping.is_set():
            i += 1
            data = ("client %d upload %d %s\n" % (k, i, "x" * (i % 50))).encode() * (1 + i % 7)
            try:
                status, j = self.s.upload("c%d-%d.txt" % (k, i), data, uid=uid,
                                          mime="text/plain")
            except Exception:  # killed mid-request: not acknowledged
                status, j = None, None
            with self.lock:
                if status in (200, 201) and j and j.get("document_id"):
                    self.acked[j["document_id"]] = (uid, data)
                else:
                    self.n_failed += 1
                    time.sleep(0.05)  # no worker right now: let the master restart one

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(90)


@unittest.skipIf(BACKEND != "sqlite", "the crash test is for the SQLite files (PostgreSQL "
                 "keeps the bytes in its own transactions)")
class TestStorageCrash(lxtest.TestCase):

    def test_storage_crash_kill_9_during_uploads_loses_nothing_acknowledged(self):
        s = StorageServer(self, workers=2)
        data_dir = s.data_dir
        rng = random.Random(4)

        ups = Uploaders(s, N_CLIENTS)
        n_killed = 0
        try:
            for _ in range(N_KILLS):
                time.sleep(KILL_EVERY_S)
                pids = s.srv.worker_pids()
                if pids:
                    try:
                        os.kill(rng.choice(pids), signal.SIGKILL)
                        n_killed += 1
                    except ProcessLookupError:
                        pass
            # the workers come back and uploads complete again...
            s.srv.wait_workers(2, timeout=10)
            time.sleep(1.5)
            # ...until the whole server dies at once, master and workers,
            # with uploads in flight
            s.srv.cleanup()
        finally:
            ups.stop()
        self.assertGreater(n_killed, N_KILLS // 2)
        self.assertGreater(len(ups.acked), 0, "no upload was acknowledged at all")

        # Started again on the same data directory: the start-up check runs.
        s.start()

        by_uid = {}
        for doc_id, (uid, _) in ups.acked.items():
            by_uid.setdefault(uid, set()).add(doc_id)
        for uid, ids in by_uid.items():
            status, listed = s.json("GET", "/api/documents", uid=uid)
            self.assertEqual(status, 200, listed)
            missing = ids - {d["id"] for d in listed}
            self.assertEqual(missing, set(), "acknowledged uploads lost")
        for doc_id, (uid, data) in ups.acked.items():
            status, _, body = s.request("GET", "/api/documents/%s/download" % doc_id, uid=uid)
            self.assertEqual(status, 200, doc_id)
            self.assertEqual(body, data, doc_id)
        s.stop()

        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(data_dir, "lexiaid.db"), uri=True)
        try:
            self.assertEqual(db.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
            rows = dict(db.execute("SELECT id, sha256 FROM documents").fetchall())
        finally:
            db.close()
        for doc_id in ups.acked:
            self.assertIn(doc_id, rows)
        uploads = os.path.join(data_dir, "uploads")
        files = sorted(n for n in os.listdir(uploads) if n != "tmp")
        self.assertEqual(files, sorted(rows), "uploads/ must hold one file per document row")
        for doc_id, sha in rows.items():
            with open(os.path.join(uploads, doc_id), "rb") as f:
                self.assertEqual(hashlib.sha256(f.read()).hexdigest(), sha, doc_id)
        parts = [n for n in os.listdir(os.path.join(uploads, "tmp")) if n.endswith(".part")]
        self.assertEqual(parts, [])


if __name__ == "__main__":
    lxtest.main()
