#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "errs.h"

void lx_errs_add(lx_errs *e, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);

    if (e->n_lines == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 8;
        char **lines = realloc(e->lines, cap * sizeof(*lines));
        if (lines == NULL)
            return;
        e->lines = lines;
        e->cap = cap;
    }
    char *copy = strdup(buf);
    if (copy != NULL)
        e->lines[e->n_lines++] = copy;
}

void lx_errs_print(const lx_errs *e, FILE *f)
{
    for (size_t i = 0; i < e->n_lines; i++)
        fprintf(f, "%s\n", e->lines[i]);
}

void lx_errs_clear(lx_errs *e)
{
    for (size_t i = 0; i < e->n_lines; i++)
        free(e->lines[i]);
    free(e->lines);
    e->lines = NULL;
    e->n_lines = e->cap = 0;
}
