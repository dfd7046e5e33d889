/*
 * The txt and md decoder shared by the plugin and lexiaid-extract
 * (plain.h). The UTF-8 check is the SDK's (lx_utf8_valid: strict, NUL
 * refused), compiled into both.
 */
#include <string.h>

#include <lexiaid/utf8.h>

#include "text/plain.h"

int storage_plain_is_type(const char *file_type)
{
    return file_type != NULL && (strcmp(file_type, "txt") == 0 || strcmp(file_type, "md") == 0);
}

int storage_plain_decode(const char *data, size_t len, size_t *start, const char **why)
{
    size_t skip = 0;

    *start = 0;
    *why = NULL;
    if (len > STORAGE_PLAIN_MAX_FILE) {
        *why = "the file is larger than 64 MiB";
        return -1;
    }
    if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
        skip = 3;
    if (!lx_utf8_valid(data + skip, len - skip)) {
        *why = "the file is not valid UTF-8 text";
        return -1;
    }
    *start = skip;
    return 0;
}
