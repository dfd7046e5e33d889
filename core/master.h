/*
 * The master process, as in nginx and gunicorn: it owns the listening
 * socket and the configuration, forks the workers of each generation,
 * restarts a worker that dies (with backoff when it dies in a loop),
 * reloads on SIGHUP by starting a new generation and draining the old one,
 * and stops gracefully on SIGTERM/SIGINT (SIGQUIT: at once). It reaps every
 * child, so it is a correct PID 1 in a container.
 */
#ifndef LX_CORE_MASTER_H
#define LX_CORE_MASTER_H

#include "runtime.h"

/* Serves rt (built, plugins loaded but not initialised; ownership passes
 * here) until stopped: locks the data directory (datadir.h) and opens the
 * listening socket, then runs the plugins' init, so that a second server
 * on the same directory or address refuses before any plugin touches
 * anything. Workers get PR_SET_PDEATHSIG = SIGTERM: they drain and exit
 * when the master dies. conf_path is re-read on SIGHUP; when NULL,
 * `embedded` is. Returns the process exit code (1 when it cannot start,
 * with every reason on stderr). */
int lx_master_run(const char *conf_path, const char *embedded, lx_runtime *rt);

#endif
