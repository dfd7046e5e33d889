/*
 * The threads that run text extraction in a worker, apart from the core's
 * offload pool.
 *
 * An extraction waits for a child process for up to extract_timeout
 * (two minutes by default). On the core's offload pool that wait held one
 * of the few threads every database job of the worker needs; here it holds
 * one of extract_concurrency threads of its own, and nothing else waits
 * for them. The plugin API has no way to watch a descriptor on the loop,
 * so finished work is collected by a timer on the loop that runs every
 * STORAGE_XPOOL_POLL_MS while any work is out, and only then.
 *
 * Threads: storage_xpool_new, _submit and _free run on the worker loop;
 * work(arg, cancel_fd) runs on a pool thread (it may call no host
 * function but host->log); done(arg, status) runs on the loop.
 */
#ifndef STORAGE_EXTRACT_POOL_H
#define STORAGE_EXTRACT_POOL_H

#include <lexiaid/plugin.h>

#define STORAGE_XPOOL_POLL_MS 10

typedef struct storage_xpool storage_xpool;

/* A pool of n_threads (1-64) threads on loop w, started as work comes.
 * LX_OK, LX_EINVAL or LX_ENOMEM. */
int storage_xpool_new(const lx_host *host, lx_worker *w, int n_threads, storage_xpool **out);

/* Queues work(arg, cancel_fd) (FIFO); cancel_fd becomes readable when the
 * pool is freed meanwhile (storage_extract_cancellable watches it). Then
 * done(arg, LX_OK) on the loop; or done(arg, LX_ECANCELED) when the pool
 * is freed before the work began. LX_OK, or LX_ENOMEM (or LX_ECANCELED
 * from a done run by storage_xpool_free) and nothing runs. */
int storage_xpool_submit(storage_xpool *p, void (*work)(void *arg, int cancel_fd),
                         void (*done)(void *arg, int status), void *arg);

/* Work submitted whose done has not run. */
int storage_xpool_n_out(const storage_xpool *p);

/* Makes cancel_fd readable, cancels the work not begun, waits for the
 * threads (the work they run sees the cancel and ends soon: the child is
 * killed), runs every done, and frees the pool. Blocks the loop that
 * long: for worker_stop. NULL is fine. */
void storage_xpool_free(storage_xpool *p);

#endif
