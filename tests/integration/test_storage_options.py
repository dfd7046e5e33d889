#!/usr/bin/env python3
"""The storage plugin's optional parts (configure --without-postgres,
--disable-ocr) as an operator meets them: a build without a part says so
clearly when it is asked for, and a build with it goes ahead. Each test
asserts what this build promises (tests/local.mk passes LX_HAVE_POSTGRES
and LX_HAVE_OCR from configure)."""

import struct
import zlib

import lxstorage
import lxtest
from lxstorage import StorageServer


def tiny_png():
    """A valid 1x1 white PNG, made without PIL."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)  # 1x1, 8-bit greyscale
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00\xff")) + chunk(b"IEND", b""))


class TestStorageOptions(lxtest.TestCase):

    def test_storage_postgres_config_matches_the_build(self):
        storage = {"backend": "postgres", "extractor": lxstorage.extractor(),
                   "database_url": "host=/nonexistent-lexiaid-pg dbname=lexiaid"}
        text = lxtest.config(routes=[lxtest.route("GET", "/health", "health.live")],
                             plugins=["health", {"name": "storage",
                                                 "file": lxstorage.storage_so(),
                                                 "config": storage}],
                             server={"data_dir": lxtest.tempdir()})
        rc, out, err, path = lxtest.run_config(text, timeout=60)
        self.assertNotEqual(rc, 0, "started on an unreachable database:\n" + out + err)
        if lxtest.HAVE_POSTGRES:
            # The backend is there: it tried the server and says it could not reach it.
            self.assertIn("nonexistent-lexiaid-pg", out + err)
            self.assertNotIn("--without-postgres", out + err)
        else:
            # A config error naming the file and the line of the storage config.
            line = next(i for i, t in enumerate(text.splitlines(), 1) if "postgres" in t)
            self.assertIn('%s:%d: storage: backend "postgres" is not in this build' % (path, line),
                          out + err)
            self.assertIn("--without-postgres", out + err)

    def test_storage_image_upload_matches_the_build(self):
        with StorageServer(self) as s:
            status, j = s.upload("dot.png", tiny_png())
            if lxtest.HAVE_OCR:
                self.assertEqual(status, 200, j)
                self.assertEqual(j["file_type"], "png", j)
            else:
                self.assertEqual(status, 415, j)
                self.assertEqual(j["code"], "UNSUPPORTED_TYPE", j)
                self.assertIn("built without OCR (configure --disable-ocr)", j["error"])
                status, docs = s.json("GET", "/api/documents")
                self.assertEqual((status, docs), (200, []), "nothing was stored")


if __name__ == "__main__":
    lxtest.main()
