/*
 * What an uploaded file is, from its name and its bytes together, and the
 * file names the storage plugin keeps. See sniff.h for the contracts.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* memmem */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zip.h>

#include <lexiaid/plugin.h>
#include <lexiaid/utf8.h>

#include "errf.h"
#include "sniff.h"

static const char storage_sniff_accepted[] = "use pdf, docx, txt, md, png or jpg";

/* Whether the ZIP in data[0..len) holds the two entries every DOCX has.
 * libzip reads the central directory from the buffer in place (no copy);
 * any error it reports only means "not a DOCX". */
static int storage_sniff_is_docx(const void *data, size_t len)
{
    zip_error_t zerr;
    zip_source_t *src;
    zip_t *za;
    int ok;

    zip_error_init(&zerr);
    src = zip_source_buffer_create(data, len, 0, &zerr);
    if (src == NULL) {
        zip_error_fini(&zerr);
        return 0;
    }
    za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
    zip_error_fini(&zerr);
    if (za == NULL) {
        zip_source_free(src);
        return 0;
    }
    ok = zip_name_locate(za, "word/document.xml", 0) >= 0 &&
         zip_name_locate(za, "[Content_Types].xml", 0) >= 0;
    zip_discard(za); /* read-only: frees the archive and its source */
    return ok;
}

static const struct {
    const char *ext;
    storage_ftype type;
} storage_sniff_types[] = {
    {"pdf", {"pdf", "application/pdf"}},
    {"docx", {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}},
    {"txt", {"txt", "text/plain; charset=utf-8"}},
    {"md", {"md", "text/markdown; charset=utf-8"}},
    {"png", {"png", "image/png"}},
    {"jpg", {"jpg", "image/jpeg"}},
    {"jpeg", {"jpg", "image/jpeg"}},
};

/* The extension of the last path component of name, lower-cased into buf
 * (at most bufsize - 1 bytes); 0 when there is none or it does not fit. */
static int storage_sniff_ext(const char *name, char *buf, size_t bufsize)
{
    const char *base = name, *dot = NULL, *p;
    size_t n;

    for (p = name; *p != '\0'; p++) {
        if (*p == '/' || *p == '\\')
            base = p + 1;
    }
    for (p = base; *p != '\0'; p++)
        if (*p == '.')
            dot = p;
    if (dot == NULL || dot[1] == '\0')
        return 0;
    n = strlen(dot + 1);
    if (n >= bufsize)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = dot[1 + i];

        buf[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    buf[n] = '\0';
    return 1;
}

/* Whether an extension may be echoed in a message: short ASCII letters and
 * digits only (the name is the client's and goes back into a reply). */
static int storage_sniff_ext_printable(const char *ext)
{
    for (const char *p = ext; *p != '\0'; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
            return 0;
    return 1;
}

int storage_sniff(const char *filename, const void *data, size_t len, storage_ftype *out, char *err,
                  size_t errlen)
{
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    const unsigned char *b = data;
    const storage_ftype *t = NULL;
    char ext[12];
    int ok = 0;

    if (filename == NULL || !storage_sniff_ext(filename, ext, sizeof(ext))) {
        storage_errf(err, errlen, "the file name has no accepted extension; %s",
                     storage_sniff_accepted);
        return LX_EINVAL;
    }
    for (size_t i = 0; i < sizeof(storage_sniff_types) / sizeof(storage_sniff_types[0]); i++) {
        if (strcmp(ext, storage_sniff_types[i].ext) == 0) {
            t = &storage_sniff_types[i].type;
            break;
        }
    }
    if (t == NULL) {
        if (storage_sniff_ext_printable(ext))
            storage_errf(err, errlen, "type .%s is not accepted; %s", ext, storage_sniff_accepted);
        else
            storage_errf(err, errlen, "this type of file is not accepted; %s",
                         storage_sniff_accepted);
        return LX_EINVAL;
    }
    if (len == 0 || data == NULL) {
        storage_errf(err, errlen, "the file is empty");
        return LX_EINVAL;
    }

    if (strcmp(t->file_type, "pdf") == 0) {
        /* Readers accept the header anywhere in the first 1024 bytes. */
        size_t n = len < 1024 ? len : 1024;

        ok = n >= 5 && memmem(b, n, "%PDF-", 5) != NULL;
        if (!ok)
            storage_errf(err, errlen, "the file is not a PDF");
    } else if (strcmp(t->file_type, "png") == 0) {
        ok = len >= sizeof(png_sig) && memcmp(b, png_sig, sizeof(png_sig)) == 0;
        if (!ok)
            storage_errf(err, errlen, "the file is not a PNG image");
    } else if (strcmp(t->file_type, "jpg") == 0) {
        ok = len >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff;
        if (!ok)
            storage_errf(err, errlen, "the file is not a JPEG image");
    } else if (strcmp(t->file_type, "docx") == 0) {
        ok = len >= 4 && memcmp(b, "PK\3\4", 4) == 0 && storage_sniff_is_docx(data, len);
        if (!ok)
            storage_errf(err, errlen, "the file is not a DOCX document");
    } else {
        size_t skip = len >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf ? 3 : 0;

        ok = lx_utf8_valid((const char *)b + skip, len - skip);
        if (!ok)
            storage_errf(err, errlen, "%s",
                         strcmp(t->file_type, "md") == 0
                             ? "the file is not Markdown text (UTF-8 without NUL bytes)"
                             : "the file is not plain text (UTF-8 without NUL bytes)");
    }
    if (!ok)
        return LX_EINVAL;
    if (out != NULL)
        *out = *t;
    return LX_OK;
}

#define STORAGE_NAME_MAX 200

/* Whether c is one of the bytes a file name must not carry. */
static int storage_name_bad_ascii(unsigned char c)
{
    return c < 0x20 || c == 0x7f || strchr("\"\\/:*?<>|", c) != NULL;
}

/* The length of a short extension at the end of s[0..len) (".pdf": dot and
 * up to 10 ASCII letters or digits), else 0: kept when a long name is cut. */
static size_t storage_name_ext_len(const char *s, size_t len)
{
    size_t i = len;

    while (i > 0 && len - i <= 10) {
        char c = s[i - 1];

        if (c == '.')
            return (i - 1 > 0 && len - i >= 1) ? len - i + 1 : 0;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
            return 0;
        i--;
    }
    return 0;
}

char *storage_safe_filename(const char *name)
{
    const unsigned char *base, *p;
    size_t n, o = 0, ext, keep;
    char *out;

    if (name == NULL)
        name = "";
    base = (const unsigned char *)name;
    for (p = base; *p != '\0'; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    n = strlen((const char *)base);

    /* Each input byte gives at most one output byte. */
    out = malloc(n + sizeof("document"));
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n;) {
        size_t sl;
        int is_ok;

        if (base[i] < 0x80) {
            out[o++] = storage_name_bad_ascii(base[i]) ? '_' : (char)base[i];
            i++;
            continue;
        }
        sl = lx_utf8_next(base + i, n - i, NULL, &is_ok);
        if (!is_ok) {
            out[o++] = '_'; /* a byte of broken UTF-8 */
            i++;
        } else if (sl == 2 && base[i] == 0xc2 && base[i + 1] < 0xa0) {
            out[o++] = '_'; /* U+0080..U+009F, the C1 controls */
            i += 2;
        } else {
            memcpy(out + o, base + i, sl);
            o += sl;
            i += sl;
        }
    }
    out[o] = '\0';

    /* Leading dots go: no hidden files, no "..". */
    keep = 0;
    while (keep < o && out[keep] == '.')
        keep++;
    memmove(out, out + keep, o - keep + 1);
    o -= keep;

    if (o > STORAGE_NAME_MAX) {
        size_t cut;

        ext = storage_name_ext_len(out, o);
        cut = STORAGE_NAME_MAX - ext;
        /* Back to the start of the UTF-8 sequence the cut falls in. */
        while (cut > 0 && ((unsigned char)out[cut] & 0xc0) == 0x80)
            cut--;
        memmove(out + cut, out + o - ext, ext);
        o = cut + ext;
        out[o] = '\0';
    }
    if (o == 0)
        memcpy(out, "document", sizeof("document"));
    return out;
}
