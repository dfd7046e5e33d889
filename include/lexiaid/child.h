/*
 * lexiaid plugin SDK: child processes on pipes.
 *
 * Part of the SDK's helper library, liblexiaid_sdk (sdk/child.c). Work that
 * must not run inside a worker (parsers of untrusted files, engines with
 * process-global state) runs in a child program: the storage plugin's
 * lexiaid-extract (one child per file, driven with poll from one of the
 * plugin's extraction threads) and the speech plugin's lexiaid-speech (long-lived helpers, driven
 * by the worker loop through host->watch_start). Both start their children
 * here, so that every child starts the same clean way:
 *
 *   - stdin, stdout and (unless LX_CHILD_INHERIT_STDERR) stderr on pipes
 *     whose other ends are ours: close-on-exec (a child started by another
 *     thread never inherits them), non-blocking, and above fd 2 (a daemon
 *     may run with 0-2 closed, and dup2 must not clobber a pipe);
 *   - in the child: no signal blocked, every disposition default (offload
 *     threads block signals and workers ignore SIGPIPE), only fds 0-2 open;
 *   - the environment: ours, with `env_set` replacing or adding variables.
 *
 * No global state; every function is safe on any thread. Whoever spawns a
 * child reaps it (lx_child_reap or lx_child_kill): nothing else in a
 * worker calls waitpid(-1).
 */
#ifndef LEXIAID_CHILD_H
#define LEXIAID_CHILD_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lx_child {
    pid_t pid;  /* > 0 from the spawn until reaped */
    int in_fd;  /* our end of the child's stdin (we write), or -1 */
    int out_fd; /* our end of its stdout (we read), or -1 */
    int err_fd; /* our end of its stderr (we read), or -1 */
    int status; /* waitpid()'s status once reaped */
} lx_child;

#define LX_CHILD_INHERIT_STDERR 0x1u /* the child writes to our stderr */

/* Starts argv[0] (a path; argv NULL-terminated, borrowed for the call) as
 * described above; env_set is a NULL-terminated list of "NAME=value"
 * strings, or NULL. Returns 0 with *c filled, or an errno value (posix_spawn's
 * or a pipe's) with c->pid 0 and every fd -1. */
int lx_child_spawn(lx_child *c, char *const argv[], const char *const env_set[], unsigned flags);

/* Reaps the child if it has exited, without waiting: 1 when it is gone
 * (c->status set; a child someone else reaped reads as "exited 127"),
 * 0 while it runs. */
int lx_child_reap(lx_child *c);

/* SIGKILL, then waits for the kernel to end it and reaps it. No-op once
 * reaped. */
void lx_child_kill(lx_child *c);

/* Closes our ends that are still open (sets them to -1). */
void lx_child_close(lx_child *c);

/* A waitpid() status for a person: "exited with status 3", "was killed
 * by signal 9 (Killed)". */
void lx_child_describe(int status, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
