/*
 * libFuzzer target for plugins/storage/text/sniff.c and text.c. The input is a
 * file name, LF, then file bytes (no LF: all of it is the name, the file
 * empty). Each input goes through:
 *   storage_sniff (name, bytes), checked against the signatures it claims;
 *   storage_safe_filename (name), checked for every promise of sniff.h;
 *   lx_utf8_valid (bytes), against a decoder written independently here;
 *   storage_text_normalize (bytes), whose result must be valid UTF-8 and a
 *       fixed point;
 *   storage_text_passages (normalized and raw bytes), with a target taken
 *       from the name's length, checked to lose no non-white-space byte and
 *       to split no UTF-8 sequence of valid text.
 * Copies of exactly the input's size make reads past the end show.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* memmem */
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lexiaid/utf8.h>

#include "text/sniff.h"
#include "text/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int ok)
{
    if (!ok)
        __builtin_trap();
}

/* UTF-8 validity by decoding each code point and range-checking it. */
static int fuzz_utf8_reference(const unsigned char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        unsigned char c = s[i];
        uint32_t cp, min;
        size_t n;

        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0) {
            n = 2, cp = c & 0x1fu, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 3, cp = c & 0x0fu, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 4, cp = c & 0x07u, min = 0x10000;
        } else {
            return 0;
        }
        if (len - i < n)
            return 0;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += n;
    }
    return 1;
}

static int fuzz_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* s[0..len) without white space, into a malloc'd buffer; its length in *n. */
static char *fuzz_squeeze(const char *s, size_t len, size_t *n)
{
    char *o = malloc(len + 1);

    fuzz_check(o != NULL);
    *n = 0;
    for (size_t i = 0; i < len; i++)
        if (!fuzz_is_space(s[i]))
            o[(*n)++] = s[i];
    return o;
}

static void fuzz_passages(const char *text, size_t len, size_t target, int is_valid)
{
    char **v = NULL, *want, *got;
    size_t n = 0, wn, gn = 0, total = 0;
    int has_nul = memchr(text, '\0', len) != NULL;

    fuzz_check(storage_text_passages(text, len, target, &v, &n) == 0);
    fuzz_check(v != NULL || n == 0);
    for (size_t i = 0; i < n; i++)
        total += strlen(v[i]);
    got = malloc(total + 1);
    fuzz_check(got != NULL);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(v[i]), sn;
        char *sq;

        /* A NUL byte in the text ends the C string it lands in: the
         * promises below are for text without one (as normalized text is). */
        if (has_nul) {
            free(v[i]);
            continue;
        }
        fuzz_check(l > 0 && !fuzz_is_space(v[i][0]) && !fuzz_is_space(v[i][l - 1]));
        if (is_valid)
            fuzz_check(lx_utf8_valid(v[i], l));
        sq = fuzz_squeeze(v[i], l, &sn);
        memcpy(got + gn, sq, sn);
        gn += sn;
        free(sq);
        free(v[i]);
    }
    free(v);
    if (!has_nul) {
        want = fuzz_squeeze(text, len, &wn);
        fuzz_check(wn == gn && memcmp(want, got, wn) == 0);
        free(want);
    }
    free(got);
}

static void fuzz_safe_name(const char *name)
{
    char *s = storage_safe_filename(name);
    size_t n;

    fuzz_check(s != NULL);
    n = strlen(s);
    fuzz_check(n >= 1 && n <= 200 && s[0] != '.');
    fuzz_check(lx_utf8_valid(s, n));
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        fuzz_check(c >= 0x20 && c != 0x7f && strchr("\"\\/:*?<>|", c) == NULL);
    }
    free(s);
}

static void fuzz_sniff(const char *name, const unsigned char *b, size_t len)
{
    static const unsigned char png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    storage_ftype t = {NULL, NULL};
    char err[256];

    err[0] = '\0';
    if (storage_sniff(name, b, len, &t, err, sizeof(err)) != 0) {
        fuzz_check(err[0] != '\0' && t.file_type == NULL);
        return;
    }
    fuzz_check(len > 0 && t.file_type != NULL && t.mime_type != NULL);
    if (strcmp(t.file_type, "pdf") == 0)
        fuzz_check(memmem(b, len < 1024 ? len : 1024, "%PDF-", 5) != NULL);
    else if (strcmp(t.file_type, "png") == 0)
        fuzz_check(len >= 8 && memcmp(b, png, 8) == 0);
    else if (strcmp(t.file_type, "jpg") == 0)
        fuzz_check(len >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff);
    else if (strcmp(t.file_type, "docx") == 0)
        fuzz_check(len >= 4 && memcmp(b, "PK\3\4", 4) == 0);
    else if (strcmp(t.file_type, "txt") == 0 || strcmp(t.file_type, "md") == 0)
        fuzz_check(memchr(b, '\0', len) == NULL);
    else
        fuzz_check(0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t nlen = nl != NULL ? (size_t)(nl - data) : size;
    size_t len = nl != NULL ? size - nlen - 1 : 0, norm_len, again_len;
    char *name, *bytes, *norm, *again;
    int valid;

    name = malloc(nlen + 1);
    bytes = malloc(len > 0 ? len : 1);
    fuzz_check(name != NULL && bytes != NULL);
    memcpy(name, data, nlen);
    name[nlen] = '\0';
    if (len > 0)
        memcpy(bytes, nl + 1, len);

    fuzz_sniff(name, (const unsigned char *)bytes, len);
    fuzz_safe_name(name);

    valid = lx_utf8_valid(bytes, len);
    fuzz_check(valid == fuzz_utf8_reference((const unsigned char *)bytes, len));

    norm = storage_text_normalize(bytes, len, &norm_len);
    fuzz_check(norm != NULL && norm[norm_len] == '\0');
    fuzz_check(lx_utf8_valid(norm, norm_len));
    fuzz_check(memchr(norm, '\r', norm_len) == NULL);
    again = storage_text_normalize(norm, norm_len, &again_len);
    fuzz_check(again != NULL && again_len == norm_len && memcmp(again, norm, norm_len) == 0);
    free(again);

    fuzz_passages(norm, norm_len, nlen, 1);
    fuzz_passages(bytes, len, nlen % 97, valid);
    free(norm);
    free(bytes);
    free(name);
    return 0;
}
