/*
 * Synthesized answers as files shared by all workers (cache.h).
 */
#define _GNU_SOURCE 1

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cache.h"
#include "proto.h"

#define CACHE_FORMAT "lexiaid-tts-cache-1"
#define CACHE_SCAN_EVERY 64         /* writes between looks at the directory */
#define CACHE_MAX_FILE (1ull << 30) /* larger files are not ours */
#define CACHE_SETTLE_MS 5000        /* a look this long after writes, whatever the counts say */

struct speech_cache {
    const lx_host *h;
    lx_worker *w;
    char *dir;
    size_t max;
    size_t approx;    /* bytes there, as far as this worker knows */
    int n_puts;       /* since the last look */
    int is_scanning;  /* a look is on the pool */
    size_t meanwhile; /* bytes written while it is: its listing may miss them */
    int wrote;        /* a write (or a skipped look) since the last settle look */
    lx_timer *settle; /* the settle look's timer, while armed */
    struct cache_share *share;
};

/* What jobs on the pool share with the cache, which may be freed before
 * they end (their done runs when the worker's pool stops). */
typedef struct cache_share {
    int refs;        /* the cache and each job */
    int cache_alive; /* 0 once speech_cache_free ran */
} cache_share;

static void cache_share_drop(cache_share *sh)
{
    if (--sh->refs == 0)
        free(sh);
}

/* ------------------------------------------------------------------------ */
/* Keys and paths                                                           */

void speech_cache_key(const char *voice, int32_t rate_milli, int32_t pitch_centi, uint32_t kbps,
                      uint32_t pause_ms, const char *text, size_t len,
                      char key[SPEECH_CACHE_KEY_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[32];
    unsigned int mdlen = 0;
    char head[256];
    int n = snprintf(head, sizeof(head), "%s\n%d\n%s\n%d\n%d\n%u\n%u\n", CACHE_FORMAT,
                     SPEECH_PROTO_VERSION, voice, (int)rate_milli, (int)pitch_centi, (unsigned)kbps,
                     (unsigned)pause_ms);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    memset(md, 0, sizeof(md));
    if (ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
        EVP_DigestUpdate(ctx, head, n > 0 && (size_t)n < sizeof(head) ? (size_t)n : 0) == 1 &&
        EVP_DigestUpdate(ctx, text, len) == 1)
        EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    for (int i = 0; i < 32; i++) {
        key[2 * i] = hex[md[i] >> 4];
        key[2 * i + 1] = hex[md[i] & 15];
    }
    key[SPEECH_CACHE_KEY_LEN] = '\0';
}

static int cache_mkdirs(const char *path)
{
    char buf[4096];
    size_t len = strlen(path);

    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0750) != 0 && errno != EEXIST)
            return -1;
        buf[i] = c;
    }
    return 0;
}

int speech_cache_prepare(const char *dir, char *err, size_t errlen)
{
    if (cache_mkdirs(dir) != 0) {
        snprintf(err, errlen, "cannot make the speech cache directory %s: %s", dir,
                 strerror(errno));
        return LX_EIO;
    }
    return LX_OK;
}

/* ------------------------------------------------------------------------ */
/* Jobs on the offload pool                                                 */

typedef struct cache_job {
    speech_cache *c;
    cache_share *share;
    char *dir;
    char key[SPEECH_CACHE_KEY_LEN + 1];
    size_t max;
    speech_body *body;
    void (*done)(void *arg, speech_body *b);
    void *arg;
    size_t written; /* put: bytes written */
    int scan;       /* put: look at the directory after writing */
    size_t total;   /* scan: bytes there after it */
    int scanned;
} cache_job;

static void cache_path(const cache_job *j, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%.2s/%s.json", j->dir, j->key, j->key);
}

static void cache_get_work(void *arg)
{
    cache_job *j = arg;
    char path[4200];
    struct stat sb;
    int fd;

    cache_path(j, path, sizeof(path));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0 &&
        (unsigned long long)sb.st_size < CACHE_MAX_FILE) {
        speech_body *b = speech_body_alloc((size_t)sb.st_size);
        size_t got = 0;

        while (b != NULL && got < b->len) {
            ssize_t n = read(fd, b->data + got, b->len - got);

            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        if (b != NULL && got == b->len && speech_body_locate(b) == LX_OK) {
            j->body = b;
            futimens(fd, NULL); /* recently used */
        } else if (b != NULL) {
            free(b); /* not on the loop yet: nobody else holds it */
        }
    }
    close(fd);
}

static void cache_get_done(void *arg, int status)
{
    cache_job *j = arg;
    speech_body *b = status == LX_OK ? j->body : NULL;

    if (status != LX_OK && j->body != NULL)
        speech_body_unref(j->body);
    j->done(j->arg, b);
    free(j->dir);
    free(j);
}

int speech_cache_get(speech_cache *c, const char *key, void (*done)(void *arg, speech_body *b),
                     void *arg)
{
    cache_job *j = calloc(1, sizeof(*j));

    if (j == NULL || (j->dir = strdup(c->dir)) == NULL) {
        free(j);
        return LX_ENOMEM;
    }
    snprintf(j->key, sizeof(j->key), "%s", key);
    j->done = done;
    j->arg = arg;
    if (c->h->offload(c->w, cache_get_work, cache_get_done, j) != LX_OK) {
        free(j->dir);
        free(j);
        return LX_ENOMEM;
    }
    return LX_OK;
}

typedef struct cache_entry {
    time_t mtime;
    long nsec;
    off_t size;
    char name[SPEECH_CACHE_KEY_LEN + 8];
    char sub[3];
} cache_entry;

static int cache_entry_cmp(const void *a, const void *b)
{
    const cache_entry *x = a, *y = b;

    if (x->mtime != y->mtime)
        return x->mtime < y->mtime ? -1 : 1;
    return x->nsec < y->nsec ? -1 : x->nsec > y->nsec;
}

/* Lists the answers, and removes the least recently used down to 90% of
 * the bound when over it. Skipped (scanned 0) when another worker is at
 * it. */
static void cache_scan(cache_job *j)
{
    char path[4200];
    cache_entry *e = NULL;
    size_t n = 0, cap = 0, total = 0;
    DIR *top;
    int lock;

    snprintf(path, sizeof(path), "%s/.evict.lock", j->dir);
    lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) != 0) {
        if (lock >= 0)
            close(lock);
        return;
    }
    top = opendir(j->dir);
    for (struct dirent *d; top != NULL && (d = readdir(top)) != NULL;) {
        DIR *sub;

        if (strlen(d->d_name) != 2 || d->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", j->dir, d->d_name);
        sub = opendir(path);
        for (struct dirent *f; sub != NULL && (f = readdir(sub)) != NULL;) {
            struct stat sb;

            if (f->d_name[0] == '.' || strlen(f->d_name) >= sizeof(e->name) ||
                fstatat(dirfd(sub), f->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
                !S_ISREG(sb.st_mode))
                continue;
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 256;
                cache_entry *q = realloc(e, nc * sizeof(*e));

                if (q == NULL)
                    break;
                e = q;
                cap = nc;
            }
            e[n].mtime = sb.st_mtim.tv_sec;
            e[n].nsec = sb.st_mtim.tv_nsec;
            e[n].size = sb.st_size;
            snprintf(e[n].name, sizeof(e[n].name), "%s", f->d_name);
            snprintf(e[n].sub, sizeof(e[n].sub), "%s", d->d_name);
            total += (size_t)sb.st_size;
            n++;
        }
        if (sub != NULL)
            closedir(sub);
    }
    if (top != NULL)
        closedir(top);
    if (total > j->max && n > 0) {
        size_t goal = j->max / 10 * 9;

        qsort(e, n, sizeof(*e), cache_entry_cmp);
        for (size_t i = 0; i < n && total > goal; i++) {
            snprintf(path, sizeof(path), "%s/%s/%s", j->dir, e[i].sub, e[i].name);
            if (unlink(path) == 0 || errno == ENOENT)
                total -= (size_t)e[i].size;
        }
    }
    free(e);
    close(lock); /* releases the lock */
    j->total = total;
    j->scanned = 1;
}

static void cache_put_work(void *arg)
{
    cache_job *j = arg;
    char path[4200], tmp[4300];
    const char *p;
    size_t left;
    int fd;

    if (j->body != NULL) {
        snprintf(path, sizeof(path), "%s/%.2s", j->dir, j->key);
        if (mkdir(path, 0750) != 0 && errno != EEXIST)
            goto scan;
        cache_path(j, path, sizeof(path));
        snprintf(tmp, sizeof(tmp), "%s/%.2s/.%s.%d.tmp", j->dir, j->key, j->key, (int)getpid());
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
        if (fd < 0)
            goto scan;
        p = j->body->data;
        left = j->body->len;
        while (left > 0) {
            ssize_t n = write(fd, p, left);

            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            p += n;
            left -= (size_t)n;
        }
        if (close(fd) == 0 && left == 0 && rename(tmp, path) == 0)
            j->written = j->body->len;
        else
            unlink(tmp);
    }
scan:
    if (j->scan)
        cache_scan(j);
}

static void cache_submit(speech_cache *c, const char *key, speech_body *b);

/* The settle look: CACHE_SETTLE_MS after a write, the directory is listed
 * whatever this worker's count says. The count knows only this worker's
 * writes (every worker writes to the one directory, so together they can
 * pass the bound with each one's count under it), and a look that another
 * worker's made it skip, or that listed before a write landed, leaves it
 * short. At most one look per CACHE_SETTLE_MS per worker, and none while
 * nothing is written. */
static void cache_settle(void *arg)
{
    speech_cache *c = arg;

    c->settle = NULL; /* a one-shot timer frees itself */
    if (c->is_scanning) {
        c->settle = c->h->timer_start(c->w, CACHE_SETTLE_MS, 0, cache_settle, c);
        return;
    }
    c->wrote = 0;
    cache_submit(c, NULL, NULL);
}

static void cache_put_done(void *arg, int status)
{
    cache_job *j = arg;
    speech_cache *rescan = NULL;

    (void)status;
    if (j->body != NULL)
        speech_body_unref(j->body);
    if (j->share->cache_alive) {
        speech_cache *c = j->c;
        int grew = j->written > 0;

        if (j->scan) {
            /* Writes that ended while it looked may be missing from its
             * listing (they count again, to be safe); without a look (another
             * worker was at it) they are in approx already. */
            c->approx = j->scanned ? j->total + c->meanwhile : c->approx + j->written;
            grew |= c->meanwhile > 0;
            c->meanwhile = 0;
            c->is_scanning = 0;
        } else {
            c->approx += j->written;
            if (c->is_scanning)
                c->meanwhile += j->written;
        }
        /* A write that passed the bound while a look was on the pool (so
         * it could not look itself), or that the look may have missed, or
         * whose own look found another worker at it, gets a look now:
         * otherwise the cache stays over its bound until the next write.
         * Only after a write, so that a look that cannot remove files, or
         * that another worker keeps skipping, does not loop. */
        if (grew && c->approx > c->max && !c->is_scanning)
            rescan = c;
        if (j->written > 0 || (j->scan && !j->scanned))
            c->wrote = 1;
        if (c->wrote && c->settle == NULL)
            c->settle = c->h->timer_start(c->w, CACHE_SETTLE_MS, 0, cache_settle, c);
    }
    cache_share_drop(j->share);
    free(j->dir);
    free(j);
    if (rescan != NULL)
        cache_submit(rescan, NULL, NULL);
}

/* Starts a put of b (or only a look when b is NULL). */
static void cache_submit(speech_cache *c, const char *key, speech_body *b)
{
    cache_job *j = calloc(1, sizeof(*j));

    if (j == NULL || (j->dir = strdup(c->dir)) == NULL) {
        free(j);
        return;
    }
    j->c = c;
    j->share = c->share;
    j->max = c->max;
    if (key != NULL)
        snprintf(j->key, sizeof(j->key), "%s", key);
    if (b != NULL) {
        speech_body_ref(b);
        j->body = b;
        c->n_puts++;
    }
    /* Look at the directory when starting, when this worker's count says
     * the bound is passed, and every CACHE_SCAN_EVERY writes (the other
     * workers write too). */
    if (!c->is_scanning &&
        (b == NULL || c->approx + b->len > c->max || c->n_puts >= CACHE_SCAN_EVERY)) {
        j->scan = 1;
        c->is_scanning = 1;
        c->n_puts = 0;
    }
    c->share->refs++;
    if (c->h->offload(c->w, cache_put_work, cache_put_done, j) != LX_OK) {
        c->share->refs--;
        if (j->scan)
            c->is_scanning = 0;
        if (b != NULL)
            speech_body_unref(b);
        free(j->dir);
        free(j);
    }
}

void speech_cache_put(speech_cache *c, const char *key, speech_body *b)
{
    if (c != NULL && b != NULL)
        cache_submit(c, key, b);
}

speech_cache *speech_cache_new(const lx_host *host, lx_worker *w, const char *dir, size_t max_bytes)
{
    speech_cache *c = calloc(1, sizeof(*c));

    if (c == NULL || (c->dir = strdup(dir)) == NULL ||
        (c->share = calloc(1, sizeof(*c->share))) == NULL) {
        if (c != NULL)
            free(c->dir);
        free(c);
        return NULL;
    }
    c->h = host;
    c->w = w;
    c->max = max_bytes;
    c->share->refs = 1;
    c->share->cache_alive = 1;
    cache_submit(c, NULL, NULL); /* what is there already */
    return c;
}

void speech_cache_free(speech_cache *c)
{
    if (c == NULL)
        return;
    if (c->settle != NULL)
        c->h->timer_stop(c->settle);
    c->share->cache_alive = 0;
    cache_share_drop(c->share);
    free(c->dir);
    free(c);
}
