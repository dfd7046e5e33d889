/*
 * The text of a plain-text or Markdown upload (types "txt" and "md").
 *
 * One decoder, compiled into both the storage plugin (which runs it on its
 * extraction threads: a txt or md upload starts no child) and
 * lexiaid-extract (which runs it for `lexiaid-extract txt|md`), so that the
 * text is the same byte for byte whichever of them read the file. It is a
 * UTF-8 check and nothing else: no parser of untrusted structure runs here,
 * which is why it may run inside a worker.
 *
 * Pure: no allocation, no global state, any thread.
 */
#ifndef STORAGE_PLAIN_H
#define STORAGE_PLAIN_H

#include <stddef.h>

/* The largest file either reader takes (lexiaid-extract's stdin limit). */
#define STORAGE_PLAIN_MAX_FILE ((size_t)64 << 20)

/* Whether file_type ("txt", "md", "pdf", ...) is one storage_plain_decode
 * reads. */
int storage_plain_is_type(const char *file_type);

/* Decodes data[0..len), a txt or md file: drops a leading UTF-8 BOM and
 * checks that the rest is strict UTF-8 (no overlongs, no surrogates,
 * nothing past U+10FFFF) without a NUL byte. 0 with the text being
 * data[*start .. len) (it points into the caller's bytes; nothing is
 * copied); -1 with *why a static sentence for the document's error field:
 * "the file is not valid UTF-8 text", or "the file is larger than 64 MiB"
 * (more than STORAGE_PLAIN_MAX_FILE bytes). A text of one page. */
int storage_plain_decode(const char *data, size_t len, size_t *start, const char **why);

#endif
