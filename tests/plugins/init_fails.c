/* init_fails: init() reports failure; the core must refuse to start and
 * print the plugin's message. */
#include <stdio.h>

#include <lexiaid/plugin.h>

static int init_fails_init(const lx_host *host, const lx_cfg *cfg, void **state, char *err,
                           size_t errlen)
{
    (void)host;
    (void)cfg;
    (void)state;
    snprintf(err, errlen, "database unreachable");
    return LX_ERROR;
}

static const lx_handler init_fails_handlers[] = {{.name = NULL}};

static const lx_plugin init_fails_plugin = {
    LX_PLUGIN_HEADER,
    .name = "init_fails",
    .version = "1.0.0",
    .handlers = init_fails_handlers,
    .init = init_fails_init,
};

LX_EXPORT const lx_plugin *lx_plugin_entry(void)
{
    return &init_fails_plugin;
}
