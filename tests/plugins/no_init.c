/* no_init: a descriptor without the mandatory init(); the core must refuse
 * it, naming "init". */
#include <stddef.h>

#include <lexiaid/plugin.h>

static const lx_handler no_init_handlers[] = {{.name = NULL}};

static const lx_plugin no_init_plugin = {
    LX_PLUGIN_HEADER,
    .name = "no_init",
    .version = "1.0.0",
    .handlers = no_init_handlers,
    .init = NULL,
};

LX_EXPORT const lx_plugin *lx_plugin_entry(void)
{
    return &no_init_plugin;
}
