/*
 * A growing string (buf.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* Appends s[0, n) to b; sets b->oom on ENOMEM or overflow (buf.h). */
void tutor_buf_add(tutor_buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (n > SIZE_MAX / 4 - b->len) {
        b->oom = 1;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        char *p;

        while (cap < b->len + n + 1)
            cap *= 2;
        p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void tutor_buf_str(tutor_buf *b, const char *s)
{
    tutor_buf_add(b, s, strlen(s));
}

/* The finished string, caller-owned; NULL when out of memory (buf.h). */
char *tutor_buf_take(tutor_buf *b)
{
    if (!b->oom && b->p == NULL)
        tutor_buf_add(b, "", 0);
    if (b->oom) {
        free(b->p);
        b->p = NULL;
        return NULL;
    }
    return b->p;
}
