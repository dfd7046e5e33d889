/*
 * libFuzzer target for core/env.c: the input is parsed as a .env file, then
 * interpolated as a config string against a small fixed table.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lexiaid/plugin.h>
#include "env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fuzz_vars[] = {"HOST", "example.org", "EMPTY", "",  "PORT",
                                        "8080", "DOLLAR",      "$${X}", NULL};

static const char *fuzz_lookup(void *arg, const char *name)
{
    const lx_env *env = arg;
    for (size_t i = 0; fuzz_vars[i] != NULL; i += 2) {
        if (strcmp(fuzz_vars[i], name) == 0)
            return fuzz_vars[i + 1];
    }
    /* Names the input itself defined as a .env file. */
    return lx_env_get(env, name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    lx_env *env = NULL;
    char *out = NULL;

    if (lx_env_parse((const char *)data, size, &env, err, sizeof(err)) == LX_OK && env == NULL)
        abort();

    char *s = malloc(size + 1);
    if (s == NULL)
        goto done;
    memcpy(s, data, size);
    s[size] = '\0';
    int rc = lx_env_interpolate(s, fuzz_lookup, env, &out, err, sizeof(err));
    if (rc == LX_OK) {
        /* Success always yields a NUL-terminated string. */
        if (out == NULL)
            abort();
        (void)strlen(out);
    } else if (out != NULL) {
        abort();
    }
    free(out);
    free(s);
done:
    lx_env_free(env);
    return 0;
}
