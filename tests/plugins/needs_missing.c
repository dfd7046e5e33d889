/* needs_missing: requires a service nobody provides; the core must refuse
 * to start, naming the service. */
#include <stddef.h>

#include <lexiaid/plugin.h>

static int needs_missing_init(const lx_host *host, const lx_cfg *cfg, void **state, char *err,
                              size_t errlen)
{
    (void)host;
    (void)cfg;
    (void)err;
    (void)errlen;
    *state = NULL;
    return LX_OK;
}

static const lx_handler needs_missing_handlers[] = {{.name = NULL}};
static const char *const needs_missing_requires[] = {"nothing.v1", NULL};

static const lx_plugin needs_missing_plugin = {
    LX_PLUGIN_HEADER,
    .name = "needs_missing",
    .version = "1.0.0",
    .handlers = needs_missing_handlers,
    .requires = needs_missing_requires,
    .init = needs_missing_init,
};

LX_EXPORT const lx_plugin *lx_plugin_entry(void)
{
    return &needs_missing_plugin;
}
