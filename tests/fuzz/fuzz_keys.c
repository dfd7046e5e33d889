/*
 * libFuzzer target for plugins/auth/keys.c: every input is handed to
 * auth_keyset_from_x509_map, auth_keyset_from_jwks and (NUL-terminated)
 * auth_cache_seconds. Besides the sanitizers, it traps when a contract
 * promise is broken.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int ok)
{
    if (!ok)
        __builtin_trap();
}

static void fuzz_keyset(int rc, auth_keyset *ks)
{
    if (rc != 0) {
        fuzz_check(rc == -1 && ks == NULL);
        return;
    }
    fuzz_check(ks != NULL && auth_keyset_count(ks) >= 1 &&
               auth_keyset_count(ks) <= AUTH_MAX_KEYS);
    fuzz_check(auth_keyset_find(ks, "", 0) == NULL);
    auth_keyset_free(ks);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    auth_keyset *ks = NULL;
    char why[64], *s;
    long secs;
    int rc;

    /* An exact-size copy, so reads past the end are caught. */
    s = malloc(size + 1);
    fuzz_check(s != NULL);
    memcpy(s, data, size);
    rc = auth_keyset_from_x509_map(s, size, &ks, why, sizeof(why));
    fuzz_keyset(rc, ks);
    ks = NULL;
    rc = auth_keyset_from_jwks(s, size, &ks, why, sizeof(why));
    fuzz_keyset(rc, ks);
    s[size] = '\0';
    secs = auth_cache_seconds(s);
    fuzz_check(secs >= 60 && secs <= 86400);
    free(s);
    return 0;
}
