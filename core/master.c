#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/util.h>

#include "datadir.h"
#include "host.h"
#include "log.h"
#include "master.h"
#include "worker.h"

#define LX_MAX_GENS 8
#define LX_BACKOFF_MIN_MS 100
#define LX_BACKOFF_MAX_MS 30000
#define LX_QUICK_DEATH_US 2000000u /* a worker dying sooner is in a crash loop */

typedef struct lx_child {
    pid_t pid;                /* 0 when the slot waits for a restart */
    int index;
    int gen;
    uint64_t started_us;
    uint64_t restart_at_us;   /* when pid == 0 */
    uint64_t backoff_ms;
} lx_child;

typedef struct lx_gen {
    lx_runtime *rt;
    int listen_fd;
    int lock_fd;              /* the data directory's lock (datadir.h); shared like listen_fd */
    char addr[128];
    int is_retiring;
    uint64_t kill_at_us;      /* retiring workers still alive then get SIGKILL */
} lx_gen;

static struct {
    const char *conf_path; /* NULL: the embedded config */
    const char *embedded;
    lx_gen gens[LX_MAX_GENS];
    int n_gens;               /* gens[n_gens - 1] is the current one */
    int next_gen;
    lx_child *children;
    size_t n_children;
    int is_stopping;
    uint64_t kill_at_us;
} M;

/* ------------------------------------------------------------------ */
/* The listening socket                                                */

static int lx_listen_open(const char *addr, int backlog, char *bound, size_t boundlen, char *err,
                          size_t errlen)
{
    struct sockaddr_storage ss;
    int sslen = sizeof(ss);
    int fd = -1, one = 1;

    memset(&ss, 0, sizeof(ss));
    if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss, &sslen) != 0) {
        /* a host name: resolve it (blocking is fine before serving) */
        char host[256];
        const char *colon = strrchr(addr, ':');
        if (colon == NULL || (size_t)(colon - addr) >= sizeof(host)) {
            snprintf(err, errlen, "listen address '%s' is not HOST:PORT", addr);
            return -1;
        }
        memcpy(host, addr, (size_t)(colon - addr));
        host[colon - addr] = '\0';
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                                 .ai_flags = AI_PASSIVE}, *res = NULL;
        int gai = getaddrinfo(host, colon + 1, &hints, &res);
        if (gai != 0 || res == NULL) {
            snprintf(err, errlen, "cannot resolve listen address '%s': %s", addr,
                     gai_strerror(gai));
            return -1;
        }
        memcpy(&ss, res->ai_addr, res->ai_addrlen);
        sslen = (int)res->ai_addrlen;
        freeaddrinfo(res);
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss.ss_family == AF_INET6) {
        int zero = 0;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    }
    if (bind(fd, (struct sockaddr *)&ss, (socklen_t)sslen) != 0)
        goto fail;
    if (listen(fd, backlog) != 0)
        goto fail;

    socklen_t blen = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &blen);
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
        port = ntohs(sin->sin_port);
        snprintf(bound, boundlen, "%s:%d", ip, port);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
        port = ntohs(sin6->sin6_port);
        snprintf(bound, boundlen, "[%s]:%d", ip, port);
    }
    return fd;
fail:
    snprintf(err, errlen, "cannot listen on %s: %s", addr, strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

/* ------------------------------------------------------------------ */
/* Workers                                                             */

static lx_gen *lx_current_gen(void)
{
    return M.n_gens > 0 ? &M.gens[M.n_gens - 1] : NULL;
}

static lx_gen *lx_gen_of(int gen_id)
{
    for (int i = 0; i < M.n_gens; i++)
        if (M.gens[i].rt->generation == gen_id)
            return &M.gens[i];
    return NULL;
}

static int lx_spawn(lx_child *c, lx_gen *g)
{
    pid_t master = getpid();

    lx_log_flush();
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        lx_log(LX_LOG_ERROR, "core", NULL, "cannot fork worker %d: %s", c->index, strerror(errno));
        return -1;
    }
    if (pid == 0) {
        /* A worker never outlives its master: when the master dies, the
         * kernel sends SIGTERM, which the worker takes as a drain (requests
         * in flight end within shutdown_grace, then it exits). A master
         * that died before prctl() took effect has already left us to
         * another parent: stop now, nothing is in flight yet. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != master)
            _exit(0);
        /* the worker: close what belongs to other generations (it keeps
         * its own generation's data directory lock: see datadir.h) */
        for (int i = 0; i < M.n_gens; i++) {
            if (&M.gens[i] != g && M.gens[i].listen_fd >= 0 &&
                M.gens[i].listen_fd != g->listen_fd)
                close(M.gens[i].listen_fd);
            if (&M.gens[i] != g && M.gens[i].lock_fd >= 0 && M.gens[i].lock_fd != g->lock_fd)
                close(M.gens[i].lock_fd);
        }
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_DFL;
        sigaction(SIGCHLD, &sa, NULL);
        exit(lx_worker_run(g->rt, c->index, g->listen_fd));
    }
    c->pid = pid;
    c->gen = g->rt->generation;
    c->started_us = lx_now_us();
    return 0;
}

static lx_child *lx_child_add(void)
{
    lx_child *ch = realloc(M.children, (M.n_children + 1) * sizeof(*ch));
    if (ch == NULL)
        return NULL;
    M.children = ch;
    memset(&ch[M.n_children], 0, sizeof(*ch));
    return &ch[M.n_children++];
}

static void lx_child_remove(size_t i)
{
    M.children[i] = M.children[M.n_children - 1];
    M.n_children--;
}

static int lx_spawn_generation(lx_gen *g)
{
    int n = g->rt->conf->server.workers;
    for (int i = 0; i < n; i++) {
        lx_child *c = lx_child_add();
        if (c == NULL)
            return -1;
        c->index = i;
        if (lx_spawn(c, g) != 0) {
            c->restart_at_us = lx_now_us() + LX_BACKOFF_MIN_MS * 1000u;
            c->backoff_ms = LX_BACKOFF_MIN_MS;
        }
    }
    return 0;
}

static void lx_signal_gen(int gen_id, int sig)
{
    for (size_t i = 0; i < M.n_children; i++)
        if (M.children[i].gen == gen_id && M.children[i].pid > 0)
            kill(M.children[i].pid, sig);
}

static void lx_gen_free(lx_gen *g)
{
    lx_gen *cur = lx_current_gen();
    int fd_shared = 0, lock_shared = 0;
    for (int i = 0; i < M.n_gens; i++) {
        if (&M.gens[i] != g && M.gens[i].listen_fd == g->listen_fd)
            fd_shared = 1;
        if (&M.gens[i] != g && M.gens[i].lock_fd == g->lock_fd)
            lock_shared = 1;
    }
    if (!fd_shared && g->listen_fd >= 0)
        close(g->listen_fd);
    if (!lock_shared && g->lock_fd >= 0)
        close(g->lock_fd);
    lx_runtime_free(g->rt, 1);
    (void)cur;
    int idx = (int)(g - M.gens);
    memmove(&M.gens[idx], &M.gens[idx + 1], (size_t)(M.n_gens - idx - 1) * sizeof(*g));
    M.n_gens--;
    if (M.n_gens > 0)
        lx_current_runtime = lx_current_gen()->rt;
    else
        lx_current_runtime = NULL;
}

/* Frees retired generations whose workers are all gone. */
static void lx_reap_generations(void)
{
    for (int i = 0; i < M.n_gens;) {
        lx_gen *g = &M.gens[i];
        int alive = 0;
        if (!g->is_retiring && !M.is_stopping) {
            i++;
            continue;
        }
        for (size_t k = 0; k < M.n_children; k++)
            if (M.children[k].gen == g->rt->generation)
                alive = 1;
        if (alive) {
            i++;
            continue;
        }
        if (g->is_retiring)
            lx_log(LX_LOG_INFO, "core", NULL, "generation %d drained", g->rt->generation);
        lx_gen_free(g);
    }
}

static void lx_describe_status(int status, char *buf, size_t len)
{
    if (WIFSIGNALED(status))
        snprintf(buf, len, "was killed by signal %d (%s)%s", WTERMSIG(status),
                 strsignal(WTERMSIG(status)), WCOREDUMP(status) ? ", core dumped" : "");
    else if (WIFEXITED(status))
        snprintf(buf, len, "exited with code %d", WEXITSTATUS(status));
    else
        snprintf(buf, len, "ended with status %d", status);
}

static void lx_reap_children(void)
{
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        size_t i;
        for (i = 0; i < M.n_children; i++)
            if (M.children[i].pid == pid)
                break;
        if (i == M.n_children)
            continue; /* not ours: an orphan reaped because we are PID 1 */
        lx_child *c = &M.children[i];
        lx_gen *g = lx_gen_of(c->gen);
        char what[128];
        lx_describe_status(status, what, sizeof(what));
        int is_clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;

        if (M.is_stopping || g == NULL || g->is_retiring) {
            lx_log(is_clean ? LX_LOG_DEBUG : LX_LOG_WARN, "core", NULL,
                   "worker %d (pid %d) of generation %d %s", c->index, (int)pid, c->gen, what);
            lx_child_remove(i);
            continue;
        }
        uint64_t now = lx_now_us();
        if (now - c->started_us < LX_QUICK_DEATH_US)
            c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : LX_BACKOFF_MIN_MS;
        else
            c->backoff_ms = 0;
        if (c->backoff_ms > LX_BACKOFF_MAX_MS)
            c->backoff_ms = LX_BACKOFF_MAX_MS;
        c->pid = 0;
        c->restart_at_us = now + c->backoff_ms * 1000u;
        lx_log(LX_LOG_ERROR, "core", NULL, "worker %d (pid %d) %s; restarting it in %llu ms",
               c->index, (int)pid, what, (unsigned long long)c->backoff_ms);
    }
}

static void lx_restart_due(void)
{
    uint64_t now = lx_now_us();
    lx_gen *g = lx_current_gen();
    if (M.is_stopping || g == NULL)
        return;
    for (size_t i = 0; i < M.n_children; i++) {
        lx_child *c = &M.children[i];
        if (c->pid != 0 || c->gen != g->rt->generation || c->restart_at_us > now)
            continue;
        if (lx_spawn(c, g) == 0)
            lx_metrics_count_restart();
        else
            c->restart_at_us = now + LX_BACKOFF_MAX_MS * 1000u;
    }
}

/* ------------------------------------------------------------------ */
/* Reload                                                              */

static int lx_load_conf(lx_conf **conf, lx_errs *errs)
{
    if (M.conf_path != NULL)
        return lx_conf_load(M.conf_path, conf, errs);
    return lx_conf_load_string(M.embedded, "<embedded>", conf, errs);
}

static void lx_reload(void)
{
    lx_errs errs = {0};
    lx_conf *conf = NULL;
    lx_gen *cur = lx_current_gen();
    char err[512];

    lx_log(LX_LOG_INFO, "core", NULL, "SIGHUP: reloading %s",
           M.conf_path ? M.conf_path : "the embedded configuration");
    if (M.n_gens >= LX_MAX_GENS) {
        lx_log(LX_LOG_ERROR, "core", NULL,
               "reload refused: %d generations are still draining", M.n_gens - 1);
        return;
    }
    int rc = lx_load_conf(&conf, &errs);
    if (rc != LX_OK || conf == NULL)
        goto failed;

    lx_gen ng = {.listen_fd = cur->listen_fd, .lock_fd = cur->lock_fd, .is_retiring = 0};
    int is_new_socket = 0, is_new_lock = 0;
    snprintf(ng.addr, sizeof(ng.addr), "%s", cur->addr);
    /* Another data directory: lock it before any init touches it; the old
     * one stays locked until the old generation has drained. */
    if (!lx_datadir_is_locked(cur->lock_fd, conf->server.data_dir)) {
        ng.lock_fd = lx_datadir_lock(conf->server.data_dir, err, sizeof(err));
        if (ng.lock_fd < 0) {
            lx_errs_add(&errs, "%s: %s", conf->file, err);
            lx_conf_free(conf);
            goto failed;
        }
        is_new_lock = 1;
    }
    if (strcmp(conf->server.listen, cur->rt->conf->server.listen) != 0) {
        ng.listen_fd = lx_listen_open(conf->server.listen, conf->server.backlog, ng.addr,
                                      sizeof(ng.addr), err, sizeof(err));
        if (ng.listen_fd < 0) {
            lx_errs_add(&errs, "%s: %s", conf->file, err);
            lx_conf_free(conf);
            if (is_new_lock)
                close(ng.lock_fd);
            goto failed;
        }
        is_new_socket = 1;
    }
    rc = lx_runtime_build(conf, M.next_gen, 1, lx_host_get(), &ng.rt, &errs);
    if (rc == LX_OK && lx_runtime_prepare_metrics(ng.rt) != LX_OK) {
        lx_errs_add(&errs, "out of memory for the metrics");
        lx_runtime_free(ng.rt, 1);
        rc = LX_ENOMEM;
    }
    if (rc == LX_OK && ng.rt->uses_http_client && lx_httpc_preload(err, sizeof(err)) != LX_OK) {
        lx_errs_add(&errs, "%s", err);
        lx_runtime_free(ng.rt, 1);
        rc = LX_ERROR;
    }
    if (rc != LX_OK) {
        if (is_new_socket)
            close(ng.listen_fd);
        if (is_new_lock)
            close(ng.lock_fd);
        goto failed;
    }
    M.next_gen++;
    lx_log_setup(ng.rt->conf->server.log_level, ng.rt->conf->server.log_format, 0);

    /* New workers first, then drain the old ones: the socket never stops
     * accepting, so no connection is refused. */
    int old_gen = cur->rt->generation;
    cur->is_retiring = 1;
    cur->kill_at_us =
        lx_now_us() + (uint64_t)cur->rt->conf->server.shutdown_grace_ms * 1000u + 5000000u;
    M.gens[M.n_gens++] = ng;
    lx_current_runtime = ng.rt;
    lx_spawn_generation(&M.gens[M.n_gens - 1]);
    lx_signal_gen(old_gen, SIGTERM);
    /* restarts pending for the old generation are dropped */
    for (size_t i = 0; i < M.n_children;)
        if (M.children[i].gen == old_gen && M.children[i].pid == 0)
            lx_child_remove(i);
        else
            i++;
    lx_log(LX_LOG_INFO, "core", NULL, "generation %d serving on %s with %d workers",
           ng.rt->generation, ng.addr, ng.rt->conf->server.workers);
    lx_errs_clear(&errs);
    return;
failed:
    for (size_t i = 0; i < errs.n_lines; i++)
        lx_log(LX_LOG_ERROR, "core", NULL, "reload failed, still serving the old configuration: %s",
               errs.lines[i]);
    if (errs.n_lines == 0)
        lx_log(LX_LOG_ERROR, "core", NULL, "reload failed, still serving the old configuration");
    lx_errs_clear(&errs);
}

/* ------------------------------------------------------------------ */
/* The loop                                                            */

static void lx_noop_handler(int sig)
{
    (void)sig;
}

static void lx_begin_stop(int sig)
{
    lx_gen *cur = lx_current_gen();
    int is_fast = sig == SIGQUIT;
    if (M.is_stopping && !is_fast)
        return;
    M.is_stopping = 1;
    long long grace = cur ? cur->rt->conf->server.shutdown_grace_ms : 10000;
    M.kill_at_us = lx_now_us() + (uint64_t)grace * 1000u + 2000000u;
    lx_log(LX_LOG_INFO, "core", NULL, "%s: stopping%s", strsignal(sig),
           is_fast ? " now" : " after the requests in flight");
    for (size_t i = 0; i < M.n_children; i++)
        if (M.children[i].pid > 0)
            kill(M.children[i].pid, is_fast ? SIGQUIT : SIGTERM);
    /* slots waiting for a restart are dropped */
    for (size_t i = 0; i < M.n_children;)
        if (M.children[i].pid == 0)
            lx_child_remove(i);
        else
            i++;
}

static uint64_t lx_next_wakeup(void)
{
    uint64_t next = lx_now_us() + 1000000u;
    for (size_t i = 0; i < M.n_children; i++)
        if (M.children[i].pid == 0 && M.children[i].restart_at_us < next)
            next = M.children[i].restart_at_us;
    for (int i = 0; i < M.n_gens; i++)
        if (M.gens[i].is_retiring && M.gens[i].kill_at_us < next)
            next = M.gens[i].kill_at_us;
    if (M.is_stopping && M.kill_at_us < next)
        next = M.kill_at_us;
    return next;
}

static void lx_kill_overdue(void)
{
    uint64_t now = lx_now_us();
    for (int i = 0; i < M.n_gens; i++)
        if (M.gens[i].is_retiring && now >= M.gens[i].kill_at_us) {
            lx_signal_gen(M.gens[i].rt->generation, SIGKILL);
            M.gens[i].kill_at_us = UINT64_MAX;
        }
    if (M.is_stopping && now >= M.kill_at_us) {
        for (size_t i = 0; i < M.n_children; i++)
            if (M.children[i].pid > 0) {
                lx_log(LX_LOG_WARN, "core", NULL, "worker %d (pid %d) did not stop in time: killed",
                       M.children[i].index, (int)M.children[i].pid);
                kill(M.children[i].pid, SIGKILL);
            }
        M.kill_at_us = UINT64_MAX;
    }
}

int lx_master_run(const char *conf_path, const char *embedded, lx_runtime *rt)
{
    char err[512];
    sigset_t set;
    struct sigaction sa;

    M.conf_path = conf_path;
    M.embedded = embedded;
    M.next_gen = rt->generation + 1;

    /* Before any plugin's init touches anything: the data directory's lock
     * (one server per directory), then the listening socket (an address in
     * use refuses here, not after the plugins' start-up work), then the
     * plugins' init. All before the signals are ours: a SIGTERM during a
     * long init stops the start at once. */
    lx_gen g = {.rt = rt, .listen_fd = -1, .is_retiring = 0};
    g.lock_fd = lx_datadir_lock(rt->conf->server.data_dir, err, sizeof(err));
    if (g.lock_fd >= 0)
        g.listen_fd = lx_listen_open(rt->conf->server.listen, rt->conf->server.backlog, g.addr,
                                     sizeof(g.addr), err, sizeof(err));
    if (g.lock_fd < 0 || g.listen_fd < 0) {
        lx_log(LX_LOG_ERROR, "core", NULL, "%s", err);
        fprintf(stderr, "lexiaid: %s\n", err);
        if (g.lock_fd >= 0)
            close(g.lock_fd);
        lx_runtime_free(rt, 1);
        return 1;
    }
    lx_errs errs = {0};
    if (lx_runtime_init(rt, lx_host_get(), &errs) != LX_OK) {
        for (size_t i = 0; i < errs.n_lines; i++)
            fprintf(stderr, "lexiaid: %s\n", errs.lines[i]);
        if (errs.n_lines == 0)
            fprintf(stderr, "lexiaid: %s: a plugin failed to initialise\n",
                    conf_path ? conf_path : "<embedded>");
        lx_errs_clear(&errs);
        close(g.listen_fd);
        close(g.lock_fd);
        lx_runtime_free(rt, 1);
        return 1;
    }

    /* Handled signals are blocked and taken with sigtimedwait. Explicit
     * handlers matter when we are PID 1: the kernel drops signals whose
     * disposition is the default for init. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = lx_noop_handler;
    sigemptyset(&sa.sa_mask);
    int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT};
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        sigaction(sigs[i], &sa, NULL);
        sigaddset(&set, sigs[i]);
    }
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (lx_metrics_global_init() != LX_OK || lx_runtime_prepare_metrics(rt) != LX_OK) {
        fprintf(stderr, "lexiaid: out of memory for the metrics\n");
        close(g.listen_fd);
        close(g.lock_fd);
        lx_runtime_free(rt, 1);
        return 1;
    }
    M.gens[M.n_gens++] = g;
    lx_current_runtime = rt;
    lx_log(LX_LOG_INFO, "core", NULL, "listening on %s", g.addr);
    lx_log(LX_LOG_INFO, "core", NULL, "lexiaid %s (plugin ABI %d.%d): %d workers, %zu plugins, %zu routes",
           PACKAGE_VERSION, LX_ABI_MAJOR, LX_ABI_MINOR, rt->conf->server.workers, rt->plugins->n,
           rt->n_routes);
    lx_spawn_generation(&M.gens[0]);

    for (;;) {
        if (M.is_stopping && M.n_children == 0)
            break;
        uint64_t now = lx_now_us(), next = lx_next_wakeup();
        uint64_t wait = next > now ? next - now : 0;
        struct timespec ts = {(time_t)(wait / 1000000u), (long)((wait % 1000000u) * 1000u)};
        siginfo_t si;
        int sig = sigtimedwait(&set, &si, &ts);

        switch (sig) {
        case SIGCHLD:
            lx_reap_children();
            break;
        case SIGTERM:
        case SIGINT:
        case SIGQUIT:
            lx_begin_stop(sig);
            break;
        case SIGHUP:
            if (!M.is_stopping)
                lx_reload();
            break;
        default:
            break;
        }
        lx_reap_children(); /* SIGCHLDs can coalesce */
        lx_kill_overdue();
        lx_restart_due();
        lx_reap_generations();
    }
    while (M.n_gens > 0)
        lx_gen_free(&M.gens[M.n_gens - 1]);
    free(M.children);
    M.children = NULL;
    lx_log(LX_LOG_INFO, "core", NULL, "stopped");
    return 0;
}
