/*
 * lexiaid plugin SDK: UTF-8 (RFC 3629) decoding and validation.
 *
 * Part of the SDK's helper library, liblexiaid_sdk (sdk/utf8.c), which a
 * plugin links statically: pure code, no host calls, no global state, safe
 * on any thread, hidden symbols. The storage plugin (text, names, sniffing),
 * the tutoring plugin (words, prompts) and the multipart parser use it.
 */
#ifndef LEXIAID_UTF8_H
#define LEXIAID_UTF8_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* At s[0..len) (len >= 1): when a well-formed sequence starts there (no
 * overlongs, no surrogates, nothing above U+10FFFF, not truncated), its
 * length 1..4 with *is_ok 1 and its code point in *cp (cp may be NULL);
 * otherwise the length of its maximal ill-formed subpart (1..3), which
 * Unicode recommends replacing by one U+FFFD, with *is_ok 0 and *cp
 * untouched. NUL is well formed; callers that refuse it check it. */
size_t lx_utf8_next(const unsigned char *s, size_t len, uint32_t *cp, int *is_ok);

/* True when s[0..len) is well-formed UTF-8 and holds no NUL (s may be
 * NULL only when len is 0). */
int lx_utf8_valid(const char *s, size_t len);

#ifdef __cplusplus
}
#endif
#endif
