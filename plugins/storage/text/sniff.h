/*
 * What an uploaded file is: decided by its bytes and its name together.
 *
 * Accepted types: pdf, docx, txt, md, png, jpg (jpeg). The name's extension
 * says what the client claims; the content must agree:
 *   pdf   starts with "%PDF-" (within the first 1024 bytes, as readers allow)
 *   png   the 8-byte PNG signature
 *   jpg   FF D8 FF
 *   docx  a ZIP ("PK\3\4") whose entries include "word/document.xml" and
 *         "[Content_Types].xml" (looked up in the ZIP's central directory)
 *   txt, md  valid UTF-8 (a BOM allowed), no NUL byte
 * A mismatch (a PNG named .pdf, an executable named .txt) or another
 * extension is refused; the caller answers 415 UNSUPPORTED_TYPE with the
 * message.
 */
#ifndef STORAGE_SNIFF_H
#define STORAGE_SNIFF_H

#include <stddef.h>

typedef struct storage_ftype {
    const char *file_type; /* "pdf", "docx", "txt", "md", "png", "jpg" (static) */
    const char *mime_type; /* "application/pdf", ... (static) */
} storage_ftype;

/* LX_OK and *out when filename's extension (case-insensitive; ".jpeg" is
 * jpg) is accepted and data[0..len) is that type; else LX_EINVAL with a
 * message for the client in err ("the file is not a PDF", "type .exe is
 * not accepted; use pdf, docx, txt, md, png or jpg"). An empty file is
 * LX_EINVAL. */
int storage_sniff(const char *filename, const void *data, size_t len, storage_ftype *out,
                  char *err, size_t errlen);

/* A safe file name for storage and for Content-Disposition: the last path
 * component of `name` (both / and \ split), control characters and
 * "\"\\/:*?<>|" replaced by '_', leading dots removed, at most 200 bytes
 * cut on a UTF-8 boundary, never empty ("document" then). malloc'd. */
char *storage_safe_filename(const char *name);

#endif
