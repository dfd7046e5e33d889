/*
 * The offload pool: blocking work (large files, OCR, speech, heavy queries)
 * runs on a small pool of threads of the worker process, and its completion
 * runs back on the worker's event loop. The loop never blocks.
 *
 * Threads start on the first submission, so a worker that never offloads
 * pays nothing. Completions are signalled through an eventfd watched by the
 * loop.
 */
#ifndef LX_CORE_OFFLOAD_H
#define LX_CORE_OFFLOAD_H

#include <stddef.h>

struct event_base;
typedef struct lx_offload lx_offload;

/* A pool bound to `base` with up to n_threads threads (1..64). Returns NULL
 * with a message in err. */
lx_offload *lx_offload_new(struct event_base *base, int n_threads, char *err, size_t errlen);

/* Queues work(arg) for a pool thread; then done(arg, LX_OK) runs on the
 * loop of `base`. Callable only from the loop's thread. Returns LX_OK,
 * LX_ENOMEM, or LX_ESTATE when the pool is stopping. */
int lx_offload_submit(lx_offload *p, void (*work)(void *arg), void (*done)(void *arg, int status),
                      void *arg);

/* Jobs queued or running. */
size_t lx_offload_pending(const lx_offload *p);

/* Stops the pool: jobs not yet started get done(arg, LX_ECANCELED); jobs
 * running are waited for and get done(arg, LX_OK); then the threads are
 * joined and everything freed. All done callbacks run before it returns. */
void lx_offload_free(lx_offload *p);

#endif
