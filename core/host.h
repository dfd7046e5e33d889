/*
 * The host API table handed to every plugin's init(): the only way a plugin
 * reaches the core. It is one constant table for the life of the process.
 */
#ifndef LX_CORE_HOST_H
#define LX_CORE_HOST_H

#include <lexiaid/plugin.h>
#include "http_client.h"

const lx_host *lx_host_get(void);

/* Frees the /ready checks still waiting on a worker that is stopping. */
void lx_host_worker_cleanup(lx_worker *w);

/* The HTTP client module if this process loaded it, else NULL. */
const lx_httpc_module *lx_httpc_module_loaded(void);

#endif
