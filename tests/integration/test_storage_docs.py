"""The document routes of the storage plugin over HTTP, against the real
binary with real RS256 tokens (lxstorage.py) and real sample files
(lxsamples.py): upload, list, get, download, delete; names; isolation
between users; malformed and oversized bodies; wrong types; unsafe file
names; PDF, DOCX and PNG becoming text; an upload storm on 2 workers;
documents surviving a restart.

Backend: LX_TEST_STORAGE=sqlite (default) or postgres (with LX_TEST_PG_URL).
"""

import os
import re
import sqlite3
import threading
import time
import urllib.parse
import uuid

import lxsamples
import lxstorage
import lxtest
from lxstorage import BACKEND, StorageServer, multipart

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ITEM_STR_KEYS = ("id", "name", "original_filename", "file_type", "mime_type", "created_at",
                 "updated_at", "processing_status", "status", "processing_error")
ITEM_INT_KEYS = ("size", "content_length", "page_count")


def disposition_names(value):
    """(ASCII filename, decoded filename*) of a Content-Disposition value."""
    m1 = re.search(r'filename="([^"]*)"', value)
    m2 = re.search(r"filename\*=UTF-8''([^;\s]*)", value)
    return (m1.group(1) if m1 else None,
            urllib.parse.unquote(m2.group(1), encoding="utf-8", errors="strict") if m2 else None)


class DocsCase(lxtest.TestCase):

    def assertItem(self, item):
        for k in ITEM_STR_KEYS:
            self.assertIsInstance(item.get(k), str, "%s must be a string in %r" % (k, item))
        for k in ITEM_INT_KEYS:
            self.assertIsInstance(item.get(k), int, "%s must be an integer in %r" % (k, item))
        self.assertRegex(item["id"], UUID_RE)

    def upload_ok(self, s, filename, data, **kw):
        status, doc = s.upload(filename, data, **kw)
        self.assertEqual(status, 200, doc)
        self.assertRegex(doc["document_id"], UUID_RE)
        self.assertEqual(doc["id"], doc["document_id"])
        return doc

    def download(self, s, doc_id, uid="u1"):
        return s.request("GET", "/api/documents/%s/download" % doc_id, uid=uid)

    def ids_of(self, s, uid="u1"):
        status, docs = s.json("GET", "/api/documents", uid=uid)
        self.assertEqual(status, 200, docs)
        self.assertIsInstance(docs, list, "GET /api/documents is a bare array")
        return [d["id"] for d in docs]


class TestDocuments(DocsCase):
    """Most tests share one server with 2 workers."""

    @classmethod
    def setUpClass(cls):
        cls.s = StorageServer(None, workers=2)

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    # -- the life of a document

    def test_docs_upload_list_get_download_delete(self):
        s = self.s
        data = b"Photosynthesis turns light into chemical energy.\nPlants do it.\n"
        doc = self.upload_ok(s, "bio notes.txt", data, uid="life", name="Biology")
        self.assertEqual(doc["name"], "Biology")
        self.assertEqual(doc["original_filename"], "bio notes.txt")
        self.assertEqual(doc["filename"], "bio notes.txt")
        self.assertEqual(doc["file_type"], "txt")
        self.assertEqual(doc["size"], len(data))
        self.assertEqual(doc["processing_status"], "processed", doc)
        self.assertIs(doc["dua_processed"], True)
        self.assertEqual(doc["dua_narrative_snippet"], data.decode())
        self.assertEqual(doc["processing_error"], "")
        self.assertEqual(doc["content_length"], len(data))
        self.assertEqual(doc["page_count"], 1)
        doc_id = doc["id"]

        self.assertEqual(self.ids_of(s, "life"), [doc_id])

        status, one = s.json("GET", "/api/documents/" + doc_id, uid="life")
        self.assertEqual(status, 200, one)
        self.assertItem(one)
        self.assertNotIn("content", one, "content only with include_content=true")
        status, one = s.json("GET", "/api/documents/%s?include_content=true" % doc_id, uid="life")
        self.assertEqual(status, 200, one)
        self.assertEqual(one["content"], data.decode())
        self.assertIs(one["content_is_json"], False)
        self.assertEqual(one["content_error"], "")

        status, hdrs, body = self.download(s, doc_id, uid="life")
        self.assertEqual(status, 200, body[:200])
        self.assertEqual(body, data)
        self.assertTrue(hdrs["content-type"].startswith("text/plain"), hdrs)
        self.assertEqual(hdrs.get("x-content-type-options"), "nosniff")
        self.assertIn("no-store", hdrs.get("cache-control", ""))
        self.assertEqual(disposition_names(hdrs["content-disposition"]),
                         ("bio notes.txt", "bio notes.txt"))

        status, hdrs, body = s.request("DELETE", "/api/documents/" + doc_id, uid="life")
        self.assertEqual(status, 204)
        self.assertEqual(body, b"")
        for path in ("/api/documents/" + doc_id, "/api/documents/%s/download" % doc_id):
            status, _, body = s.request("GET", path, uid="life")
            self.assertJsonError(status, body, 404, "NOT_FOUND")
        status, _, body = s.request("DELETE", "/api/documents/" + doc_id, uid="life")
        self.assertJsonError(status, body, 404, "NOT_FOUND")
        self.assertEqual(self.ids_of(s, "life"), [])
        if BACKEND == "sqlite":
            self.assertFalse(os.path.exists(os.path.join(s.data_dir, "uploads", doc_id)),
                             "the file goes with the row")

    def test_docs_large_file_downloads_whole_in_chunks(self):
        s = self.s
        line = b"The quick brown fox jumps over the lazy dog. 0123456789\n"
        data = line * ((3 * 256 * 1024 + 1234) // len(line))
        doc = self.upload_ok(s, "long.txt", data, uid="large")
        self.assertEqual(doc["size"], len(data))
        status, hdrs, body = self.download(s, doc["id"], uid="large")
        self.assertEqual(status, 200)
        self.assertEqual(len(body), len(data))
        self.assertEqual(body, data)

    def test_docs_upload_stays_when_the_client_goes_away(self):
        s = self.s
        body, ctype = multipart([("file", "gone.txt", "text/plain", b"the client left early")])
        head = ("POST /api/documents/upload HTTP/1.1\r\nHost: x\r\n"
                "Authorization: Bearer %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
                % (s.token("goner"), ctype, len(body))).encode()
        sock = s.srv.socket()
        sock.sendall(head + body)
        sock.close()  # before any answer
        found = None
        for _ in range(100):
            status, docs = s.json("GET", "/api/documents", uid="goner")
            if docs and docs[0]["processing_status"] == "processed":
                found = docs[0]
                break
            time.sleep(0.1)
        self.assertIsNotNone(found, "the committed upload is there and becomes text")
        status, _, data = self.download(s, found["id"], uid="goner")
        self.assertEqual((status, data), (200, b"the client left early"))

    def test_docs_list_is_newest_first(self):
        s = self.s
        a = self.upload_ok(s, "first.txt", b"one", uid="order")["id"]
        b = self.upload_ok(s, "second.txt", b"two", uid="order")["id"]
        self.assertEqual(self.ids_of(s, "order"), [b, a])

    # -- names

    def test_docs_name_from_metadata_from_name_field_or_file_name(self):
        s = self.s
        doc = self.upload_ok(s, "x.txt", b"text", uid="names", name="From metadata")
        self.assertEqual(doc["name"], "From metadata")
        doc = self.upload_ok(s, "y.txt", b"text", uid="names", name="From the field",
                             use_metadata=False)
        self.assertEqual(doc["name"], "From the field")
        doc = self.upload_ok(s, "Chapter 3.notes.md", b"# Title\n", uid="names")
        self.assertEqual(doc["name"], "Chapter 3.notes")
        self.assertEqual(doc["file_type"], "md")
        long_name = "\u00e9" * 150  # 300 bytes: cut to at most 200, on a character boundary
        doc = self.upload_ok(s, "z.txt", b"text", uid="names", name=long_name)
        self.assertLessEqual(len(doc["name"].encode()), 200)
        self.assertTrue(long_name.startswith(doc["name"]) and doc["name"])
        status, docs = s.json("GET", "/api/documents", uid="names")
        self.assertEqual(sorted(d["name"] for d in docs),
                         sorted(["From metadata", "From the field", "Chapter 3.notes",
                                 doc["name"]]))

    def test_docs_metadata_that_is_not_json_is_400(self):
        status, out = self.s.upload("x.txt", b"text", uid="names2",
                                    fields=[("metadata", None, None, "{not json")])
        self.assertEqual(status, 400, out)
        self.assertEqual(out["code"], "INVALID_METADATA")
        self.assertEqual(self.ids_of(self.s, "names2"), [])

    def test_docs_list_items_never_carry_null(self):
        s = self.s
        self.upload_ok(s, "a.txt", b"alpha", uid="nulls")
        self.upload_ok(s, "b.md", b"beta", uid="nulls", name="B")
        status, docs = s.json("GET", "/api/documents", uid="nulls")
        self.assertEqual(status, 200)
        self.assertEqual(len(docs), 2)
        for item in docs:
            self.assertItem(item)
            self.assertNotIn(None, item.values(), item)

    # -- users never see each other's documents

    def test_docs_two_users_never_see_each_other(self):
        s = self.s
        data = b"alice's private notes"
        a = self.upload_ok(s, "private.txt", data, uid="alice")["id"]
        b = self.upload_ok(s, "bob.txt", b"bob's", uid="bob")["id"]
        self.assertEqual(self.ids_of(s, "alice"), [a])
        self.assertEqual(self.ids_of(s, "bob"), [b])
        for method, path in (("GET", "/api/documents/" + a),
                             ("GET", "/api/documents/%s?include_content=true" % a),
                             ("GET", "/api/documents/%s/download" % a),
                             ("DELETE", "/api/documents/" + a)):
            status, _, body = s.request(method, path, uid="bob")
            j = self.assertJsonError(status, body, 404, "NOT_FOUND")
            self.assertEqual(j["error"], "Document not found or access denied")
            self.assertNotIn(b"alice", body)
        status, _, body = self.download(s, a, uid="alice")
        self.assertEqual((status, body), (200, data), "alice's document is still there")
        self.assertEqual(self.ids_of(s, "alice"), [a])

    def test_docs_no_token_is_401(self):
        s = self.s
        doc_id = str(uuid.uuid4())
        for method, path in (("GET", "/api/documents"), ("GET", "/api/documents/" + doc_id),
                             ("GET", "/api/documents/%s/download" % doc_id),
                             ("DELETE", "/api/documents/" + doc_id),
                             ("POST", "/api/documents/upload")):
            status, _, body = s.request(method, path, uid=None)
            self.assertEqual(status, 401, (method, path, body))
            self.assertIn("error", lxtest.parse_json(body))
        status, _, _ = s.request("GET", "/api/documents", token="not.a.token")
        self.assertEqual(status, 401)

    def test_docs_unknown_or_malformed_ids_are_404(self):
        s = self.s
        for bad in (str(uuid.uuid4()), "not-a-uuid", "12345", "x" * 300,
                    "x..y", "00000000-0000-0000-0000-00000000000g",
                    str(uuid.uuid4()).upper()):
            for method, path in (("GET", "/api/documents/" + bad),
                                 ("GET", "/api/documents/%s/download" % bad),
                                 ("DELETE", "/api/documents/" + bad)):
                status, _, body = s.request(method, path, uid="ids")
                self.assertJsonError(status, body, 404, "NOT_FOUND")

    # -- malformed bodies and wrong types

    def post_raw(self, body, ctype, uid="raw"):
        headers = {"Content-Type": ctype} if ctype else {}
        return self.s.request("POST", "/api/documents/upload", uid=uid, body=body,
                              headers=headers)

    def test_docs_malformed_multipart_is_400(self):
        head = (b'--bnd\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'
                b"Content-Type: text/plain\r\n\r\nhello")
        cases = [
            (head + b"\r\n", "multipart/form-data; boundary=bnd"),       # no closing boundary
            (head + b"\r\n--bnd--\r\n", "multipart/form-data"),          # no boundary parameter
            (head + b"\r\n--bnd--\r\n", "application/json"),             # not multipart
            (b"just bytes", "text/plain"),
            (head + b"\r\n--bnd--\r\n", None),                           # no Content-Type
            (b"--bnd\r\nContent-Type: text/plain\r\n\r\nx\r\n--bnd--\r\n",
             "multipart/form-data; boundary=bnd"),                       # no Content-Disposition
        ]
        for body, ctype in cases:
            status, _, out = self.post_raw(body, ctype)
            j = self.assertJsonError(status, out, 400, "INVALID_MULTIPART")
            self.assertTrue(j["error"], "a message says what is wrong")
        self.assertEqual(self.ids_of(self.s, "raw"), [])

    def test_docs_missing_file_part_or_file_name_is_400(self):
        body, ctype = multipart([("metadata", None, None, '{"name": "x"}')])
        status, _, out = self.post_raw(body, ctype)
        j = self.assertJsonError(status, out, 400, "NO_FILE")
        self.assertEqual(j["error"], "No file part")
        body, ctype = multipart([("file", "", "text/plain", b"data")])
        status, _, out = self.post_raw(body, ctype)
        j = self.assertJsonError(status, out, 400, "NO_FILE")
        self.assertEqual(j["error"], "No selected file")
        self.assertEqual(self.ids_of(self.s, "raw"), [])

    def test_docs_wrong_types_are_415(self):
        png = lxsamples.make_blank_png(20, 20) if lxsamples.have_pil() else \
            b"\x89PNG\r\n\x1a\n" + b"\0" * 64
        cases = [("picture.pdf", png),                       # PNG bytes named .pdf
                 ("setup.exe", b"MZ\x90\0" + b"\0" * 100),    # not an accepted type
                 ("notes.txt", b"\x7fELF\x02\x01\x01\0\0\0"),  # a binary named .txt
                 ("paper.docx", b"PK\x03\x04" + b"\0" * 60),   # a ZIP that is no DOCX
                 ("noext", b"hello"),
                 ("empty.txt", b"")]
        for name, data in cases:
            status, out = self.s.upload(name, data, uid="types")
            self.assertEqual(status, 415, (name, out))
            self.assertEqual(out["code"], "UNSUPPORTED_TYPE", out)
            self.assertTrue(out["error"])
        self.assertEqual(self.ids_of(self.s, "types"), [])

    # -- unsafe file names

    def test_docs_unicode_and_traversal_file_names_are_stored_safely(self):
        s = self.s
        names = ["../../evil.txt", "..\\..\\windows.txt", "/etc/passwd.txt",
                 "r\u00e9sum\u00e9 \u65e5\u672c\u8a9e.txt", 'quote"semi;colon.txt',
                 ".hidden.txt", "tab\tand\x01ctl.txt"]
        got = {}
        for n in names:
            if any(ord(c) < 0x20 for c in n):
                # Controls cannot go raw into a header: RFC 8187's filename*.
                enc = urllib.parse.quote(n, safe="")
                body = ('--bnd\r\nContent-Disposition: form-data; name="file"; '
                        "filename*=UTF-8''%s\r\n\r\n" % enc).encode()
                body += b"safe name test " + n.encode() + b"\r\n--bnd--\r\n"
                status, _, out = self.post_raw(body, "multipart/form-data; boundary=bnd",
                                               uid="unsafe")
                self.assertEqual(status, 200, out)
                doc = lxtest.parse_json(out)
            else:
                doc = self.upload_ok(s, n, b"safe name test " + n.encode(), uid="unsafe")
            got[n] = doc
            fn = doc["original_filename"]
            self.assertTrue(fn, n)
            for bad in ("/", "\\", "\0", "\t", "\x01", '"'):
                self.assertNotIn(bad, fn, (n, fn))
            self.assertFalse(fn.startswith("."), (n, fn))
            self.assertLessEqual(len(fn.encode()), 200)
            status, hdrs, body = self.download(s, doc["id"], uid="unsafe")
            self.assertEqual(status, 200)
            self.assertEqual(body, b"safe name test " + n.encode())
            cd = hdrs["content-disposition"]
            self.assertTrue(cd.startswith("attachment;"), cd)
            self.assertTrue(all(0x20 <= ord(c) < 0x7f for c in cd), "ASCII only: %r" % cd)
            ascii_name, utf8_name = disposition_names(cd)
            self.assertEqual(utf8_name, fn)
            self.assertTrue(ascii_name and '"' not in ascii_name and "\\" not in ascii_name)
        self.assertEqual(got["../../evil.txt"]["original_filename"], "evil.txt")
        self.assertEqual(got["r\u00e9sum\u00e9 \u65e5\u672c\u8a9e.txt"]["original_filename"],
                         "r\u00e9sum\u00e9 \u65e5\u672c\u8a9e.txt")
        # Nothing named by a client exists anywhere in or near the data dir.
        parent = os.path.dirname(os.path.abspath(s.data_dir))
        for root in (parent, os.path.dirname(parent)):
            self.assertFalse(os.path.exists(os.path.join(root, "evil.txt")))
        allowed = re.compile(r"^(lexiaid\.lock|lexiaid\.db(-wal|-shm|-journal)?"
                             r"|uploads/[0-9a-f-]{36}|uploads/tmp/[0-9a-f-]{36}\.part"
                             r"|uploads/tmp/reserve)$")
        for dirpath, _, files in os.walk(s.data_dir):
            for f in files:
                rel = os.path.relpath(os.path.join(dirpath, f), s.data_dir)
                self.assertRegex(rel, allowed, "only server-chosen names in the data dir")

    # -- documents become text

    def test_docs_sample_pdf_docx_png_become_text(self):
        s = self.s
        pdf = lxsamples.make_pdf([["Mitochondria make energy"], ["Ribosomes build proteins"]])
        doc = self.upload_ok(s, "cells.pdf", pdf, uid="samples")
        self.assertEqual(doc["file_type"], "pdf")
        self.assertEqual(doc["processing_status"], "processed", doc)
        self.assertEqual(doc["page_count"], 2)
        self.assertIn("Mitochondria", doc["dua_narrative_snippet"])
        status, one = s.json("GET", "/api/documents/%s?include_content=true" % doc["id"],
                             uid="samples")
        self.assertEqual(status, 200)
        for w in ("Mitochondria make energy", "Ribosomes build proteins"):
            self.assertIn(w, one["content"])
        self.assertEqual(one["content_length"], len(one["content"].encode()))
        status, _, body = self.download(s, doc["id"], uid="samples")
        self.assertEqual(body, pdf)

        docx = lxsamples.make_docx(["The water cycle moves water.", "Evaporation comes first."],
                                   table=[["Stage", "Place"], ["Condensation", "Clouds"]])
        doc = self.upload_ok(s, "water.docx", docx, uid="samples")
        self.assertEqual(doc["file_type"], "docx")
        self.assertEqual(doc["processing_status"], "processed", doc)
        status, one = s.json("GET", "/api/documents/%s?include_content=true" % doc["id"],
                             uid="samples")
        for w in ("The water cycle moves water.", "Evaporation comes first.", "Condensation",
                  "Clouds"):
            self.assertIn(w, one["content"])

        lxtest.require(self, lxsamples.have_pil(), "python3-pil (the PNG sample)")
        png = lxsamples.make_png(["READING HELPS LEARNING"])
        if not lxtest.HAVE_OCR:  # configure --disable-ocr: refused up front, saying why
            status, j = s.upload("scan.png", png, uid="samples")
            self.assertEqual(status, 415, j)
            self.assertEqual(j["code"], "UNSUPPORTED_TYPE", j)
            self.assertIn("built without OCR", j["error"])
            return
        doc = self.upload_ok(s, "scan.png", png, uid="samples")
        self.assertEqual(doc["file_type"], "png")
        self.assertEqual(doc["processing_status"], "processed", doc)
        status, one = s.json("GET", "/api/documents/%s?include_content=true" % doc["id"],
                             uid="samples")
        text = re.sub(r"\s+", " ", one["content"]).upper()
        for w in ("READING", "HELPS", "LEARNING"):
            self.assertIn(w, text)

    def test_docs_failed_extraction_keeps_the_reason(self):
        doc = self.upload_ok(self.s, "broken.pdf", lxsamples.make_broken_pdf(), uid="broken")
        self.assertEqual(doc["processing_status"], "failed", doc)
        self.assertTrue(doc["processing_error"])
        self.assertIs(doc["dua_processed"], False)
        self.assertEqual(doc["dua_narrative_snippet"], "")
        status, one = self.s.json("GET", "/api/documents/%s?include_content=true" % doc["id"],
                                  uid="broken")
        self.assertEqual(one["content"], "")
        self.assertEqual(one["content_error"], doc["processing_error"])
        status, _, body = self.download(self.s, doc["id"], uid="broken")
        self.assertEqual(body, lxsamples.make_broken_pdf(), "the bytes are kept all the same")


class TestPlainTextWithoutAChild(DocsCase):
    """txt and md files are read by the plugin itself (text/plain.h, the
    decoder lexiaid-extract uses too), without starting the extractor:
    here the extractor is /bin/false, which fails every file it is given."""

    @classmethod
    def setUpClass(cls):
        cls.s = StorageServer(None, storage_cfg={"extractor": "/bin/false"})

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def content(self, doc_id):
        status, one = self.s.json("GET", "/api/documents/%s?include_content=true" % doc_id,
                                  uid="plain")
        self.assertEqual(status, 200, one)
        return one["content"]

    def test_docs_txt_and_md_become_text_without_the_extractor(self):
        doc = self.upload_ok(self.s, "notes.txt",
                             "\ufeffcaf\u00e9 au lait\r\nsecond line  \r\n".encode(), uid="plain")
        self.assertEqual(doc["processing_status"], "processed", doc)
        self.assertEqual(doc["page_count"], 1)
        self.assertEqual(self.content(doc["id"]), "caf\u00e9 au lait\nsecond line\n")
        self.assertIn("au lait", doc["dua_narrative_snippet"])
        doc = self.upload_ok(self.s, "readme.md", b"# Title\n\nSome *Markdown*.\n", uid="plain")
        self.assertEqual(doc["processing_status"], "processed", doc)
        self.assertEqual(self.content(doc["id"]), "# Title\n\nSome *Markdown*.\n")

    def test_docs_other_types_still_go_to_the_extractor(self):
        doc = self.upload_ok(self.s, "cells.pdf", lxsamples.make_pdf([["Mitochondria"]]),
                             uid="plain")
        self.assertEqual(doc["processing_status"], "failed", doc)
        self.assertIn("exit status 1", doc["processing_error"])


class TestDocumentLimits(DocsCase):

    def test_docs_body_over_the_limits_is_413_json(self):
        s = StorageServer(self, storage_cfg={"max_upload": "4K"},
                          server={"upload_max_body": "16K"})
        status, out = s.upload("small.txt", b"a" * 3000, uid="lim")
        self.assertEqual(status, 200, out)
        # Over max_upload, within the route's body limit: the plugin says so.
        status, out = s.upload("big.txt", b"a" * 5000, uid="lim")
        self.assertEqual(status, 413, out)
        self.assertEqual(out["code"], "FILE_TOO_LARGE")
        # Over the route's body limit: the core refuses before the plugin.
        body, ctype = multipart([("file", "huge.txt", "text/plain", b"a" * 40000)])
        status, hdrs, raw = s.request("POST", "/api/documents/upload", uid="lim", body=body,
                                      headers={"Content-Type": ctype})
        self.assertEqual(status, 413, raw[:200])
        self.assertIn("error", lxtest.parse_json(raw))
        self.assertEqual(len(self.ids_of(s, "lim")), 1)

    def test_docs_upload_storm_on_two_workers(self):
        s = StorageServer(self, workers=2, storage_cfg={"extract_wait": "0"})
        results, errors = {}, []

        def client(t):
            uid = "storm%d" % t
            mine = []
            try:
                for i in range(10):
                    data = ("client %d upload %d " % (t, i)).encode() * (1 + 50 * i)
                    status, doc = s.upload("f%d.txt" % i, data, uid=uid)
                    if status != 200:
                        errors.append((uid, i, status, doc))
                        continue
                    mine.append((doc["id"], data))
            except Exception as ex:  # noqa: BLE001 (reported below)
                errors.append((uid, repr(ex)))
            results[uid] = mine

        threads = [threading.Thread(target=client, args=(t,)) for t in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        for uid, mine in results.items():
            self.assertEqual(len(mine), 10, uid)
            self.assertEqual(sorted(self.ids_of(s, uid)), sorted(i for i, _ in mine))
            for doc_id, data in mine:
                status, _, body = self.download(s, doc_id, uid=uid)
                self.assertEqual((status, body), (200, data))
        self.assertEqual(len(results), 8)

    def test_docs_survive_a_restart(self):
        s = StorageServer(self, workers=2)
        pdf = lxsamples.make_pdf([["Kept across restarts"]])
        a = self.upload_ok(s, "kept.pdf", pdf, uid="keep")
        b = self.upload_ok(s, "kept.txt", b"plain kept text", uid="keep", name="Plain")
        s.restart()
        self.assertEqual(sorted(self.ids_of(s, "keep")), sorted([a["id"], b["id"]]))
        for doc, data in ((a, pdf), (b, b"plain kept text")):
            status, _, body = self.download(s, doc["id"], uid="keep")
            self.assertEqual((status, body), (200, data))
        status, one = s.json("GET", "/api/documents/%s?include_content=true" % a["id"],
                             uid="keep")
        self.assertEqual(one["processing_status"], "processed")
        self.assertIn("Kept across restarts", one["content"])
        status, one = s.json("GET", "/api/documents/" + b["id"], uid="keep")
        self.assertEqual(one["name"], "Plain")


class TestStartup(DocsCase):
    """What init does in the master: config checks, migrations, the file check."""

    def storage_config(self, cfg):
        plugins = ["health", {"name": "auth", "file": lxstorage.lxkeys.auth_so(),
                              "config": {"project_id": "p1"}},
                   {"name": "storage", "file": lxstorage.storage_so(), "config": cfg}]
        return lxtest.config(routes=[("GET", "/health", "health.live")], plugins=plugins,
                             server={"data_dir": lxtest.tempdir()})

    def test_docs_config_errors_refuse_to_start(self):
        rc, out, err, path = lxtest.run_config(self.storage_config({"backend": "postgres"}))
        self.assertNotEqual(rc, 0)
        # (a build configured --without-postgres refuses the backend itself first)
        self.assertMentions(out + err,
                            "database_url" if lxtest.HAVE_POSTGRES else "--without-postgres")
        rc, out, err, path = lxtest.run_config(self.storage_config({"backend": "mysql"}))
        self.assertNotEqual(rc, 0)
        self.assertMentions(out + err, "backend", path + ":")
        rc, out, err, path = lxtest.run_config(self.storage_config({"max_uploads": "1M"}))
        self.assertNotEqual(rc, 0)
        self.assertMentions(out + err, "max_uploads", path + ":")
        rc, out, err, path = lxtest.run_config(self.storage_config({"connections": 0}))
        self.assertNotEqual(rc, 0)
        self.assertMentions(out + err, "connections", path + ":")
        secret = "host=/nowhere password=sup3rs3cret"
        rc, out, err, path = lxtest.run_config(self.storage_config(
            {"backend": "postgres", "database_url": secret}))
        self.assertNotEqual(rc, 0)
        self.assertNotIn("sup3rs3cret", out + err, "the database URL is never printed")

    def test_docs_newer_database_refuses_to_start(self):
        s = StorageServer(self)
        s.stop()
        if BACKEND == "postgres":
            lxstorage._psql("INSERT INTO schema_migrations (version, applied_at) "
                            "VALUES (99, 'x')", url=lxstorage.pg_url(s.pg_db))
        else:
            db = sqlite3.connect(os.path.join(s.data_dir, "lexiaid.db"))
            db.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (999, 'x')")
            db.commit()
            db.close()
        with self.assertRaises(lxtest.StartError) as ctx:
            s.start()
        self.assertMentions(str(ctx.exception), "newer than this lexiaid")

    def test_docs_unfinished_work_is_picked_up_after_a_restart(self):
        if BACKEND != "sqlite":
            self.skipTest("SQLite only (the test edits the database file)")
        s = StorageServer(self, workers=2)
        doc_id = self.upload_ok(s, "later.txt", b"text left behind by a dead worker",
                                uid="stale")["id"]
        s.stop()
        # As a worker killed in the middle of extraction leaves it, a moment
        # ago: with SQLite, anything unfinished from before the start counts.
        just_now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 1))
        db = sqlite3.connect(os.path.join(s.data_dir, "lexiaid.db"))
        db.execute("UPDATE documents SET status = 'processing', content_length = 0, "
                   "updated_at = ? WHERE id = ?", (just_now, doc_id))
        db.execute("DELETE FROM doc_texts WHERE doc_id = ?", (doc_id,))
        db.commit()
        db.close()
        s.start()
        one = None
        for _ in range(150):
            status, one = s.json("GET", "/api/documents/%s?include_content=true" % doc_id,
                                 uid="stale")
            if one["processing_status"] == "processed":
                break
            time.sleep(0.1)
        self.assertEqual(one["processing_status"], "processed", one)
        self.assertEqual(one["content"], "text left behind by a dead worker")

    def test_docs_start_up_check_reports_then_repairs(self):
        if BACKEND != "sqlite":
            self.skipTest("SQLite only: PostgreSQL keeps the bytes itself")
        s = StorageServer(self)
        gone = self.upload_ok(s, "gone.txt", b"its file will vanish", uid="chk")["id"]
        kept = self.upload_ok(s, "kept.txt", b"this one stays", uid="chk")["id"]
        s.stop()
        uploads = os.path.join(s.data_dir, "uploads")
        os.unlink(os.path.join(uploads, gone))
        orphan = os.path.join(uploads, str(uuid.uuid4()))
        with open(orphan, "wb") as f:
            f.write(b"no row")
        # Without repair: reported, nothing changed.
        s.start()
        line = s.srv.wait_log(lambda l: l.get("src") == "storage" and l.get("level") == "warn"
                              and "orphan" in l.get("msg", ""))
        self.assertIsNotNone(line, s.srv.output()[-2000:])
        self.assertMentions(line["msg"], "1 orphan", "1 document")
        self.assertTrue(os.path.exists(orphan))
        status, one = s.json("GET", "/api/documents/" + gone, uid="chk")
        self.assertEqual(one["processing_status"], "processed")
        s.stop()
        # With repair: the document without its file fails. (The orphan is
        # removed only once older than files.c's grace period, which a test
        # cannot fake: ctime.)
        s.storage_cfg["repair"] = True
        s.start()
        status, one = s.json("GET", "/api/documents/%s?include_content=true" % gone, uid="chk")
        self.assertEqual(one["processing_status"], "failed")
        self.assertEqual(one["processing_error"], "the file is missing")
        status, _, body = self.download(s, kept, uid="chk")
        self.assertEqual((status, body), (200, b"this one stays"))

    def test_docs_start_up_sweeps_assets_of_documents_gone(self):
        if BACKEND != "sqlite":
            self.skipTest("SQLite only: PostgreSQL deletes asset rows with their document")
        s = StorageServer(self)
        kept = self.upload_ok(s, "kept.txt", b"this one stays", uid="chk")["id"]
        s.stop()
        uploads = os.path.join(s.data_dir, "uploads")
        hour_ago = time.time() - 3600

        def plant(path, old=True):
            with open(path, "wb") as f:
                f.write(b"audio")
            if old:
                os.utime(path, (hour_ago, hour_ago))
            return path

        gone = str(uuid.uuid4())  # a crash between a deletion's row and its files
        orphans = [plant(os.path.join(uploads, gone + ".tts-audio.mp3")),
                   plant(os.path.join(uploads, gone + ".tts-timepoints.json")),
                   plant(os.path.join(uploads, "tmp", kept + ".tts-audio.mp3.tmp"))]
        stay = [plant(os.path.join(uploads, kept + ".tts-audio.mp3")),  # its document is there
                plant(os.path.join(uploads, str(uuid.uuid4()) + ".tts-audio.mp3"), old=False),
                plant(os.path.join(uploads, gone + ".tts-other.bin"))]  # not an asset of ours
        s.start()  # without repair: the assets are derived data, always swept
        line = s.srv.wait_log(lambda l: l.get("src") == "storage"
                              and "orphan asset files removed" in l.get("msg", ""))
        self.assertIsNotNone(line, s.srv.output()[-2000:])
        self.assertIn("3 orphan asset files removed", line["msg"])
        for p in orphans:
            self.assertFalse(os.path.exists(p), p)
        for p in stay:
            self.assertTrue(os.path.exists(p), p)
        status, _, body = self.download(s, kept, uid="chk")
        self.assertEqual((status, body), (200, b"this one stays"))


if __name__ == "__main__":
    lxtest.main()
