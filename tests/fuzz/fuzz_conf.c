/*
 * libFuzzer target for core/conf.c: the input is a configuration text,
 * loaded (with interpolation and validation) and freed.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);

/* libconfig 1.5's scanner leaks the text of a string token when a syntax
 * error follows it (`b "x";`): not ours, and not fixable from outside.
 * Leaks of the tree itself still show (they are allocated by the parser,
 * not the scanner). */
const char *__lsan_default_suppressions(void)
{
    return "leak:strbuf_append\nleak:libconfig_yylex\n";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int is_ready;
    lx_errs errs = {0};
    lx_conf *conf = NULL;

    if (!is_ready) {
        /* No .env from wherever the fuzzer happens to run. */
        setenv("LEXIAID_ENV_FILE", "/nonexistent/lexiaid-fuzz.env", 1);
        is_ready = 1;
    }
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    /* libconfig opens @include files (even /dev/stdin, /dev/zero); that
     * tests the file system, not the parser. */
    if (strstr(text, "@include") != NULL) {
        free(text);
        return 0;
    }

    int rc = lx_conf_load_string(text, "fuzz.conf", &conf, &errs);
    if (rc == LX_OK) {
        if (conf == NULL || errs.n_lines != 0)
            abort();
        /* Walk what plugins would see. */
        for (size_t i = 0; i < conf->n_plugins; i++) {
            const lx_cfg *cfg = (const lx_cfg *)conf->plugins[i].config;
            char where[128];
            for (int k = 0; k < lx_cfg_count(cfg); k++) {
                const lx_cfg *e = lx_cfg_elem(cfg, k);
                const char *v = lx_cfg_value(e);
                if (v != NULL)
                    (void)strlen(v);
                lx_cfg_where(e, where, sizeof(where));
            }
        }
        lx_conf_free(conf);
    } else if (conf != NULL || errs.n_lines == 0) {
        abort();
    }
    lx_errs_clear(&errs);
    free(text);
    return 0;
}
