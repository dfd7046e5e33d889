/*
 * lx_errs: a list of human-readable error lines ("FILE:LINE: message"),
 * collected so that `lexiaid -t` can print every problem at once instead of
 * stopping at the first.
 */
#ifndef LX_CORE_ERRS_H
#define LX_CORE_ERRS_H

#include <stddef.h>
#include <stdio.h>

#include <lexiaid/plugin.h>

typedef struct lx_errs {
    char **lines;
    size_t n_lines;
    size_t cap;
} lx_errs;

/* Appends one formatted line (copied). Never fails visibly: on ENOMEM the
 * line is dropped and a final "out of memory" line is kept. */
void lx_errs_add(lx_errs *e, const char *fmt, ...) LX_PRINTF(2, 3);
/* Writes every line, each followed by '\n', to f. */
void lx_errs_print(const lx_errs *e, FILE *f);
/* Frees the lines; the struct may be reused. */
void lx_errs_clear(lx_errs *e);

#endif
