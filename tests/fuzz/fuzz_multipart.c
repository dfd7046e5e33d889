/*
 * libFuzzer target for the SDK's multipart parser (sdk/multipart.c,
 * <lexiaid/multipart.h>). The first line of the input (up to LF, a CR
 * before it dropped) is the boundary; the rest is the body, copied to a
 * buffer of exactly its size so that any read past it is caught. The
 * boundary also goes through lx_mp_boundary, as a token and as a quoted
 * string. Besides the sanitizers, it traps when a contract promise is
 * broken.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lexiaid/multipart.h>
#include <lexiaid/utf8.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int ok)
{
    if (!ok)
        __builtin_trap();
}

/* Whether b[j..len) ends a delimiter line ("--", or SP/HTAB* CRLF). */
static int fuzz_delim_end(const char *b, size_t len, size_t j)
{
    if (len - j >= 2 && b[j] == '-' && b[j + 1] == '-')
        return 1;
    while (j < len && (b[j] == ' ' || b[j] == '\t'))
        j++;
    return len - j >= 2 && b[j] == '\r' && b[j + 1] == '\n';
}

/* No part may hold a whole delimiter: data ends at the first one. */
static void fuzz_no_delimiter_inside(const lx_mp_part *p, const char *body, size_t len,
                                     const char *boundary)
{
    size_t blen = strlen(boundary), start = (size_t)(p->data - body);

    for (size_t i = 0; i + 4 + blen <= p->len; i++) {
        if (memcmp(p->data + i, "\r\n--", 4) == 0 && memcmp(p->data + i + 4, boundary, blen) == 0)
            fuzz_check(!fuzz_delim_end(body, len, start + i + 4 + blen));
    }
}

static void fuzz_boundary_header(const char *boundary, size_t blen)
{
    char ct[256], err[128], *got = NULL;
    int rc;

    if (blen > 100 || memchr(boundary, '\0', blen) != NULL)
        return;
    snprintf(ct, sizeof(ct), "multipart/form-data; boundary=\"%.*s\"", (int)blen, boundary);
    rc = lx_mp_boundary(ct, &got, err, sizeof(err));
    if (rc == 0) {
        size_t n = strlen(got);

        fuzz_check(n >= 1 && n <= 70 && got[n - 1] != ' ');
        /* Without backslashes or quotes, the quoted string is the boundary. */
        if (memchr(boundary, '\\', blen) == NULL && memchr(boundary, '"', blen) == NULL)
            fuzz_check(n == blen && memcmp(got, boundary, blen) == 0);
        free(got);
    } else {
        fuzz_check(got == NULL && err[0] != '\0');
    }
    snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%.*s", (int)blen, boundary);
    got = NULL;
    rc = lx_mp_boundary(ct, &got, err, sizeof(err));
    fuzz_check((rc == 0) == (got != NULL));
    free(got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t blen, len;
    char *boundary, *body, err[256];
    lx_mp mp;
    int rc;

    if (nl == NULL)
        return 0;
    blen = (size_t)(nl - data);
    boundary = malloc(blen + 1);
    fuzz_check(boundary != NULL);
    memcpy(boundary, data, blen);
    if (blen > 0 && boundary[blen - 1] == '\r')
        blen--;
    boundary[blen] = '\0';
    fuzz_boundary_header(boundary, blen);

    len = size - (size_t)(nl - data) - 1;
    body = malloc(len > 0 ? len : 1);
    fuzz_check(body != NULL);
    memcpy(body, nl + 1, len);

    err[0] = '\0';
    rc = lx_mp_parse(body, len, boundary, &mp, err, sizeof(err));
    if (rc != 0) {
        fuzz_check(mp.parts == NULL && mp.n_parts == 0 && err[0] != '\0');
    } else {
        fuzz_check(mp.n_parts >= 1 && mp.n_parts <= 64);
        for (size_t i = 0; i < mp.n_parts; i++) {
            const lx_mp_part *p = &mp.parts[i];

            fuzz_check(p->name != NULL && p->name[0] != '\0');
            fuzz_check(lx_utf8_valid(p->name, strlen(p->name)));
            fuzz_check(p->filename == NULL || lx_utf8_valid(p->filename, strlen(p->filename)));
            fuzz_check(p->data >= body && p->len <= len && p->data + p->len <= body + len);
            /* Every part's data is followed by a delimiter. */
            fuzz_check((size_t)(p->data - body) + p->len + 4 + strlen(boundary) <= len);
            fuzz_check(memcmp(p->data + p->len, "\r\n--", 4) == 0);
            fuzz_no_delimiter_inside(p, body, len, boundary);
            fuzz_check(lx_mp_get(&mp, p->name) != NULL && lx_mp_get(&mp, p->name) <= p);
            if (i > 0)
                fuzz_check(p->data > mp.parts[i - 1].data + mp.parts[i - 1].len);
        }
        lx_mp_free(&mp);
        fuzz_check(mp.parts == NULL && mp.n_parts == 0);
    }
    free(body);
    free(boundary);
    return 0;
}
