/*
 * Text after extraction: normalisation and the passages search works on.
 */
#ifndef STORAGE_TEXT_H
#define STORAGE_TEXT_H

#include <stddef.h>

/* Normalises extracted text in place: CRLF and CR to LF, other C0 controls
 * but TAB and LF removed, runs of more than two blank lines squeezed, spaces
 * at line ends removed, invalid UTF-8 sequences replaced by U+FFFD (so the
 * result may grow: returns a malloc'd string and its length in *out_len,
 * or NULL when out of memory). */
char *storage_text_normalize(const char *text, size_t len, size_t *out_len);

/* Cuts text into passages for search: paragraphs (blank-line separated)
 * joined up to about `target` bytes (e.g. 800), a paragraph longer than
 * 2 x target cut at sentence ends (". ", "! ", "? ") and, failing that, at
 * spaces, never inside a UTF-8 sequence. Whitespace-only passages are
 * dropped. *out is a malloc'd array of malloc'd strings (free with
 * storage_strv_free from store.h). LX_OK or LX_ENOMEM. */
int storage_text_passages(const char *text, size_t len, size_t target, char ***out, size_t *n);

#endif
