/*
 * Must NOT link: a plugin that calls a function of the core directly
 * instead of through the lx_host table. Plugins are linked with
 * -Wl,--no-undefined (Makefile.am, LX_NOUNDEF), so the undefined lx_log
 * fails the link instead of binding to the executable at dlopen time.
 * Built on purpose by tests/build/test_plugin_boundary.sh.
 */
#include <lexiaid/plugin.h>

/* The core's own logger (core/log.h), declared by hand. */
void lx_log(int level, const char *src, const char *req_id, const char *fmt, ...);

static int bad_init(const lx_host *host, const lx_cfg *cfg, void **state, char *err, size_t errlen)
{
    (void)host;
    (void)cfg;
    (void)state;
    (void)err;
    (void)errlen;
    lx_log(LX_LOG_INFO, "bad_core_call", NULL, "called the core directly");
    return LX_OK;
}

static const lx_handler bad_handlers[] = {{.name = NULL}};

static const lx_plugin bad_plugin = {LX_PLUGIN_HEADER, .name = "bad_core_call",
                                     .handlers = bad_handlers, .init = bad_init};

LX_EXPORT const lx_plugin *lx_plugin_entry(void)
{
    return &bad_plugin;
}
