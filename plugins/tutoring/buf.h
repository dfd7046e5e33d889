/*
 * A growing NUL-terminated string, shared by the tutoring plugin's pure
 * text code (offline*.c, prompt.c, llm_wire.c). No host calls, no I/O.
 *
 * Start it as {0}. After an allocation failure (or a length that would
 * overflow) `oom` is set and every further add is ignored; the caller sees
 * it at tutor_buf_take.
 */
#ifndef TUTORING_BUF_H
#define TUTORING_BUF_H

#include <stddef.h>

typedef struct tutor_buf {
    char *p; /* NUL-terminated once anything was added (owned) */
    size_t len, cap;
    int oom;
} tutor_buf;

/* Appends s[0, n) (s is not read when n is 0). */
void tutor_buf_add(tutor_buf *b, const char *s, size_t n);
/* Appends the NUL-terminated s. */
void tutor_buf_str(tutor_buf *b, const char *s);
/* The finished string, which the caller now owns (free()): "" when nothing
 * was added; NULL when out of memory (the buffer is then freed). */
char *tutor_buf_take(tutor_buf *b);

#endif
