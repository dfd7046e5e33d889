/*
 * storage_errf: fills the caller-owned message buffer of a fallible call
 * (`char *err, size_t errlen`, house style) in one way.
 *
 * Header-only (static inline) on purpose: its users are linked in sets that
 * share no source file (the plugin; tests/unit/test_storage_parse and the
 * fuzzers with the pure files; test_storage_extract with extract.c alone;
 * test_storage_store with the store), so one copy here serves them all.
 */
#ifndef STORAGE_ERRF_H
#define STORAGE_ERRF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <lexiaid/plugin.h>

/* printf-formats into err[0..errlen) (always NUL-terminated, cut when
 * longer); does nothing when err is NULL or errlen is 0. */
static inline void storage_errf(char *err, size_t errlen, const char *fmt, ...) LX_PRINTF(3, 4);

static inline void storage_errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

#endif
