/* bad_abi_major: built against an ABI major the core cannot know. The core
 * must refuse it, naming the file and both versions. */
#include <stddef.h>

#include <lexiaid/plugin.h>

static int bad_abi_major_init(const lx_host *host, const lx_cfg *cfg, void **state, char *err,
                              size_t errlen)
{
    (void)host;
    (void)cfg;
    (void)err;
    (void)errlen;
    *state = NULL;
    return LX_OK;
}

static const lx_handler bad_abi_major_handlers[] = {{.name = NULL}};

static const lx_plugin bad_abi_major_plugin = {
    .abi_major = LX_ABI_MAJOR + 98,
    .abi_minor = LX_ABI_MINOR,
    .struct_size = sizeof(lx_plugin),
    .name = "bad_abi_major",
    .version = "1.0.0",
    .handlers = bad_abi_major_handlers,
    .init = bad_abi_major_init,
};

LX_EXPORT const lx_plugin *lx_plugin_entry(void)
{
    return &bad_abi_major_plugin;
}
