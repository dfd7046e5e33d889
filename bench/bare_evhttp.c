/*
 * bare_evhttp: the floor of lexiaid's cost, for bench/run.sh.
 *
 * A minimal libevent evhttp server: NPROCS forked processes, each with its
 * own event_base and its own SO_REUSEPORT listener on 127.0.0.1:PORT, and
 * every request answered 200 {"status":"ok"} (application/json). No routing,
 * no logging, no plugins: the ratio "lexiaid / bare_evhttp" is what the
 * kernel adds on top of evhttp itself.
 *
 * Usage: bare_evhttp PORT [NPROCS]   (NPROCS defaults to 1)
 * The parent only supervises: SIGTERM or SIGINT to it is passed on to the
 * children, which leave their loops; the parent exits 0 once all are reaped.
 *
 * Build: gcc -O2 -o bare_evhttp bare_evhttp.c $(pkg-config --cflags --libs libevent)
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#define MAX_PROCS 256

static const char body[] = "{\"status\":\"ok\"}";

static void on_request(struct evhttp_request *req, void *arg)
{
    struct evbuffer *out = evhttp_request_get_output_buffer(req);
    (void)arg;
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    /* The body is static: hand evbuffer a reference rather than a copy. */
    evbuffer_add_reference(out, body, sizeof body - 1, NULL, NULL);
    evhttp_send_reply(req, 200, "OK", NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopbreak(arg);
}

/* One worker: its own base, its own listener. Returns the exit status. */
static int run_worker(int port)
{
    struct event_base *base = NULL;
    struct evhttp *http = NULL;
    struct evconnlistener *lev = NULL;
    struct event *ev_term = NULL, *ev_int = NULL;
    struct sockaddr_in sin;
    int rc = 1;

    base = event_base_new();
    if (base == NULL) {
        fprintf(stderr, "bare_evhttp[%ld]: event_base_new failed\n", (long)getpid());
        goto out;
    }
    ev_term = evsignal_new(base, SIGTERM, on_signal, base);
    ev_int = evsignal_new(base, SIGINT, on_signal, base);
    if (ev_term == NULL || ev_int == NULL || evsignal_add(ev_term, NULL) != 0 ||
        evsignal_add(ev_int, NULL) != 0) {
        fprintf(stderr, "bare_evhttp[%ld]: cannot watch signals\n", (long)getpid());
        goto out;
    }

    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((unsigned short)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lev = evconnlistener_new_bind(base, NULL, NULL,
                                  LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT |
                                      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                  1024, (struct sockaddr *)&sin, (int)sizeof sin);
    if (lev == NULL) {
        fprintf(stderr, "bare_evhttp[%ld]: bind 127.0.0.1:%d: %s\n", (long)getpid(), port,
                strerror(errno));
        goto out;
    }

    http = evhttp_new(base);
    if (http == NULL) {
        fprintf(stderr, "bare_evhttp[%ld]: evhttp_new failed\n", (long)getpid());
        goto out;
    }
    if (evhttp_bind_listener(http, lev) == NULL) {
        fprintf(stderr, "bare_evhttp[%ld]: evhttp_bind_listener failed\n", (long)getpid());
        goto out;
    }
    lev = NULL; /* owned by http now (CLOSE_ON_FREE: evhttp_free closes it) */
    evhttp_set_gencb(http, on_request, NULL);

    if (event_base_dispatch(base) < 0) {
        fprintf(stderr, "bare_evhttp[%ld]: event_base_dispatch failed\n", (long)getpid());
        goto out;
    }
    rc = 0;

out:
    if (http != NULL)
        evhttp_free(http);
    if (lev != NULL)
        evconnlistener_free(lev);
    if (ev_term != NULL)
        event_free(ev_term);
    if (ev_int != NULL)
        event_free(ev_int);
    if (base != NULL)
        event_base_free(base);
    return rc;
}

static volatile sig_atomic_t got_stop;

static void on_parent_signal(int sig)
{
    if (sig != SIGCHLD)
        got_stop = 1;
}

int main(int argc, char **argv)
{
    pid_t kids[MAX_PROCS];
    struct sigaction sa;
    sigset_t block, orig;
    char *end;
    long port, nprocs = 1;
    int i, live = 0, failed = 0, forwarded = 0, stop = 0;

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s PORT [NPROCS]\n", argv[0]);
        return 2;
    }
    errno = 0;
    port = strtol(argv[1], &end, 10);
    if (errno != 0 || *end != '\0' || port < 1 || port > 65535) {
        fprintf(stderr, "bare_evhttp: bad port '%s'\n", argv[1]);
        return 2;
    }
    if (argc == 3) {
        errno = 0;
        nprocs = strtol(argv[2], &end, 10);
        if (errno != 0 || *end != '\0' || nprocs < 1 || nprocs > MAX_PROCS) {
            fprintf(stderr, "bare_evhttp: bad process count '%s' (1..%d)\n", argv[2], MAX_PROCS);
            return 2;
        }
    }

    /* The parent's handlers are installed before any fork and the signals
     * stay blocked in the parent except inside sigsuspend(), so a signal can
     * never slip in between the check and the wait. Each child resets them
     * and lets libevent take over. SIGCHLD needs a handler (not SIG_IGN's
     * default) for sigsuspend() to return on it. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_parent_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGCHLD, &sa, NULL);
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, &orig);

    for (i = 0; i < nprocs; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("bare_evhttp: fork");
            failed = 1;
            break;
        }
        if (pid == 0) {
            sa.sa_handler = SIG_DFL;
            sigaction(SIGTERM, &sa, NULL);
            sigaction(SIGINT, &sa, NULL);
            sigaction(SIGCHLD, &sa, NULL);
            sigprocmask(SIG_SETMASK, &orig, NULL);
            _exit(run_worker((int)port));
        }
        kids[live++] = pid;
    }
    if (failed)
        stop = 1;

    /* Supervise: a signal is forwarded once; a worker that dies early takes
     * the others down with it (a half-sized server would skew the bench). */
    while (live > 0) {
        int status;
        pid_t pid;

        if (got_stop)
            stop = 1;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            for (i = 0; i < live; i++) {
                if (kids[i] == pid) {
                    kids[i] = kids[--live];
                    break;
                }
            }
            if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
                failed = 1;
            stop = 1; /* a worker is gone (signal or not): stop the rest */
        }
        if (stop && !forwarded) {
            for (i = 0; i < live; i++)
                kill(kids[i], SIGTERM);
            forwarded = 1;
        }
        if (live > 0)
            sigsuspend(&orig);
    }
    return failed ? 1 : 0;
}
