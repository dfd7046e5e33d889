/*
 * Child processes on pipes (include/lexiaid/child.h): posix_spawn with
 * three close-on-exec pipes, a clean signal state and fds above 2 closed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* pipe2, posix_spawn_file_actions_addclosefrom_np, sigdescr_np */
#endif

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lexiaid/child.h>

extern char **environ;

static void child_close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* A close-on-exec pipe whose ends are both above 2. 0 or an errno. */
static int child_pipe(int fds[2])
{
    if (pipe2(fds, O_CLOEXEC) != 0)
        return errno;
    for (int i = 0; i < 2; i++) {
        if (fds[i] > STDERR_FILENO)
            continue;
        int high = fcntl(fds[i], F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
        int e = errno;

        close(fds[i]);
        fds[i] = high;
        if (high < 0) {
            child_close_fd(&fds[0]);
            child_close_fd(&fds[1]);
            return e;
        }
    }
    return 0;
}

static int child_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0 ? errno : 0;
}

/* environ with env_set applied: a malloc'd array whose strings are
 * borrowed (environ's and env_set's). NULL when out of memory. */
static char **child_env(const char *const env_set[])
{
    size_t n = 0, n_set = 0, j = 0;
    char **env;

    while (environ != NULL && environ[n] != NULL)
        n++;
    while (env_set != NULL && env_set[n_set] != NULL)
        n_set++;
    env = calloc(n + n_set + 1, sizeof(*env));
    if (env == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        int replaced = 0;

        for (size_t k = 0; k < n_set && !replaced; k++) {
            const char *eq = strchr(env_set[k], '=');
            size_t klen = eq != NULL ? (size_t)(eq - env_set[k]) + 1 : strlen(env_set[k]);

            replaced = strncmp(environ[i], env_set[k], klen) == 0;
        }
        if (!replaced)
            env[j++] = environ[i];
    }
    for (size_t k = 0; k < n_set; k++)
        env[j++] = (char *)env_set[k];
    env[j] = NULL;
    return env;
}

int lx_child_spawn(lx_child *c, char *const argv[], const char *const env_set[], unsigned flags)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
    int with_err = !(flags & LX_CHILD_INHERIT_STDERR);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, dfl;
    char **env = NULL;
    int rc, have_fa = 0, have_attr = 0;

    c->pid = 0;
    c->in_fd = c->out_fd = c->err_fd = -1;
    c->status = 0;
    if (argv == NULL || argv[0] == NULL)
        return EINVAL;
    if ((rc = child_pipe(in)) != 0 || (rc = child_pipe(out)) != 0 ||
        (with_err && (rc = child_pipe(errp)) != 0))
        goto done;
    if ((env = child_env(env_set)) == NULL) {
        rc = ENOMEM;
        goto done;
    }
    if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
        goto done;
    have_fa = 1;
    if ((rc = posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO)) != 0 ||
        (rc = posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO)) != 0 ||
        (with_err && (rc = posix_spawn_file_actions_adddup2(&fa, errp[1], STDERR_FILENO)) != 0) ||
        (rc = posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1)) != 0)
        goto done;
    if ((rc = posix_spawnattr_init(&attr)) != 0)
        goto done;
    have_attr = 1;
    sigemptyset(&none);
    sigfillset(&dfl);
    sigdelset(&dfl, SIGKILL);
    sigdelset(&dfl, SIGSTOP);
    if ((rc = posix_spawnattr_setsigmask(&attr, &none)) != 0 ||
        (rc = posix_spawnattr_setsigdefault(&attr, &dfl)) != 0 ||
        (rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)) != 0)
        goto done;
    rc = posix_spawn(&c->pid, argv[0], &fa, &attr, argv, env);
    if (rc != 0) {
        c->pid = 0;
        goto done;
    }
    c->in_fd = in[1];
    c->out_fd = out[0];
    c->err_fd = errp[0];
    in[1] = out[0] = errp[0] = -1;
    if ((rc = child_nonblock(c->in_fd)) != 0 || (rc = child_nonblock(c->out_fd)) != 0 ||
        (c->err_fd >= 0 && (rc = child_nonblock(c->err_fd)) != 0)) {
        lx_child_kill(c);
        lx_child_close(c);
    }

done:
    if (have_attr)
        posix_spawnattr_destroy(&attr);
    if (have_fa)
        posix_spawn_file_actions_destroy(&fa);
    free(env);
    child_close_fd(&in[0]);
    child_close_fd(&in[1]);
    child_close_fd(&out[0]);
    child_close_fd(&out[1]);
    child_close_fd(&errp[0]);
    child_close_fd(&errp[1]);
    return rc;
}

int lx_child_reap(lx_child *c)
{
    pid_t got;

    if (c->pid <= 0)
        return 1;
    do
        got = waitpid(c->pid, &c->status, WNOHANG);
    while (got < 0 && errno == EINTR);
    if (got == 0)
        return 0;
    c->pid = 0;
    if (got < 0)
        c->status = 0x7f00; /* ECHILD: someone else reaped it; "exited 127" */
    return 1;
}

void lx_child_kill(lx_child *c)
{
    pid_t got;

    if (c->pid <= 0)
        return;
    kill(c->pid, SIGKILL);
    do
        got = waitpid(c->pid, &c->status, 0);
    while (got < 0 && errno == EINTR);
    if (got < 0)
        c->status = 0x7f00;
    c->pid = 0;
}

void lx_child_close(lx_child *c)
{
    child_close_fd(&c->in_fd);
    child_close_fd(&c->out_fd);
    child_close_fd(&c->err_fd);
}

void lx_child_describe(int status, char *buf, size_t len)
{
    if (buf == NULL || len == 0)
        return;
    if (WIFSIGNALED(status)) {
        const char *name = sigdescr_np(WTERMSIG(status)); /* thread-safe, unlike strsignal */

        snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(status),
                 name != NULL ? name : "unknown");
    } else if (WIFEXITED(status))
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
    else
        snprintf(buf, len, "stopped (status 0x%x)", (unsigned)status);
}
