#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lexiaid/plugin.h>

#include "router.h"

/*
 * libFuzzer target for core/router.c. An input is "METHOD PATH" (split at
 * the first space) matched against a fixed router; an input starting with
 * '!' is instead "METHOD PATTERN" added to a fresh router, and one starting
 * with '%' is handed to lx_url_decode. Besides the sanitizers, it checks
 * the contract's promises and traps when one is broken.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LX_FUZZ_CHECK(cond)                                                                        \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static const char *const lx_fuzz_routes[][2] = {
    {"GET", "/"},
    {"GET", "/health"},
    {"GET", "/ready"},
    {"GET", "/api/users/me"},
    {"GET", "/api/users/{uid}"},
    {"PATCH", "/api/users/{uid}"},
    {"DELETE", "/api/users/{id}"},
    {"GET", "/api/users/{uid}/docs/{doc}"},
    {"PUT", "/api/users/{uid}/docs/{doc}"},
    {"POST", "/api/docs"},
    {"GET", "/api/docs/{id}/pages/{page}/{part}"},
    {"GET", "/api/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}"},
    {"OPTIONS", "/api/{any}"},
    {"HEAD", "/files/{name}"},
    {"GET", "/a b/%41"},
};
#define LX_FUZZ_N_ROUTES (sizeof(lx_fuzz_routes) / sizeof(lx_fuzz_routes[0]))

static lx_router *lx_fuzz_router;
static lx_route_match lx_fuzz_m;

static lx_router *lx_fuzz_fixed(void)
{
    char err[256];

    if (lx_fuzz_router != NULL)
        return lx_fuzz_router;
    lx_fuzz_router = lx_router_new();
    LX_FUZZ_CHECK(lx_fuzz_router != NULL);
    for (size_t i = 0; i < LX_FUZZ_N_ROUTES; i++)
        LX_FUZZ_CHECK(lx_router_add(lx_fuzz_router, lx_fuzz_routes[i][0], lx_fuzz_routes[i][1],
                                    (void *)&lx_fuzz_routes[i], err, sizeof(err)) == LX_OK);
    return lx_fuzz_router;
}

static int lx_fuzz_is_route(const void *p)
{
    for (size_t i = 0; i < LX_FUZZ_N_ROUTES; i++)
        if (p == (const void *)&lx_fuzz_routes[i])
            return 1;
    return 0;
}

static void lx_fuzz_match(const char *method, const char *path)
{
    const lx_router *r = lx_fuzz_fixed();
    lx_route_match *m = &lx_fuzz_m;
    char allow[64], allow2[64];

    lx_route_status st = lx_router_match(r, method, path, m, allow, sizeof(allow));
    int n_allowed = lx_router_allowed(r, path, allow2, sizeof(allow2));
    switch (st) {
    case LX_ROUTE_FOUND:
        LX_FUZZ_CHECK(lx_fuzz_is_route(m->data));
        LX_FUZZ_CHECK(m->pattern != NULL && m->pattern[0] == '/');
        LX_FUZZ_CHECK(m->n_params <= LX_ROUTER_MAX_PARAMS);
        for (size_t i = 0; i < m->n_params; i++) {
            LX_FUZZ_CHECK(m->names[i] != NULL && m->names[i][0] != '\0');
            LX_FUZZ_CHECK(m->values[i] >= m->buf && m->values[i] < m->buf + LX_ROUTER_MAX_PATH);
            size_t room = (size_t)(m->buf + LX_ROUTER_MAX_PATH - m->values[i]);
            size_t len = strnlen(m->values[i], room);
            LX_FUZZ_CHECK(len > 0 && len < room);
        }
        LX_FUZZ_CHECK(n_allowed > 0 && strstr(allow2, method) != NULL);
        break;
    case LX_ROUTE_METHOD_NOT_ALLOWED:
        LX_FUZZ_CHECK(n_allowed > 0 && allow[0] != '\0');
        LX_FUZZ_CHECK(strcmp(allow, allow2) == 0);
        break;
    case LX_ROUTE_NOT_FOUND:
    case LX_ROUTE_BAD_PATH:
        LX_FUZZ_CHECK(n_allowed == 0);
        break;
    default:
        LX_FUZZ_CHECK(0);
    }
}

static void lx_fuzz_add(const char *method, const char *pattern)
{
    lx_router *r = lx_router_new();
    char err[128];

    if (r == NULL)
        return;
    int rc = lx_router_add(r, method, pattern, &lx_fuzz_m, err, sizeof(err));
    LX_FUZZ_CHECK(rc == LX_OK || rc == LX_EINVAL || rc == LX_ENOMEM);
    if (rc == LX_OK) {
        LX_FUZZ_CHECK(lx_router_add(r, method, pattern, &lx_fuzz_m, err, sizeof(err)) == LX_EEXIST);
        /* A pattern without escapes is a path that matches itself. */
        if (strchr(pattern, '%') == NULL) {
            lx_route_status st = lx_router_match(r, method, pattern, &lx_fuzz_m, NULL, 0);
            LX_FUZZ_CHECK(st == LX_ROUTE_FOUND);
            LX_FUZZ_CHECK(strcmp(lx_fuzz_m.pattern, pattern) == 0);
        }
    }
    lx_router_free(r);
}

static void lx_fuzz_decode(const char *in, size_t len)
{
    char *out = malloc(len + 1);
    size_t outlen;

    if (out == NULL)
        return;
    if (lx_url_decode(in, len, out, &outlen) == LX_OK) {
        LX_FUZZ_CHECK(outlen <= len && out[outlen] == '\0');
        LX_FUZZ_CHECK(memchr(out, '\0', outlen) == NULL);
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size + 1);

    if (in == NULL)
        return 0;
    memcpy(in, data, size);
    in[size] = '\0';

    if (size > 0 && in[0] == '%') {
        lx_fuzz_decode(in + 1, size - 1);
    } else {
        int is_pattern = size > 0 && in[0] == '!';
        char *line = in + is_pattern;
        char *sp = strchr(line, ' ');
        const char *method = "GET";
        char *rest = line;
        if (sp != NULL) {
            *sp = '\0';
            method = line;
            rest = sp + 1;
        }
        if (is_pattern)
            lx_fuzz_add(method, rest);
        else
            lx_fuzz_match(method, rest);
    }
    free(in);
    return 0;
}
