/* svc_provider: registers the service "greeter.v1" in init(). Its table is
 * { const char *(*greet)(void *state); }, repeated in svc_consumer.c as a
 * real service would publish it in a header under include/lexiaid/svc/. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <lexiaid/plugin.h>

typedef struct greeter_v1 {
    const char *(*greet)(void *state);
} greeter_v1;

typedef struct svc_provider_state {
    const char *greeting;
} svc_provider_state;

static const char *svc_provider_greet(void *state)
{
    svc_provider_state *st = state;

    return st->greeting;
}

static const greeter_v1 svc_provider_table = {.greet = svc_provider_greet};

static int svc_provider_init(const lx_host *host, const lx_cfg *cfg, void **state, char *err,
                             size_t errlen)
{
    (void)cfg;
    /* Per generation, as every plugin's state (plugin.h). */
    svc_provider_state *st = calloc(1, sizeof(*st));
    if (st == NULL) {
        snprintf(err, errlen, "out of memory");
        return LX_ENOMEM;
    }
    st->greeting = "hello from provider";
    int rc = host->svc_register("greeter.v1", &svc_provider_table, st);
    if (rc != LX_OK) {
        snprintf(err, errlen, "cannot register greeter.v1 (%d)", rc);
        free(st);
        return rc;
    }
    *state = st;
    return LX_OK;
}

/* After the consumers' shutdown (reverse dependency order). */
static void svc_provider_shutdown(void *state)
{
    free(state);
}

static const lx_handler svc_provider_handlers[] = {{.name = NULL}};
static const char *const svc_provider_provides[] = {"greeter.v1", NULL};

static const lx_plugin svc_provider_plugin = {
    LX_PLUGIN_HEADER,
    .name = "svc_provider",
    .version = "1.0.0",
    .handlers = svc_provider_handlers,
    .provides = svc_provider_provides,
    .init = svc_provider_init,
    .shutdown = svc_provider_shutdown,
};

LX_EXPORT const lx_plugin *lx_plugin_entry(void)
{
    return &svc_provider_plugin;
}
