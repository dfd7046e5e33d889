#!/usr/bin/env python3
"""Several lexiaid replicas on ONE PostgreSQL database (issue 14), against
the real binary: two instances, each with two workers, share a database as
replicas behind a load balancer would.

- The same user's writes from both replicas (uploads, profile updates,
  deletions at once): every acknowledged one is there, seen alike by both.
- An upload on A is read, downloaded and deleted on B.
- A replica killed mid-extraction (its master and workers SIGKILLed with
  the extraction running): the other takes its documents over once their
  claims lapse; each document is extracted to the end exactly once after
  the kill and none stays "processing".
- pg_dump while both replicas write: the dump restores into a database a
  third replica serves, every document in it whole (its bytes and its
  text); `lexiaid backup` refuses PostgreSQL and names pg_dump.

"While an extraction runs" is an event (gated_extract.py, as in
test_storage_faults.py); deadlines are safety nets only.

PostgreSQL only (LX_TEST_STORAGE=postgres, as scripts/test.sh's PostgreSQL
pass runs it): SQLite is one file on one machine, not shared by replicas.
"""

import os
import shutil
import signal
import subprocess
import threading
import unittest

import lxstorage
import lxtest
from lxstorage import BACKEND, StorageServer
from test_storage_backup import Load
from test_storage_faults import GATED, Gates, gated_text, pg_bindir, wait_until

PENDING = ("uploaded", "processing")


@unittest.skipIf(BACKEND != "postgres", "replicas share a PostgreSQL database")
class TestReplicas(lxtest.TestCase):

    def setUp(self):
        super().setUp()
        self.db = lxstorage.pg_create_db()
        # Registered first, so it runs after the replicas have stopped.
        self.addCleanup(lxstorage.pg_drop_db, self.db)
        self.gates = Gates()

    def replica(self, db=None, **storage):
        cfg = {"extractor": GATED, "claim_lease": "2s", "retry_delay": "100ms",
               "retry_delay_max": "1s"}
        cfg.update(storage)
        return StorageServer(self, workers=2, storage_cfg=cfg, pg_db=db or self.db,
                             env=self.gates.env())

    def upload(self, s, name, data, uid="u1"):
        status, doc = s.upload(name, data, uid=uid, mime="text/plain")
        self.assertEqual(status, 200, doc)
        return doc["id"]

    def doc(self, s, doc_id, uid="u1"):
        status, one = s.json("GET", "/api/documents/%s?include_content=true" % doc_id, uid=uid)
        self.assertEqual(status, 200, one)
        return one

    def docs(self, s, uid):
        status, docs = s.json("GET", "/api/documents", uid=uid)
        self.assertEqual(status, 200, docs)
        return {d["id"]: d for d in docs}

    def runs(self, name):
        """The workers that ran the gated document `name`, in order."""
        try:
            with open(os.path.join(self.gates.dir, name + ".runs")) as f:
                return [int(x) for x in f.read().split()]
        except FileNotFoundError:
            return []

    # ------------------------------------------------------------------

    def test_replicas_same_users_writes_from_both(self):
        a, b = self.replica(extract_wait="20s"), self.replica(extract_wait="20s")
        loads = [Load(a, n_threads=2), Load(b, n_threads=2)]
        # Both replicas take writes until each has acknowledged a few.
        wait_until(lambda: all(x.n_uploads >= 6 and x.n_profiles >= 6 for x in loads), 120,
                   "uploads and profile updates on both replicas")
        for x in loads:
            x.stop()
            self.assertEqual(x.errors, [])
        n_up = sum(x.n_uploads for x in loads)
        n_del = sum(x.n_deletes for x in loads)
        # Both see the same documents: every acknowledged upload not deleted.
        seen_a, seen_b = {}, {}
        for uid in ("bk1", "bk2", "bk3"):
            seen_a.update(self.docs(a, uid))
            seen_b.update(self.docs(b, uid))
        self.assertEqual(sorted(seen_a), sorted(seen_b))
        self.assertEqual(len(seen_a), n_up - n_del)

        def settled():
            return all(d["processing_status"] not in PENDING
                       for uid in ("bk1", "bk2", "bk3") for d in self.docs(b, uid).values())
        wait_until(settled, 90, "every document to be processed")
        for uid in ("bk1", "bk2", "bk3"):
            for d in self.docs(a, uid).values():
                self.assertEqual(d["processing_status"], "processed", d)
            # The profile as the last write left it, read on either side.
            _, pa = a.json("GET", "/api/users/profile", uid=uid)
            _, pb = b.json("GET", "/api/users/profile", uid=uid)
            self.assertEqual(pa["data"]["preferences"], pb["data"]["preferences"])

    def test_replicas_upload_on_a_read_on_b(self):
        a, b = self.replica(extract_wait="20s"), self.replica(extract_wait="20s")
        text = b"Rivers carry water from the mountains to the sea.\n"
        doc_id = self.upload(a, "river.txt", text)
        one = self.doc(b, doc_id)
        self.assertEqual(one["processing_status"], "processed", one)
        self.assertIn("Rivers carry water", one["content"])
        status, _, data = b.request("GET", "/api/documents/%s/download" % doc_id)
        self.assertEqual((status, data), (200, text))
        # Another user sees nothing of it on either replica.
        for s in (a, b):
            status, _ = s.json("GET", "/api/documents/" + doc_id, uid="intruder")
            self.assertEqual(status, 404)
        status, _, _ = b.request("DELETE", "/api/documents/" + doc_id)
        self.assertEqual(status, 204)
        status, _ = a.json("GET", "/api/documents/" + doc_id)
        self.assertEqual(status, 404)

    def test_replicas_extraction_goes_on_when_a_replica_dies(self):
        a = self.replica(extract_wait="0")
        b = self.replica(extract_wait="0")
        names = ["r1", "r2", "r3"]
        ids = {n: self.upload(a, n + ".pdf", gated_text(n, "replica text " + n)) for n in names}
        # A runs them (its own uploads are its claims): how many at once
        # depends on which of A's workers took which upload (one user's
        # documents share a worker's slots fairly), so at least one ...
        wait_until(lambda: any(self.gates.started(n) for n in names), 60,
                   "one of %s to start on A" % names)
        a_pids = set(a.srv.group_pids())
        for n in names:
            self.gates.forget(n)
        # ... and dies with its extractions in flight: master, workers,
        # extractor children at once.
        os.killpg(a.srv.pid, signal.SIGKILL)
        a.srv.proc.wait(10)
        # B takes every one of them over once the claims lapse (one user's
        # documents, so each of B's workers runs one at a time: each is let
        # go as it starts).
        left = set(names)
        while left:
            n = wait_until(lambda: next((x for x in sorted(left)
                                         if (self.gates.started(x) or 0) not in a_pids | {0}),
                                        None), 60, "one of %s to start on B" % sorted(left))
            self.gates.go(n)
            left.discard(n)
        for n in names:
            one = wait_until(lambda: (lambda d: d if d["processing_status"] not in PENDING
                                      else None)(self.doc(b, ids[n])), 60, n + " to end")
            self.assertEqual(one["processing_status"], "processed", one)
            self.assertIn("replica text " + n, one["content"])
            # Exactly one run after the kill, and it was B's.
            after = [p for p in self.runs(n) if p not in a_pids]
            self.assertEqual(len(after), 1, (n, self.runs(n), a_pids))
        self.assertEqual([d["processing_status"] for d in self.docs(b, "u1").values()],
                         ["processed"] * len(names))

    def test_replicas_pg_dump_while_both_write(self):
        bindir = pg_bindir()
        lxtest.require(self, bindir is not None and os.path.exists(os.path.join(bindir, "pg_dump")),
                       "pg_dump (postgresql)")
        a, b = self.replica(extract_wait="0"), self.replica(extract_wait="0")
        # `lexiaid backup` is SQLite's; on PostgreSQL it says what to use.
        rc, _, err = lxtest.run(["-c", a.srv.config_path, "backup", lxtest.tempdir() + "/x"],
                                timeout=60)
        self.assertNotEqual(rc, 0)
        self.assertIn("pg_dump", err)
        loads = [Load(a, n_threads=2), Load(b, n_threads=2)]
        try:
            wait_until(lambda: all(x.n_uploads >= 3 for x in loads), 120, "writes on both")
            dump = os.path.join(lxtest.tempdir(), "lexiaid.sql")
            p = subprocess.run([os.path.join(bindir, "pg_dump"), "--no-owner", "-f", dump,
                                lxstorage.pg_url(self.db)], capture_output=True, text=True,
                               timeout=120)
            self.assertEqual(p.returncode, 0, p.stderr)
            wait_until(lambda: all(x.n_uploads >= 6 for x in loads), 120, "writes after the dump")
        finally:
            for x in loads:
                x.stop()
        for x in loads:
            self.assertEqual(x.errors, [])
        # The dump restores into a database of its own, which a third
        # replica serves: every document in it is whole.
        copy = lxstorage.pg_create_db()
        self.addCleanup(lxstorage.pg_drop_db, copy)
        p = subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", "-f", dump,
                            lxstorage.pg_url(copy)], capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        c = self.replica(db=copy, extract_wait="0")
        n_docs = 0
        for uid in ("bk1", "bk2", "bk3"):
            for doc_id, d in self.docs(c, uid).items():
                n_docs += 1
                status, _, data = c.request("GET", "/api/documents/%s/download" % doc_id,
                                            uid=uid)
                self.assertEqual(status, 200, d)
                self.assertEqual(len(data), d["size"])
                self.assertTrue(data.startswith(b"load "), data[:40])
                one = wait_until(lambda: (lambda x: x if x["processing_status"] not in PENDING
                                          else None)(self.doc(c, doc_id, uid)), 60,
                                 "document %s to end" % doc_id)
                self.assertEqual(one["processing_status"], "processed", one)
                self.assertIn("load ", one["content"])
        self.assertGreater(n_docs, 0)


if __name__ == "__main__":
    lxtest.main()
