/*
 * lexiaid plugin SDK: multipart/form-data (RFC 7578) over a body already in
 * memory.
 *
 * Part of the SDK's helper library, liblexiaid_sdk (sdk/multipart.c), which
 * a plugin links statically: pure code, no host calls, no global state, so
 * it is safe on any thread. Built with hidden visibility: a plugin that
 * links it never exports these symbols.
 *
 * No Debian library parses multipart on its own without glib or an HTTP
 * server around it (GMime, libsoup, libmicrohttpd's post processor needs
 * its connection), so this is a small strict parser, fuzzed by
 * tests/fuzz/fuzz_multipart.c.
 *
 * Strict: CRLF line ends; the boundary from the Content-Type (quoted or
 * not, 1..70 characters, RFC 2046's alphabet); each part has a
 * Content-Disposition: form-data with a name; at most 64 parts and 16
 * headers of at most 8 KiB per part; the closing delimiter is required.
 * Text before the first delimiter (the preamble) and after the last (the
 * epilogue) is ignored, as RFC 2046 says. Anything else is LX_EINVAL with
 * a message naming what is wrong ("part 2: no name in Content-Disposition").
 *
 * Return codes are lexiaid's (<lexiaid/plugin.h>): LX_OK, LX_EINVAL,
 * LX_ENOMEM.
 *
 * Ownership: parts point INTO the body (zero copy): valid while the body
 * is. Names and file names are decoded copies owned by the result and
 * freed by lx_mp_free.
 */
#ifndef LEXIAID_MULTIPART_H
#define LEXIAID_MULTIPART_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lx_mp_part {
    char *name;         /* the form field's name (decoded copy, valid UTF-8) */
    char *filename;     /* filename= (filename*= UTF-8 wins), or NULL */
    char *content_type; /* the part's Content-Type, or NULL */
    const char *data;   /* into the body; not NUL-terminated */
    size_t len;
} lx_mp_part;

typedef struct lx_mp {
    lx_mp_part *parts;
    size_t n_parts;
} lx_mp;

/* Takes the boundary out of a Content-Type header value
 * ("multipart/form-data; boundary=..."): a malloc'd copy in *boundary.
 * LX_EINVAL (message in err) when the type is not multipart/form-data or
 * the boundary is missing or invalid; LX_ENOMEM. *boundary is NULL on
 * error. */
int lx_mp_boundary(const char *content_type, char **boundary, char *err, size_t errlen);

/* Parses body[0..len) with `boundary`. On LX_OK *out holds the parts (free
 * with lx_mp_free); on error *out is empty and err says why. */
int lx_mp_parse(const char *body, size_t len, const char *boundary, lx_mp *out, char *err,
                size_t errlen);

/* The first part named `name`, or NULL. */
const lx_mp_part *lx_mp_get(const lx_mp *mp, const char *name);

/* Frees what lx_mp_parse made and empties *mp; NULL or empty is fine. */
void lx_mp_free(lx_mp *mp);

#ifdef __cplusplus
}
#endif

#endif
