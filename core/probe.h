/*
 * `lexiaid --probe URL`: a container health check that needs no curl. One
 * GET with a timeout; exit code 0 on a 2xx answer, 1 otherwise, with the
 * reason on stderr.
 */
#ifndef LX_CORE_PROBE_H
#define LX_CORE_PROBE_H

int lx_probe(const char *url, long timeout_ms);

#endif
