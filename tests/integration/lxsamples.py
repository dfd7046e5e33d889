"""lxsamples: real sample documents, built in memory, for the storage tests.

Every function returns the bytes of a complete file that the real parsers
(poppler, libzip + libxml2, leptonica + Tesseract) accept, or, for the
make_bad_* and make_*_bomb helpers, a file they must refuse:

  make_pdf(pages)               a PDF 1.4, one content stream per page
  make_encrypted_pdf(pages)     the same, encrypted with a user password
  make_broken_pdf()             a PDF whose xref and objects are garbage
  make_docx(paragraphs, table)  a minimal WordprocessingML document
  make_docx_xml(document_xml)   a DOCX around the given word/document.xml
  make_docx_bomb(mib)           a DOCX whose document.xml inflates to MiB of zeros
  make_png(lines), make_jpg(lines)  black text on white, for OCR
  make_text_bomb_pdf(mib)       a PDF whose one page shows MiB of text (deflated)
  make_big_png(width, height)   a blank RGB PNG of that size (tiny on disk)
  make_big_docx(mib)            a DOCX of about mib MiB of text (deflated)

make_png and make_jpg need PIL (python3-pil) and DejaVu Sans
(fonts-dejavu-core); everything else is stdlib only.
"""

import hashlib
import io
import os
import struct
import sys
import zipfile

FONT_PATH = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

# ---------------------------------------------------------------- PDF


def _pdf_text(s):
    """A PDF literal string (WinAnsi text: unmapped characters become '?')."""
    raw = s.encode("cp1252", "replace")
    out = bytearray(b"(")
    for b in raw:
        if b in b"\\()":
            out += b"\\" + bytes([b])
        elif b < 0x20 or b > 0x7e:
            out += b"\\%03o" % b
        else:
            out.append(b)
    out += b")"
    return bytes(out)


def _pdf_content(lines):
    """A page's content stream: 14 pt Helvetica, one line per entry."""
    ops = [b"BT", b"/F1 14 Tf", b"18 TL", b"72 740 Td"]
    for i, line in enumerate(lines):
        if i:
            ops.append(b"T*")
        ops.append(_pdf_text(line) + b" Tj")
    ops.append(b"ET")
    return b"\n".join(ops) + b"\n"


def _pdf_assemble(objects, trailer_extra=b""):
    """A PDF file from objects (bytes bodies, object 1 is the catalog),
    with exact xref offsets."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for num, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % num + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n" % (len(objects) + 1)
    out += b"0000000000 65535 f \n"
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += (b"trailer\n<< /Size %d /Root 1 0 R " % (len(objects) + 1)) + trailer_extra + b">>\n"
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def _pdf_objects(pages, crypt=None):
    """Catalog, page tree, font, then per page: page and content stream.
    crypt(objnum, data) encrypts a stream's data (or None)."""
    n = len(pages)
    first_page = 4
    kids = b" ".join(b"%d 0 R" % (first_page + 2 * i) for i in range(n))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % n,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for i, lines in enumerate(pages):
        page_num = first_page + 2 * i
        content_num = page_num + 1
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                       b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>"
                       % content_num)
        data = _pdf_content(lines)
        if crypt is not None:
            data = crypt(content_num, data)
        objects.append(b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream")
    return objects


def make_pdf(pages):
    """A valid PDF 1.4: pages is a list of pages, each a list of text lines."""
    if not pages:
        raise ValueError("a PDF needs at least one page")
    return _pdf_assemble(_pdf_objects(pages))


def make_text_bomb_pdf(mib=64):
    """A valid PDF whose one page's content stream, deflated to a few
    hundred KiB, inflates to `mib` MiB of text-showing operators: a
    parser keeps every glyph, so it needs far more memory than the file
    is large."""
    import zlib
    # tiny words, each line in a place of its own inside the page: a text
    # extractor keeps every one
    words = b"(" + b"ab " * 300 + b") Tj\n"
    comp = zlib.compressobj(9)
    parts = [comp.compress(b"BT\n/F1 0.05 Tf\n")]
    n_lines = (mib << 20) // (len(words) + 32)
    for i in range(n_lines):
        parts.append(comp.compress(b"1 0 0 1 %d %d.%02d Tm " % (10 + i % 500, 10 + (i // 500) % 700,
                                                               i % 97) + words))
    parts.append(comp.compress(b"ET\n"))
    parts.append(comp.flush())
    data = b"".join(parts)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream",
    ]
    return _pdf_assemble(objects)


def _rc4(key, data):
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    out = bytearray()
    i = j = 0
    for b in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(b ^ s[(s[i] + s[j]) % 256])
    return bytes(out)


_PDF_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


def _pdf_pad(password):
    return (password.encode("latin-1") + _PDF_PAD)[:32]


def make_encrypted_pdf(pages=(("Secret page",),), user_password="open sesame",
                       owner_password="owner"):
    """A PDF encrypted with the standard security handler (RC4, 40-bit, R2)
    under a non-empty user password: it cannot be opened without it."""
    file_id = hashlib.md5(b"lexiaid sample").digest()
    perms = -4  # every permission; bits 1-2 must be 0
    # Algorithm 3.3: the owner entry
    okey = hashlib.md5(_pdf_pad(owner_password)).digest()[:5]
    o_entry = _rc4(okey, _pdf_pad(user_password))
    # Algorithm 3.2: the file key; 3.4: the user entry (revision 2)
    key = hashlib.md5(_pdf_pad(user_password) + o_entry + struct.pack("<i", perms)
                      + file_id).digest()[:5]
    u_entry = _rc4(key, _PDF_PAD)

    def crypt(objnum, data):
        k = hashlib.md5(key + struct.pack("<I", objnum)[:3] + b"\x00\x00").digest()[:10]
        return _rc4(k, data)

    objects = _pdf_objects([list(p) for p in pages], crypt)
    objects.append(b"<< /Filter /Standard /V 1 /R 2 /O <" + o_entry.hex().encode()
                   + b"> /U <" + u_entry.hex().encode() + b"> /P %d >>" % perms)
    enc_num = len(objects)
    trailer = (b"/Encrypt %d 0 R /ID [<" % enc_num + file_id.hex().encode() + b"> <"
               + file_id.hex().encode() + b">] ")
    return _pdf_assemble(objects, trailer)


def make_broken_pdf():
    """Starts like a PDF; everything after the header is garbage."""
    return (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 9 0 R\n"
            + bytes((i * 37 + 11) % 256 for i in range(2000))
            + b"\nxref\n0 3\nnot an xref table\ntrailer\n<< /Root 7 0 R >>\n"
            b"startxref\n999999\n%%EOF\n")


# ---------------------------------------------------------------- DOCX

_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.wordprocessingml.document.main+xml"/>'
    '</Types>')

_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="word/document.xml"/>'
    '</Relationships>')

_DOC_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '</Relationships>')


def _xml_escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _docx_paragraph(text):
    # Word keeps spaces at the ends of a run only with xml:space="preserve"
    return ('<w:p><w:pPr><w:tabs><w:tab w:val="left" w:pos="720"/></w:tabs></w:pPr>'
            '<w:r><w:t xml:space="preserve">%s</w:t></w:r></w:p>' % _xml_escape(text))


def docx_document_xml(paragraphs, table=None):
    """word/document.xml: the paragraphs, then the table (rows of cell texts)."""
    body = [_docx_paragraph(p) for p in paragraphs]
    if table:
        rows = []
        for row in table:
            cells = "".join('<w:tc><w:tcPr><w:tcW w:w="2000" w:type="dxa"/></w:tcPr>%s</w:tc>'
                            % _docx_paragraph(c) for c in row)
            rows.append("<w:tr>%s</w:tr>" % cells)
        body.append("<w:tbl><w:tblPr/>%s</w:tbl>" % "".join(rows))
        body.append("<w:p/>")  # Word ends a body after a table with a paragraph
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<w:document xmlns:w="%s"><w:body>%s<w:sectPr/></w:body></w:document>'
            % (_W_NS, "".join(body))).encode("utf-8")


def make_docx_xml(document_xml):
    """A DOCX package around the given word/document.xml (bytes or str)."""
    if isinstance(document_xml, str):
        document_xml = document_xml.encode("utf-8")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("word/document.xml", document_xml)
        z.writestr("word/_rels/document.xml.rels", _DOC_RELS)
    return buf.getvalue()


def make_docx(paragraphs, table=None):
    """A DOCX of paragraphs (list of str) and an optional table (list of
    rows, each a list of cell strings)."""
    return make_docx_xml(docx_document_xml(paragraphs, table))


def make_docx_bomb(mib=100):
    """A DOCX whose word/document.xml is `mib` MiB of zero bytes, deflated
    (about a thousandth of that on disk)."""
    buf = io.BytesIO()
    chunk = b"\0" * (1 << 20)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES)
        z.writestr("_rels/.rels", _RELS)
        with z.open("word/document.xml", "w") as f:
            for _ in range(mib):
                f.write(chunk)
    return buf.getvalue()


# ---------------------------------------------------------------- images

def make_big_docx(mib=40):
    """A valid DOCX of about `mib` MiB of plain text in paragraphs (a few
    hundred KiB deflated): its text needs that much memory and more."""
    par = "<w:p><w:r><w:t>" + "lorem ipsum dolor sit amet " * 40 + "</w:t></w:r></w:p>"
    return make_docx_xml(docx_document_xml_raw(par * ((mib << 20) // len(par))))


def docx_document_xml_raw(body):
    """word/document.xml around `body`, WordprocessingML already."""
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            "<w:body>" + body + "</w:body></w:document>")


def have_pil():
    """True when PIL can be imported. python3-pil is installed for Debian's
    python3; a python3 of the same version elsewhere (pyenv, a venv) can use
    it from there."""
    try:
        import PIL.Image  # noqa: F401
        return True
    except ImportError:
        pass
    dist = "/usr/lib/python3/dist-packages"
    if os.path.isdir(os.path.join(dist, "PIL")) and dist not in sys.path:
        sys.path.append(dist)
        try:
            import PIL.Image  # noqa: F401,F811
            return True
        except ImportError:
            sys.path.remove(dist)
    return False


def _image(lines, size=40, margin=80):
    if not have_pil():
        raise RuntimeError("PIL is missing: install python3-pil")
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(FONT_PATH, size)
    line_h = int(size * 1.6)
    widths = [font.getbbox(line)[2] for line in lines] or [0]
    w = max(widths) + 2 * margin
    h = line_h * max(len(lines), 1) + 2 * margin
    img = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((margin, margin + i * line_h), line, fill=0, font=font)
    return img


def make_png(lines):
    """A PNG of the text lines: black DejaVu Sans on white, wide margins."""
    out = io.BytesIO()
    _image(lines).save(out, "PNG")
    return out.getvalue()


def make_jpg(lines):
    """A JPEG of the text lines (quality 95)."""
    out = io.BytesIO()
    _image(lines).convert("RGB").save(out, "JPEG", quality=95)
    return out.getvalue()


def make_big_png(width=6000, height=6000, gray=False):
    """A white PNG of width x height pixels (RGB, or 8-bit gray), stdlib
    only: a few hundred KiB that decode to width * height * 4 bytes (gray:
    width * height)."""
    import zlib
    row = b"\0" + b"\xff" * ((1 if gray else 3) * width)
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))

    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0 if gray else 2, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def make_blank_png(width=400, height=300):
    """A white PNG with no text at all."""
    if not have_pil():
        raise RuntimeError("PIL is missing: install python3-pil")
    from PIL import Image

    out = io.BytesIO()
    Image.new("L", (width, height), 255).save(out, "PNG")
    return out.getvalue()
