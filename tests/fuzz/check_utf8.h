/*
 * Checks shared by the tutoring plugin's fuzz targets (fuzz_offline.c,
 * fuzz_prompt.c): a failed property traps, and UTF-8 validity (NUL
 * allowed) decoding each code point and range-checking it.
 */
#ifndef LX_CHECK_UTF8_H
#define LX_CHECK_UTF8_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void fuzz_check(int ok)
{
    if (!ok)
        __builtin_trap();
}

/* UTF-8 validity (NUL allowed), decoding each code point and range-checking it. */
static inline int fuzz_utf8_ok(const unsigned char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        unsigned char c = s[i];
        uint32_t cp, min;
        size_t n;

        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0)
            n = 2, cp = c & 0x1fu, min = 0x80;
        else if ((c & 0xf0) == 0xe0)
            n = 3, cp = c & 0x0fu, min = 0x800;
        else if ((c & 0xf8) == 0xf0)
            n = 4, cp = c & 0x07u, min = 0x10000;
        else
            return 0;
        if (len - i < n)
            return 0;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += n;
    }
    return 1;
}

static inline int fuzz_str_utf8_ok(const char *s)
{
    return fuzz_utf8_ok((const unsigned char *)s, strlen(s));
}

#endif
