#!/usr/bin/env python3
"""lexiaid-extract, the real program, on real documents made by lxsamples:
the right text comes out of PDF, DOCX, PNG, JPEG, txt and md; broken,
encrypted, oversized and hostile files are refused with one clear line on
stderr and exit 1; usage errors exit 2; nothing else is ever printed.

The program is $LEXIAID_EXTRACTOR (set by make check), else the one in the
build directory (LX_BUILDDIR).
"""

import os
import re
import subprocess
import sys
import unittest

import lxtest
import lxsamples

EXTRACTOR = os.environ.get("LEXIAID_EXTRACTOR") or os.path.join(
    lxtest.BUILDDIR, "plugins", "storage", "extract", "lexiaid-extract")

# The same program built without the sanitizers, which run it without its
# address-space limit: the memory tests need the limit for real.
PLAIN_EXTRACTOR = os.path.join(lxtest.BUILDDIR, "plugins", "storage", "extract",
                               "lexiaid-extract-plain")

HEADER_RE = re.compile(rb"\ALXEXTRACT 1 pages=(\d+)\n")


def words(text):
    """The lower-case words of a text (letters and digits)."""
    return set(re.findall(r"[a-z0-9]+", text.lower()))


class ExtractTestCase(unittest.TestCase):
    maxDiff = 4000

    def setUp(self):
        if not os.path.exists(EXTRACTOR):
            self.fail("missing %s (build plugins/storage/extract/lexiaid-extract first)"
                      % EXTRACTOR)

    def run_extract(self, file_type, data, args=(), timeout=60):
        """Runs the program; returns (exit code, stdout bytes, stderr text)."""
        argv = [EXTRACTOR] + list(args) + ([file_type] if file_type is not None else [])
        p = subprocess.run(argv, input=data, capture_output=True, timeout=timeout)
        err = p.stderr.decode("utf-8", "replace")
        rep = lxtest.SANITIZER_RE.search(err)
        if rep:
            self.fail("sanitizer report from lexiaid-extract:\n" + err[rep.start() - 200:])
        return p.returncode, p.stdout, err

    def extract(self, file_type, data, args=()):
        """A run that must succeed: returns (pages, text) and checks that
        stderr stayed empty (library chatter included)."""
        rc, out, err = self.run_extract(file_type, data, args)
        self.assertEqual(rc, 0, "exit %d, stderr: %r" % (rc, err))
        self.assertEqual(err, "", "stray stderr on success")
        m = HEADER_RE.match(out)
        self.assertIsNotNone(m, "no header line: %r" % out[:200])
        return int(m.group(1)), out[m.end():].decode("utf-8")

    def refuse(self, file_type, data, want_rc=1, args=()):
        """A run that must fail: returns its one line on stderr."""
        rc, out, err = self.run_extract(file_type, data, args)
        self.assertEqual(rc, want_rc, "exit %d, stdout %r, stderr %r" % (rc, out[:200], err))
        self.assertEqual(out, b"", "stdout must stay empty on failure")
        self.assertTrue(err.endswith("\n"), repr(err))
        self.assertEqual(err.count("\n"), 1, "not one line on stderr: %r" % err)
        return err.strip()


class TestText(ExtractTestCase):

    def test_txt_is_returned_as_is(self):
        text = "Line one.\nLigne deux: \u00e9t\u00e9 \u2713\n\n\u65e5\u672c\u8a9e\n"
        pages, got = self.extract("txt", text.encode("utf-8"))
        self.assertEqual(got, text)
        self.assertEqual(pages, 1)

    def test_txt_with_bom_loses_the_bom(self):
        pages, got = self.extract("txt", b"\xef\xbb\xbfHello, reader.\n")
        self.assertEqual(got, "Hello, reader.\n")

    def test_md_is_text(self):
        md = "# Title\n\n* one\n* two\n"
        self.assertEqual(self.extract("md", md.encode())[1], md)

    def test_empty_txt_is_empty_text(self):
        self.assertEqual(self.extract("txt", b""), (1, ""))

    def test_invalid_utf8_is_refused(self):
        for bad in (b"caf\xe9", b"\xc0\xaf overlong", b"\xed\xa0\x80 surrogate",
                    b"truncated \xe2\x82", b"\xf5\x80\x80\x80 too high"):
            with self.subTest(bad=bad):
                self.assertEqual(self.refuse("txt", bad), "the file is not valid UTF-8 text")

    def test_nul_byte_is_not_text(self):
        self.assertEqual(self.refuse("md", b"abc\0def"), "the file is not valid UTF-8 text")

    def test_input_over_64_mib_is_refused(self):
        msg = self.refuse("txt", b"a" * ((64 << 20) + 1))
        self.assertIn("larger than 64 MiB", msg)


class TestPdf(ExtractTestCase):

    def test_pdf_gives_the_text_of_both_pages(self):
        pdf = lxsamples.make_pdf([["Reading helps everyone learn.", "Second line here."],
                                  ["The second page speaks."]])
        pages, text = self.extract("pdf", pdf)
        self.assertEqual(pages, 2)
        self.assertIn("Reading helps everyone learn.", text)
        self.assertIn("Second line here.", text)
        self.assertIn("The second page speaks.", text)
        # pages in order, separated by a blank line
        first, _, second = text.partition("\n\n")
        self.assertIn("Reading helps", first)
        self.assertIn("second page", second)

    def test_pdf_text_with_parentheses_and_backslashes(self):
        pdf = lxsamples.make_pdf([["f(x) = a \\ b (note)"]])
        self.assertIn("f(x) = a \\ b (note)", self.extract("pdf", pdf)[1])

    def test_corrupt_pdf_is_refused_with_a_reason(self):
        msg = self.refuse("pdf", lxsamples.make_broken_pdf())
        self.assertTrue(msg.startswith("the PDF could not be read"), msg)

    def test_not_a_pdf_at_all_is_refused(self):
        msg = self.refuse("pdf", b"hello, I am plain text")
        self.assertTrue(msg.startswith("the PDF could not be read"), msg)

    def test_encrypted_pdf_is_refused_as_password_protected(self):
        self.assertEqual(self.refuse("pdf", lxsamples.make_encrypted_pdf()),
                         "the PDF is password-protected")


class TestDocx(ExtractTestCase):

    def test_docx_paragraphs_and_table_cells(self):
        docx = lxsamples.make_docx(
            ["The first paragraph.", "The second & last one <b>."],
            table=[["Name", "Score"], ["Ada", "97"], ["Linus", ""]])
        pages, text = self.extract("docx", docx)
        self.assertEqual(pages, 1)
        self.assertEqual(text, "The first paragraph.\n\nThe second & last one <b>.\n\n"
                               "Name\tScore\nAda\t97\nLinus\n")

    def test_docx_tab_and_break_inside_a_run(self):
        xml = lxsamples.docx_document_xml([]).replace(
            b"<w:body>",
            b"<w:body><w:p><w:r><w:t>left</w:t><w:tab/><w:t>right</w:t><w:br/>"
            b"<w:t>next line</w:t></w:r></w:p>")
        self.assertEqual(self.extract("docx", lxsamples.make_docx_xml(xml))[1],
                         "left\tright\nnext line\n")

    def test_docx_unicode_text(self):
        text = "Caf\u00e9 \u2014 na\u00efve \u65e5\u672c"
        self.assertEqual(self.extract("docx", lxsamples.make_docx([text]))[1], text + "\n")

    def test_zip_bomb_docx_is_refused(self):
        bomb = lxsamples.make_docx_bomb(100)
        self.assertLess(len(bomb), 1 << 20)  # the point of a bomb
        msg = self.refuse("docx", bomb)
        self.assertIn("too large once uncompressed", msg)

    def test_doctype_with_entities_is_refused(self):
        xml = ('<?xml version="1.0"?>\n'
               '<!DOCTYPE w:document [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>\n'
               '<w:document xmlns:w="%s"><w:body><w:p><w:r><w:t>&b;</w:t></w:r></w:p>'
               '</w:body></w:document>' % lxsamples._W_NS)
        msg = self.refuse("docx", lxsamples.make_docx_xml(xml))
        self.assertIn("DOCTYPE", msg)

    def test_external_entity_is_refused_and_nothing_is_read(self):
        xml = ('<?xml version="1.0"?>\n'
               '<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
               '<w:document xmlns:w="%s"><w:body><w:p><w:r><w:t>&x;</w:t></w:r></w:p>'
               '</w:body></w:document>' % lxsamples._W_NS)
        rc, out, err = self.run_extract("docx", lxsamples.make_docx_xml(xml))
        self.assertEqual(rc, 1, err)
        self.assertNotIn(b"root:", out)
        self.assertNotIn("root:", err)

    def test_not_a_zip_is_not_a_docx(self):
        self.assertIn("not a DOCX file", self.refuse("docx", b"PK\x03\x04 but no zip"))

    def test_zip_without_document_xml_is_not_a_docx(self):
        import io
        import zipfile
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("hello.txt", "hi")
        self.assertIn("no word/document.xml", self.refuse("docx", buf.getvalue()))

    def test_malformed_xml_is_refused(self):
        msg = self.refuse("docx", lxsamples.make_docx_xml(b"<w:document><w:body>"))
        self.assertIn("not well-formed", msg)


@unittest.skipUnless(lxtest.HAVE_OCR, "configured --disable-ocr: TestUsage checks the refusal")
class TestImages(ExtractTestCase):

    def setUp(self):
        super().setUp()
        lxtest.require(self, lxsamples.have_pil(),
                       "PIL (python3-pil), importable by %s" % sys.executable)

    def assertWordsFound(self, lines, text):
        want = words(" ".join(lines))
        missing = want - words(text)
        self.assertFalse(missing, "OCR missed %s in %r" % (sorted(missing), text))

    def test_png_is_read_by_ocr(self):
        lines = ["The quick brown fox", "jumps over the lazy dog"]
        pages, text = self.extract("png", lxsamples.make_png(lines))
        self.assertEqual(pages, 1)
        self.assertWordsFound(lines, text)

    def test_jpg_is_read_by_ocr(self):
        lines = ["Reading helps everyone", "learn new things daily"]
        pages, text = self.extract("jpg", lxsamples.make_jpg(lines))
        self.assertEqual(pages, 1)
        self.assertWordsFound(lines, text)

    def test_image_without_text_is_empty_text(self):
        self.assertEqual(self.extract("png", lxsamples.make_blank_png()), (1, ""))

    def test_garbage_image_is_refused(self):
        msg = self.refuse("png", b"\x89PNG\r\n\x1a\n this is not a png")
        self.assertTrue(msg.startswith("the image could not be read"), msg)


class TestMemoryLimit(ExtractTestCase):
    """A file that needs more memory than --max-mem allows is refused with
    "ran out of memory at N MiB" and exit 3, whichever way the library
    meets the limit: an error it returns (leptonica), or a crash on the
    NULL it was handed (seen with Tesseract; glib's g_malloc and C++'s
    operator new abort instead), never "crashed (signal 11)"."""

    def setUp(self):
        if not os.path.exists(PLAIN_EXTRACTOR):
            self.fail("missing %s (make builds it)" % PLAIN_EXTRACTOR)

    def run_plain(self, file_type, data, mib):
        p = subprocess.run([PLAIN_EXTRACTOR, "--max-mem", str(mib << 20), file_type],
                           input=data, capture_output=True, timeout=120)
        return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")

    def test_a_document_too_large_for_the_limit_runs_out_of_memory(self):
        # 40 MiB of text: its XML and its text both held at once
        rc, out, err = self.run_plain("docx", lxsamples.make_big_docx(40), 128)
        self.assertEqual((rc, out, err), (3, b"", "ran out of memory at 128 MiB\n"))

    @unittest.skipUnless(lxtest.HAVE_OCR, "configured --disable-ocr: no image decoder")
    def test_an_image_too_large_for_the_limit_runs_out_of_memory(self):
        # 6000 x 6000 RGB decodes to 144 MB: over a limit of 128 MiB
        rc, out, err = self.run_plain("png", lxsamples.make_big_png(6000, 6000), 128)
        self.assertEqual((rc, out, err), (3, b"", "ran out of memory at 128 MiB\n"))

    @unittest.skipUnless(lxtest.HAVE_OCR, "configured --disable-ocr: no image decoder")
    def test_running_out_of_memory_is_never_a_crash(self):
        # Where a library meets the limit moves with the limit: step it
        # across the range where OCR of this image needs more memory than
        # it may have. Each run works, or says it ran out of memory.
        png = lxsamples.make_big_png(2000, 2000)
        outcomes = []
        for mib in range(100, 260, 10):
            rc, out, err = self.run_plain("png", png, mib)
            if rc == 0:
                self.assertTrue(out.startswith(b"LXEXTRACT 1 pages=1\n"), out[:100])
                outcomes.append("ok")
                continue
            self.assertEqual((rc, out, err), (3, b"", "ran out of memory at %d MiB\n" % mib),
                             "at %d MiB" % mib)
            outcomes.append("oom")
        self.assertIn("oom", outcomes)
        self.assertIn("ok", outcomes)


class TestUsage(ExtractTestCase):

    def test_no_type_is_a_usage_error(self):
        self.assertIn("usage:", self.refuse(None, b"", want_rc=2))

    def test_unknown_type_is_a_usage_error(self):
        msg = self.refuse("exe", b"MZ", want_rc=2)
        self.assertIn("unknown file type exe", msg)

    def test_unknown_option_is_a_usage_error(self):
        self.assertIn("unknown option --fast", self.refuse("txt", b"", 2, ["--fast"]))

    def test_bad_limits_are_usage_errors(self):
        self.assertIn("--max-mem", self.refuse("txt", b"", 2, ["--max-mem", "lots"]))
        self.assertIn("--max-cpu", self.refuse("txt", b"", 2, ["--max-cpu", "0"]))

    def test_images_need_ocr_in_the_build(self):
        """With OCR (the default) an image is read; a build configured
        --disable-ocr refuses it with exit 3, saying so."""
        data = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
        if lxtest.HAVE_OCR:
            msg = self.refuse("png", data)  # read, and found not to be an image
            self.assertTrue(msg.startswith("the image could not be read"), msg)
        else:
            msg = self.refuse("png", data, want_rc=3)
            self.assertIn("configure --disable-ocr", msg)

    def test_limits_are_accepted(self):
        got = self.extract("txt", b"ok\n", ["--max-mem", str(512 << 20), "--max-cpu", "30"])
        self.assertEqual(got, (1, "ok\n"))


if __name__ == "__main__":
    if not os.path.exists(EXTRACTOR):
        sys.stderr.write("test_storage_extract: %s does not exist; build it first\n" % EXTRACTOR)
        sys.exit(1)
    unittest.main(verbosity=2)
