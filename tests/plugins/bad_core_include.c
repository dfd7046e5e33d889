/*
 * Must NOT build: a plugin that includes a header of the core. Plugins are
 * compiled with the SDK's include path only (Makefile.am, AM_CPPFLAGS), so
 * "worker.h" is not found. Built on purpose by tests/build/test_plugin_boundary.sh.
 */
#include <lexiaid/plugin.h>

#include "worker.h"

static int bad_init(const lx_host *host, const lx_cfg *cfg, void **state, char *err, size_t errlen)
{
    (void)host;
    (void)cfg;
    (void)state;
    (void)err;
    (void)errlen;
    return LX_OK;
}

static const lx_handler bad_handlers[] = {{.name = NULL}};

static const lx_plugin bad_plugin = {LX_PLUGIN_HEADER, .name = "bad_core_include",
                                     .handlers = bad_handlers, .init = bad_init};

LX_EXPORT const lx_plugin *lx_plugin_entry(void)
{
    return &bad_plugin;
}
