/*
 * UTF-8 decoding and validation (<lexiaid/utf8.h>), after Unicode's table
 * 3-7 of well-formed byte sequences.
 */
#include <lexiaid/utf8.h>

size_t lx_utf8_next(const unsigned char *s, size_t len, uint32_t *cp, int *is_ok)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xbf;
    uint32_t v;
    size_t n, i;

    *is_ok = 1;
    if (c < 0x80) {
        if (cp != NULL)
            *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        v = c & 0x1fu;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        v = c & 0x0fu;
        if (c == 0xe0)
            lo = 0xa0; /* overlong below U+0800 */
        else if (c == 0xed)
            hi = 0x9f; /* U+D800..U+DFFF, the surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        v = c & 0x07u;
        if (c == 0xf0)
            lo = 0x90; /* overlong below U+10000 */
        else if (c == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else {
        *is_ok = 0; /* a continuation byte, C0/C1 (overlong) or F5..FF */
        return 1;
    }
    for (i = 1; i < n; i++) {
        /* A truncated sequence, or a byte out of range: the bytes so far
         * are the maximal ill-formed subpart. */
        if (i >= len || s[i] < (i == 1 ? lo : 0x80) || s[i] > (i == 1 ? hi : 0xbf)) {
            *is_ok = 0;
            return i;
        }
        v = (v << 6) | (s[i] & 0x3fu);
    }
    if (cp != NULL)
        *cp = v;
    return n;
}

int lx_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    if (s == NULL)
        return len == 0;
    while (i < len) {
        int is_ok;

        if (p[i] == 0)
            return 0;
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        i += lx_utf8_next(p + i, len - i, NULL, &is_ok);
        if (!is_ok)
            return 0;
    }
    return 1;
}
