/*
 * libFuzzer target for plugins/storage/text/plain.c, the txt and md
 * decoder the plugin runs inside a worker (and lexiaid-extract in its
 * child). Each input is a file's bytes:
 *   storage_plain_decode must accept exactly the files whose bytes after
 *       one leading BOM are well-formed UTF-8 without a NUL (decided here
 *       by the fuzzers' own decoder, check_utf8.h, not the SDK's), and then point
 *       into the input: past the BOM when there is one, to its end;
 *   a refusal names its reason and points nowhere;
 *   the accepted text normalized (storage_text_normalize, what the plugin
 *   does next) is valid UTF-8.
 * A copy of exactly the input's size makes reads past the end show.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lexiaid/utf8.h>

#include "check_utf8.h"
#include "text/plain.h"
#include "text/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Well-formed UTF-8 without NUL, by decoding each code point. */
static int fuzz_reference(const unsigned char *s, size_t len)
{
    return memchr(s, 0, len) == NULL && fuzz_utf8_ok(s, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size > 0 ? size : 1);
    size_t start = 7, bom, norm_len;
    const char *why = "unset";
    char *norm;
    int rc;

    fuzz_check(copy != NULL);
    if (size > 0)
        memcpy(copy, data, size);
    bom = size >= 3 && memcmp(copy, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
    rc = storage_plain_decode(copy, size, &start, &why);
    fuzz_check(rc == 0 || rc == -1);
    fuzz_check((rc == 0) == fuzz_reference((const unsigned char *)copy + bom, size - bom));
    if (rc != 0) {
        fuzz_check(start == 0 && why != NULL &&
                   strcmp(why, "the file is not valid UTF-8 text") == 0);
        free(copy);
        return 0;
    }
    fuzz_check(why == NULL && start == bom);
    fuzz_check(lx_utf8_valid(copy + start, size - start));
    norm = storage_text_normalize(copy + start, size - start, &norm_len);
    fuzz_check(norm != NULL && lx_utf8_valid(norm, norm_len));
    free(norm);
    free(copy);
    return 0;
}
