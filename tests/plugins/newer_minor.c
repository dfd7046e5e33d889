/* newer_minor: built against a newer ABI minor than the core's; it could
 * call host members the core does not have, so the core must refuse it. */
#include <stddef.h>

#include <lexiaid/plugin.h>

static int newer_minor_init(const lx_host *host, const lx_cfg *cfg, void **state, char *err,
                            size_t errlen)
{
    (void)host;
    (void)cfg;
    (void)err;
    (void)errlen;
    *state = NULL;
    return LX_OK;
}

static const lx_handler newer_minor_handlers[] = {{.name = NULL}};

static const lx_plugin newer_minor_plugin = {
    .abi_major = LX_ABI_MAJOR,
    .abi_minor = LX_ABI_MINOR + 1,
    .struct_size = sizeof(lx_plugin),
    .name = "newer_minor",
    .version = "1.0.0",
    .handlers = newer_minor_handlers,
    .init = newer_minor_init,
};

LX_EXPORT const lx_plugin *lx_plugin_entry(void)
{
    return &newer_minor_plugin;
}
