#!/usr/bin/env python3
"""`lexiaid backup DEST` (plugins/storage/db/backup.c): a consistent copy of a
live SQLite database and its files, taken while clients upload, update
profiles and delete; restored into a fresh data directory, a new server
serves every document and profile that was there before the backup began.
Also: DEST not empty, usage, and the PostgreSQL refusal (whenever
LX_TEST_PG_URL names a server, whatever LX_TEST_STORAGE says)."""

import fcntl
import hashlib
import os
import re
import shutil
import sqlite3
import threading
import time
import unittest

import lxstorage
import lxtest
from lxstorage import BACKEND, StorageServer

USERS = ["bk1", "bk2", "bk3"]


def backup(s, dest, timeout=120):
    """Runs `lexiaid -c <the server's config> backup DEST`: (rc, out, err)."""
    return lxtest.run(["-c", s.srv.config_path, "backup", dest], timeout=timeout)


def doc_text(uid, i):
    return "Document %d of %s.\nThe quick brown fox %s-%d jumps over the lazy dog.\n" % (
        i, uid, uid, i)


class Load:
    """Client threads against a server until stop(): uploads of .txt
    documents, profile updates, and deletions of their own documents."""

    def __init__(self, s, n_threads=3):
        self.s = s
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.n_uploads = 0
        self.n_deletes = 0
        self.n_profiles = 0
        self.errors = []
        self.threads = [threading.Thread(target=self.run, args=(k,), daemon=True)
                        for k in range(n_threads)]
        for t in self.threads:
            t.start()

    def run(self, k):
        uid = USERS[k % len(USERS)]
        mine = []
        i = 0
        while not self.stopping.is_set():
            i += 1
            try:
                status, j = self.s.upload("load-%d-%d.txt" % (k, i),
                                          ("load %d %d\n" % (k, i)).encode() * 20, uid=uid,
                                          mime="text/plain")
                if status in (200, 201):
                    mine.append(j["document_id"])
                    with self.lock:
                        self.n_uploads += 1
                status, _ = self.s.json("PUT", "/api/users/profile", uid=uid,
                                        body={"preferences": {"ttsDelay": i}})
                if status == 200:
                    with self.lock:
                        self.n_profiles += 1
                if i % 3 == 0 and mine:
                    status, _, _ = self.s.request("DELETE", "/api/documents/" + mine.pop(0),
                                                  uid=uid)
                    if status == 204:
                        with self.lock:
                            self.n_deletes += 1
            except Exception as e:  # the run goes on; reported if nothing worked
                with self.lock:
                    self.errors.append(repr(e))

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(60)


@unittest.skipIf(BACKEND != "sqlite", "backup copies SQLite; PostgreSQL uses pg_dump")
class TestStorageBackupSqlite(lxtest.TestCase):

    def wait_processed(self, s, uid, doc_id, timeout=30):
        deadline = time.time() + timeout
        while True:
            status, j = s.json("GET", "/api/documents/" + doc_id, uid=uid)
            self.assertEqual(status, 200, j)
            if j.get("processing_status") in ("processed", "failed") or time.time() > deadline:
                return j
            time.sleep(0.1)

    def seed(self, s):
        """Documents and profiles of USERS, all acknowledged and processed:
        {uid: {"docs": {id: text}, "font": size}}."""
        want = {}
        for n, uid in enumerate(USERS):
            docs = {}
            for i in range(4):
                text = doc_text(uid, i)
                status, j = s.upload("seed-%d.txt" % i, text.encode(), uid=uid,
                                     name="Seed %s %d" % (uid, i), mime="text/plain")
                self.assertIn(status, (200, 201), j)
                docs[j["document_id"]] = text
            font = 12 + n
            status, j = s.json("PUT", "/api/users/profile", uid=uid,
                               body={"preferences": {"fontSize": font},
                                     "schoolContext": "school of " + uid})
            self.assertEqual(status, 200, j)
            want[uid] = {"docs": docs, "font": font}
        for uid, w in want.items():
            for doc_id in w["docs"]:
                j = self.wait_processed(s, uid, doc_id)
                self.assertEqual(j.get("processing_status"), "processed", j)
        return want

    def restore(self, dest):
        """A fresh data directory holding the backup, as the restore steps
        at the top of backup.c say."""
        data_dir = lxtest.tempdir()
        shutil.copy2(os.path.join(dest, "lexiaid.db"), os.path.join(data_dir, "lexiaid.db"))
        shutil.copytree(os.path.join(dest, "uploads"), os.path.join(data_dir, "uploads"))
        return data_dir

    def assert_backup_dir_consistent(self, dest):
        """DEST holds lexiaid.db (intact) and exactly one file per document
        row, each with the row's SHA-256; nothing else is left behind.
        Returns {id: sha256}."""
        self.assertEqual(sorted(os.listdir(dest)), ["lexiaid.db", "uploads"])
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(dest, "lexiaid.db"), uri=True)
        try:
            self.assertEqual(db.execute("PRAGMA integrity_check").fetchone()[0], "ok")
            rows = dict(db.execute("SELECT id, sha256 FROM documents").fetchall())
        finally:
            db.close()
        files = sorted(os.listdir(os.path.join(dest, "uploads")))
        self.assertEqual(files, sorted(rows))
        for doc_id, sha in rows.items():
            with open(os.path.join(dest, "uploads", doc_id), "rb") as f:
                self.assertEqual(hashlib.sha256(f.read()).hexdigest(), sha, doc_id)
        return rows

    def test_storage_backup_under_load_restores_every_document_and_profile(self):
        s = StorageServer(self, workers=2)
        want = self.seed(s)

        load = Load(s)
        try:
            time.sleep(0.5)  # the load is running when the backup starts
            dest = os.path.join(lxtest.tempdir(), "backup")
            rc, out, err = backup(s, dest)
            time.sleep(0.3)
        finally:
            load.stop()
        self.assertEqual(rc, 0, out + err)
        m = re.search(r"lexiaid backup: (\d+) documents, (\d+) bytes, [\d.]+ s", out)
        self.assertIsNotNone(m, out + err)
        self.assertGreater(load.n_uploads, 0, load.errors[:5])
        self.assertGreater(load.n_profiles, 0, load.errors[:5])

        rows = self.assert_backup_dir_consistent(dest)
        self.assertEqual(int(m.group(1)), len(rows))
        for w in want.values():
            for doc_id in w["docs"]:
                self.assertIn(doc_id, rows)

        # the live server is unharmed: its own start-up state and data
        status, docs = s.json("GET", "/api/documents", uid=USERS[0])
        self.assertEqual(status, 200, (docs, s.srv.output()[-3000:]))
        s.stop()

        r = StorageServer(self, workers=1, data_dir=self.restore(dest))
        for uid, w in want.items():
            status, listed = r.json("GET", "/api/documents", uid=uid)
            self.assertEqual(status, 200, listed)
            listed_ids = {d["id"] for d in listed}
            for doc_id, text in w["docs"].items():
                self.assertIn(doc_id, listed_ids)
                status, j = r.json("GET", "/api/documents/%s?include_content=true" % doc_id,
                                   uid=uid)
                self.assertEqual(status, 200, j)
                self.assertEqual(j.get("processing_status"), "processed", j)
                self.assertEqual(j.get("content"), text)
                status, _, body = r.request("GET", "/api/documents/%s/download" % doc_id, uid=uid)
                self.assertEqual(status, 200)
                self.assertEqual(body, text.encode())
            # every document of the copy, taken during the load, is whole
            for d in listed:
                status, _, body = r.request("GET", "/api/documents/%s/download" % d["id"],
                                            uid=uid)
                self.assertEqual(status, 200, d)
                self.assertEqual(hashlib.sha256(body).hexdigest(), rows[d["id"]], d)
            status, j = r.json("GET", "/api/users/profile", uid=uid)
            self.assertEqual(status, 200, j)
            self.assertEqual(j["data"]["preferences"]["fontSize"], w["font"], j)
            self.assertEqual(j["data"].get("schoolContext"), "school of " + uid, j)
        r.stop()

    def test_storage_backup_of_an_idle_server_twice_gives_the_same_rows(self):
        s = StorageServer(self)
        want = self.seed(s)
        dests = []
        for n in range(2):
            dest = os.path.join(lxtest.tempdir(), "b%d" % n)
            rc, out, err = backup(s, dest)
            self.assertEqual(rc, 0, out + err)
            dests.append(self.assert_backup_dir_consistent(dest))
        self.assertEqual(dests[0], dests[1])
        self.assertEqual(set(dests[0]), {d for w in want.values() for d in w["docs"]})
        # an existing empty directory is fine too
        empty = lxtest.tempdir()
        rc, out, err = backup(s, empty)
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(self.assert_backup_dir_consistent(empty), dests[0])

    def test_storage_backup_leaves_out_a_document_whose_file_is_gone(self):
        # As a document deleted after the snapshot: its row goes too.
        s = StorageServer(self)
        want = self.seed(s)
        uid = USERS[0]
        gone, kept = list(want[uid]["docs"])[:2]
        os.unlink(os.path.join(s.data_dir, "uploads", gone))
        dest = os.path.join(lxtest.tempdir(), "backup")
        rc, out, err = backup(s, dest)
        self.assertEqual(rc, 0, out + err)
        self.assertRegex(out, r"lexiaid backup: \d+ documents, .*\(1 documents left out: their "
                         r"file was gone")
        rows = self.assert_backup_dir_consistent(dest)
        self.assertNotIn(gone, rows)
        self.assertIn(kept, rows)
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(dest, "lexiaid.db"), uri=True)
        try:
            # with its text and passages (the other one keeps them)
            for table in ("doc_texts", "passages"):
                count = "SELECT count(*) FROM %s WHERE doc_id = ?" % table
                self.assertEqual(db.execute(count, (gone,)).fetchone()[0], 0, table)
                self.assertGreater(db.execute(count, (kept,)).fetchone()[0], 0, table)
        finally:
            db.close()

    def test_storage_backup_copies_an_upload_whose_rename_is_still_to_come(self):
        # Between the row's commit and the rename, the file is a .part in
        # uploads/tmp locked by its upload (files.h): the backup copies it.
        s = StorageServer(self)
        want = self.seed(s)
        uid = USERS[1]
        doc_id, text = list(want[uid]["docs"].items())[0]
        up = os.path.join(s.data_dir, "uploads")
        part = os.path.join(up, "tmp", doc_id + ".part")
        os.rename(os.path.join(up, doc_id), part)
        fd = os.open(part, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # the upload is in flight
            dest = os.path.join(lxtest.tempdir(), "backup")
            rc, out, err = backup(s, dest)
            self.assertEqual(rc, 0, out + err)
            self.assertTrue(os.path.exists(part), "an upload in flight keeps its .part")
            os.rename(part, os.path.join(up, doc_id))  # the upload finishes
        finally:
            os.close(fd)
        rows = self.assert_backup_dir_consistent(dest)
        self.assertIn(doc_id, rows)
        with open(os.path.join(dest, "uploads", doc_id), "rb") as f:
            self.assertEqual(f.read(), text.encode())

    def test_storage_backup_refuses_a_non_empty_destination(self):
        s = StorageServer(self)
        dest = lxtest.tempdir()
        with open(os.path.join(dest, "precious.txt"), "w") as f:
            f.write("keep me")
        rc, out, err = backup(s, dest)
        self.assertIn(rc, (1, 2), out + err)
        self.assertIn("lexiaid backup:", err)
        self.assertIn("not empty", err)
        self.assertEqual(os.listdir(dest), ["precious.txt"])
        with open(os.path.join(dest, "precious.txt")) as f:
            self.assertEqual(f.read(), "keep me")

    def test_storage_backup_without_a_destination_is_a_usage_error(self):
        s = StorageServer(self)
        rc, out, err = lxtest.run(["-c", s.srv.config_path, "backup"])
        self.assertEqual(rc, 2, out + err)
        self.assertIn("usage: lexiaid [-c FILE] backup DEST", err)
        rc, out, err = lxtest.run(["-c", s.srv.config_path, "backup", "a", "b"])
        self.assertEqual(rc, 2, out + err)

    def test_storage_backup_is_listed_by_help(self):
        s = StorageServer(self)
        rc, out, err = lxtest.run(["-c", s.srv.config_path, "-h"])
        self.assertEqual(rc, 0, out + err)
        self.assertIn("backup DEST", out)


@unittest.skipUnless(lxtest.HAVE_POSTGRES, "configured --without-postgres")
@lxtest.needs(lxstorage.PG_URL, "a PostgreSQL server (LX_TEST_PG_URL; scripts/test.sh starts one)")
class TestStorageBackupPostgres(lxtest.TestCase):

    def test_storage_backup_on_postgres_points_at_pg_dump(self):
        s = StorageServer(self, storage_cfg={"backend": "postgres"})
        dest = os.path.join(lxtest.tempdir(), "backup")
        rc, out, err = backup(s, dest)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("lexiaid backup: backup is for SQLite; for PostgreSQL use pg_dump", err)
        self.assertFalse(os.path.exists(dest))


if __name__ == "__main__":
    lxtest.main()
