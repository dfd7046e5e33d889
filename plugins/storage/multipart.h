/*
 * multipart/form-data (RFC 7578) over a body already in memory.
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
 * Ownership: parts point INTO the body (zero copy): valid while the body
 * is. Names and file names are decoded copies owned by the result and
 * freed by storage_mp_free.
 */
#ifndef STORAGE_MULTIPART_H
#define STORAGE_MULTIPART_H

#include <stddef.h>

typedef struct storage_mp_part {
    char *name;              /* the form field's name (decoded copy) */
    char *filename;          /* filename= (filename*= UTF-8 wins), or NULL */
    char *content_type;      /* the part's Content-Type, or NULL */
    const char *data;        /* into the body */
    size_t len;
} storage_mp_part;

typedef struct storage_mp {
    storage_mp_part *parts;
    size_t n_parts;
} storage_mp;

/* Takes the boundary out of a Content-Type header value
 * ("multipart/form-data; boundary=..."): a malloc'd copy in *boundary.
 * LX_EINVAL (message in err) when the type is not multipart/form-data or
 * the boundary is missing or invalid. */
int storage_mp_boundary(const char *content_type, char **boundary, char *err, size_t errlen);

/* Parses body[0..len) with `boundary`. On LX_OK *out holds the parts (free
 * with storage_mp_free); on error *out is empty. */
int storage_mp_parse(const char *body, size_t len, const char *boundary, storage_mp *out,
                     char *err, size_t errlen);

/* The first part named `name`, or NULL. */
const storage_mp_part *storage_mp_get(const storage_mp *mp, const char *name);

void storage_mp_free(storage_mp *mp);

#endif
