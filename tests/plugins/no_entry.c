/* no_entry: a shared object that exports a function, but not
 * lx_plugin_entry. The core must refuse it, naming the missing symbol. */
#include <lexiaid/plugin.h>

LX_EXPORT int no_entry_something_else(void);

LX_EXPORT int no_entry_something_else(void)
{
    return 42;
}
