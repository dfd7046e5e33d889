/*
 * The database layer's common part: the connection pool (storage_db),
 * group commit (storage_write), the
 * forwarding of every storage_* call of store.h to the backend of the
 * connection, the *_clear / *_free helpers, the clock, UUIDs and the words
 * of a search query. The backends (store_sqlite.c, store_pg.c) know nothing
 * of the pool; see store_backend.h for what they provide.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "store_backend.h"

struct storage_db {
    const storage_backend *be;
    storage_opts opts; /* the strings point into the copies below */
    char *sqlite_path;
    char *pg_url;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    storage_conn *idle; /* connections nobody holds, a stack */
    int n_open;         /* idle + out + being connected */
    int n_out;          /* held by a caller */

    /* Group commit (storage_write): the writes waiting for the next
     * group, and whether a group is being written. */
    pthread_mutex_t gmu;
    pthread_cond_t gcv;
    struct storage_wreq *queue, **queue_tail;
    int is_leading;
};

/* One write handed to storage_write, on its caller's stack. */
typedef struct storage_wreq {
    storage_write_fn fn;
    void *arg;
    int rc;
    int is_done;
    char err[512];
    struct storage_wreq *next;
} storage_wreq;

static void storage_errf(char *err, size_t errlen, const char *msg)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", msg);
}

/* ------------------------------------------------------------------------ */
/* The pool                                                                 */

int storage_db_open(const storage_opts *opts, storage_db **out, char *err, size_t errlen)
{
    storage_db *db = NULL;

    *out = NULL;
    if (opts == NULL) {
        storage_errf(err, errlen, "storage: no options");
        return LX_EINVAL;
    }
    if (opts->kind == STORAGE_SQLITE) {
        if (opts->sqlite_path == NULL || opts->sqlite_path[0] == '\0') {
            storage_errf(err, errlen, "storage: no SQLite database path");
            return LX_EINVAL;
        }
    } else if (opts->kind == STORAGE_POSTGRES) {
        if (!STORAGE_HAVE_POSTGRES) {
            storage_errf(err, errlen,
                         "storage: this build has no PostgreSQL backend (configured "
                         "--without-postgres)");
            return LX_EINVAL;
        }
        if (opts->pg_url == NULL || opts->pg_url[0] == '\0') {
            storage_errf(err, errlen, "storage: no PostgreSQL connection string");
            return LX_EINVAL;
        }
    } else {
        storage_errf(err, errlen, "storage: unknown database kind");
        return LX_EINVAL;
    }
    if (opts->max_conns < 1) {
        storage_errf(err, errlen, "storage: max_conns must be at least 1");
        return LX_EINVAL;
    }

    db = calloc(1, sizeof(*db));
    if (db == NULL)
        goto nomem;
#if STORAGE_HAVE_POSTGRES
    db->be = opts->kind == STORAGE_SQLITE ? &storage_sqlite_backend : &storage_pg_backend;
#else
    db->be = &storage_sqlite_backend;
#endif
    db->opts = *opts;
    db->opts.sqlite_path = NULL;
    db->opts.pg_url = NULL;
    if (opts->sqlite_path != NULL) {
        db->sqlite_path = strdup(opts->sqlite_path);
        if (db->sqlite_path == NULL)
            goto nomem;
        db->opts.sqlite_path = db->sqlite_path;
    }
    if (opts->pg_url != NULL) {
        db->pg_url = strdup(opts->pg_url);
        if (db->pg_url == NULL)
            goto nomem;
        db->opts.pg_url = db->pg_url;
    }
    if (pthread_mutex_init(&db->mu, NULL) != 0)
        goto nomem;
    if (pthread_cond_init(&db->cv, NULL) != 0) {
        pthread_mutex_destroy(&db->mu);
        goto nomem;
    }
    if (pthread_mutex_init(&db->gmu, NULL) != 0) {
        pthread_cond_destroy(&db->cv);
        pthread_mutex_destroy(&db->mu);
        goto nomem;
    }
    if (pthread_cond_init(&db->gcv, NULL) != 0) {
        pthread_mutex_destroy(&db->gmu);
        pthread_cond_destroy(&db->cv);
        pthread_mutex_destroy(&db->mu);
        goto nomem;
    }
    db->queue_tail = &db->queue;
    *out = db;
    return LX_OK;

nomem:
    if (db != NULL) {
        free(db->sqlite_path);
        free(db->pg_url);
        free(db);
    }
    storage_errf(err, errlen, "storage: out of memory");
    return LX_ENOMEM;
}

void storage_db_close(storage_db *db)
{
    storage_conn *c, *next;

    if (db == NULL)
        return;
    for (c = db->idle; c != NULL; c = next) {
        next = c->next_idle;
        db->be->disconnect(c);
    }
    pthread_cond_destroy(&db->gcv);
    pthread_mutex_destroy(&db->gmu);
    pthread_cond_destroy(&db->cv);
    pthread_mutex_destroy(&db->mu);
    if (db->pg_url != NULL) /* may hold a password */
        memset(db->pg_url, 0, strlen(db->pg_url));
    free(db->pg_url);
    free(db->sqlite_path);
    free(db);
}

int storage_db_acquire(storage_db *db, storage_conn **out, char *err, size_t errlen)
{
    storage_conn *c = NULL;
    int rc;

    *out = NULL;
    pthread_mutex_lock(&db->mu);
    for (;;) {
        if (db->idle != NULL) {
            c = db->idle;
            db->idle = c->next_idle;
            c->next_idle = NULL;
            db->n_out++;
            pthread_mutex_unlock(&db->mu);
            *out = c;
            return LX_OK;
        }
        if (db->n_open < db->opts.max_conns)
            break;
        pthread_cond_wait(&db->cv, &db->mu);
    }
    /* Reserve the slot, then connect without the lock: connecting may take
     * a network round trip. */
    db->n_open++;
    db->n_out++;
    pthread_mutex_unlock(&db->mu);

    rc = db->be->connect(&db->opts, &c, err, errlen);
    if (rc != LX_OK) {
        pthread_mutex_lock(&db->mu);
        db->n_open--;
        db->n_out--;
        pthread_cond_signal(&db->cv);
        pthread_mutex_unlock(&db->mu);
        return rc;
    }
    c->next_idle = NULL;
    *out = c;
    return LX_OK;
}

void storage_db_release(storage_db *db, storage_conn *c, int is_broken)
{
    if (c == NULL)
        return;
    if (is_broken)
        db->be->disconnect(c);
    pthread_mutex_lock(&db->mu);
    if (is_broken) {
        db->n_open--;
    } else {
        c->next_idle = db->idle;
        db->idle = c;
    }
    db->n_out--;
    pthread_cond_signal(&db->cv);
    pthread_mutex_unlock(&db->mu);
}

int storage_db_stores_bytes(const storage_db *db)
{
    return db->be->stores_bytes;
}

storage_kind storage_db_kind(const storage_db *db)
{
    return db->opts.kind;
}

/* ------------------------------------------------------------------------ */
/* Group commit                                                             */

/* The leader: every write of the batch in one transaction on c. */
static void storage_write_group(storage_db *db, storage_conn *c, storage_wreq *batch)
{
    char err[512] = "";
    int rc = db->be->group_begin(c, err, sizeof(err)), n_ok = 0;

    for (storage_wreq *r = batch; r != NULL; r = r->next) {
        if (rc != LX_OK) {
            r->rc = rc;
            snprintf(r->err, sizeof(r->err), "%s", err);
            continue;
        }
        r->err[0] = '\0';
        r->rc = db->be->group_run(c, r->fn, r->arg, r->err, sizeof(r->err));
        n_ok += r->rc == LX_OK;
    }
    if (rc != LX_OK)
        return;
    rc = db->be->group_end(c, n_ok > 0 ? LX_OK : LX_EINVAL, err, sizeof(err));
    if (n_ok == 0 || rc == LX_OK)
        return;
    for (storage_wreq *r = batch; r != NULL; r = r->next) /* nothing was committed */
        if (r->rc == LX_OK) {
            r->rc = rc;
            snprintf(r->err, sizeof(r->err), "%s", err);
        }
}

int storage_write(storage_db *db, storage_conn *c, storage_write_fn fn, void *arg, char *err,
                  size_t errlen)
{
    storage_wreq me = {.fn = fn, .arg = arg};
    storage_wreq *batch;

    if (db->be->group_begin == NULL)
        return fn(c, arg, err, errlen);
    pthread_mutex_lock(&db->gmu);
    *db->queue_tail = &me;
    db->queue_tail = &me.next;
    while (!me.is_done && db->is_leading)
        pthread_cond_wait(&db->gcv, &db->gmu);
    if (!me.is_done) {
        /* Lead: take every write waiting now (this one among them). */
        db->is_leading = 1;
        batch = db->queue;
        db->queue = NULL;
        db->queue_tail = &db->queue;
        pthread_mutex_unlock(&db->gmu);
        storage_write_group(db, c, batch);
        pthread_mutex_lock(&db->gmu);
        for (storage_wreq *r = batch, *next; r != NULL; r = next) {
            next = r->next; /* r may be gone once is_done is seen */
            r->is_done = 1;
        }
        db->is_leading = 0;
        pthread_cond_broadcast(&db->gcv);
    }
    pthread_mutex_unlock(&db->gmu);
    if (me.rc != LX_OK && err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", me.err);
    return me.rc;
}

/* ------------------------------------------------------------------------ */
/* Forwarding to the backend of the connection                              */

/* Every operation of store_ops.h marked PLAIN is c->be->NAME(...) as is;
 * those marked CHECKED are written out below. */
#define STORAGE_FWD_PLAIN(name, params, args)                                                      \
    int storage_##name params                                                                      \
    {                                                                                              \
        return c->be->name args;                                                                   \
    }
#define STORAGE_FWD_CHECKED(name, params, args)
#define STORAGE_OP(name, front, params, args) STORAGE_FWD_##front(name, params, args)
#include "store_ops.h"
#undef STORAGE_OP
#undef STORAGE_FWD_CHECKED
#undef STORAGE_FWD_PLAIN

int storage_doc_claim(storage_conn *c, const char *owner, const char *now, const char *until,
                      int max, storage_pending **out, size_t *n, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    if (owner == NULL || owner[0] == '\0' || max < 1) {
        storage_errf(err, errlen, "storage: a claim needs an owner and a count");
        return LX_EINVAL;
    }
    return c->be->doc_claim(c, owner, now, until, max, out, n, err, errlen);
}

int storage_doc_any_claimable(storage_conn *c, const char *now, int *is_any, char *err,
                              size_t errlen)
{
    *is_any = 0;
    return c->be->doc_any_claimable(c, now, is_any, err, errlen);
}

int storage_doc_renew(storage_conn *c, const char *owner, const char *const *ids, size_t n,
                      const char *until, int64_t *n_renewed, char *err, size_t errlen)
{
    if (n_renewed != NULL)
        *n_renewed = 0;
    if (n == 0)
        return LX_OK;
    return c->be->doc_renew(c, owner, ids, n, until, n_renewed, err, errlen);
}

int storage_doc_release(storage_conn *c, const char *id, const char *owner, const char *not_before,
                        char *err, size_t errlen)
{
    return c->be->doc_release(c, id, owner, not_before != NULL ? not_before : "", err, errlen);
}

int storage_doc_failed_ids(storage_conn *c, const char *error, char ***ids, size_t *n, char *err,
                           size_t errlen)
{
    *ids = NULL;
    *n = 0;
    return c->be->doc_failed_ids(c, error, ids, n, err, errlen);
}

/* [a-z0-9_.]{1,64} for a record's kind (digits and dots: with_digits_dot),
 * or [a-z_]{1,max} for an activity's. */
static int storage_name_ok(const char *s, size_t max, int with_digits_dot)
{
    size_t n = 0;

    if (s == NULL)
        return 0;
    for (; s[n] != '\0'; n++) {
        char ch = s[n];
        if (!((ch >= 'a' && ch <= 'z') || ch == '_' ||
              (with_digits_dot && ((ch >= '0' && ch <= '9') || ch == '.'))))
            return 0;
    }
    return n >= 1 && n <= max;
}

/* LX_OK when op can run for uid, else LX_EINVAL with why in err. */
static int storage_op_check(const storage_op *op, size_t i, const char *uid, char *err,
                            size_t errlen)
{
    const char *why = NULL;

    switch (op->type) {
    case STORAGE_OP_PUT:
    case STORAGE_OP_APPEND:
        if (!storage_name_ok(op->kind, 64, 1))
            why = "kind must be 1 to 64 of [a-z0-9_.]";
        else if (op->key == NULL || op->key[0] == '\0' || strlen(op->key) > 128)
            why = "key must be 1 to 128 bytes";
        else if (op->json == NULL || op->json[0] == '\0')
            why = "json is missing";
        break;
    case STORAGE_OP_ACTIVITY:
        if (!storage_name_ok(op->act.kind, 32, 0))
            why = "activity kind must be 1 to 32 of [a-z_]";
        else if (op->act.points < 0)
            why = "points must be 0 or more";
        else if (!(op->act.score >= 0) || !(op->act.max_score >= 0))
            why = "score and max_score must be 0 or more";
        else if (op->act.uid != NULL && strcmp(op->act.uid, uid) != 0)
            why = "an activity of another user";
        break;
    default:
        why = "unknown type";
        break;
    }
    if (why == NULL)
        return LX_OK;
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "batch op %zu: %s", i + 1, why);
    return LX_EINVAL;
}

int storage_batch(storage_conn *c, const char *uid, storage_op *ops, size_t n, const char *now,
                  storage_batch_read *rb, char *err, size_t errlen)
{
    char day[16];
    storage_op *v;
    int rc;

    if (rb != NULL) {
        rb->items = NULL;
        rb->n_items = 0;
    }
    if (uid == NULL || uid[0] == '\0' || ops == NULL || n == 0 || now == NULL) {
        storage_errf(err, errlen, "batch: a uid, the time and 1 op or more are needed");
        return LX_EINVAL;
    }
    if (rb != NULL && (!storage_name_ok(rb->kind, 64, 1) || rb->key == NULL || rb->key[0] == '\0' ||
                       rb->last_n < 1)) {
        storage_errf(err, errlen, "batch: what it reads back needs a kind, a key and a count");
        return LX_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        ops[i].seq = 0;
        rc = storage_op_check(&ops[i], i, uid, err, errlen);
        if (rc != LX_OK)
            return rc;
    }
    /* A copy with each activity's uid, day and now filled in, so that the
     * caller's ops keep only its own pointers. */
    v = malloc(n * sizeof(*v));
    if (v == NULL) {
        storage_errf(err, errlen, "out of memory");
        return LX_ENOMEM;
    }
    snprintf(day, sizeof(day), "%.10s", now);
    memcpy(v, ops, n * sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        if (v[i].type != STORAGE_OP_ACTIVITY)
            continue;
        v[i].act.uid = uid;
        if (v[i].act.day == NULL)
            v[i].act.day = day;
        if (v[i].act.now == NULL)
            v[i].act.now = now;
    }
    rc = c->be->batch(c, uid, v, n, now, rb, err, errlen);
    for (size_t i = 0; i < n; i++)
        ops[i].seq = rc == LX_OK ? v[i].seq : 0;
    free(v);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Releasing filled structures                                              */

void storage_user_clear(storage_user *u)
{
    if (u == NULL)
        return;
    free(u->uid);
    free(u->email);
    free(u->display_name);
    free(u->profile_json);
    free(u->created_at);
    free(u->updated_at);
    free(u->last_login);
    memset(u, 0, sizeof(*u));
}

void storage_strv_free(char **v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void storage_doc_clear(storage_doc *d)
{
    if (d == NULL)
        return;
    free(d->id);
    free(d->user_id);
    free(d->name);
    free(d->original_filename);
    free(d->file_type);
    free(d->mime_type);
    free(d->status);
    free(d->error);
    free(d->sha256);
    free(d->created_at);
    free(d->updated_at);
    free(d->text);
    free(d->claimed_by);
    free(d->lease_until);
    memset(d, 0, sizeof(*d));
}

void storage_docs_free(storage_doc *v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        storage_doc_clear(&v[i]);
    free(v);
}

void storage_pending_free(storage_pending *v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        free(v[i].id);
        free(v[i].user_id);
        free(v[i].file_type);
    }
    free(v);
}

void storage_passages_free(storage_passage *v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i].text);
    free(v);
}

void storage_feedback_free(storage_feedback *v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        free(v[i].id);
        free(v[i].user_id);
        free(v[i].email);
        free(v[i].type);
        free(v[i].description);
        free(v[i].browser_info);
        free(v[i].status);
        free(v[i].created_at);
    }
    free(v);
}

void storage_progress_clear(storage_progress *p)
{
    if (p == NULL)
        return;
    if (p->kinds != NULL)
        for (size_t i = 0; i < p->n_kinds; i++)
            free(p->kinds[i].kind);
    free(p->kinds);
    storage_strv_free(p->days, p->n_days);
    memset(p, 0, sizeof(*p));
}

void storage_rec_clear(storage_rec *r)
{
    if (r == NULL)
        return;
    free(r->key);
    free(r->json);
    free(r->created_at);
    free(r->updated_at);
    memset(r, 0, sizeof(*r));
}

void storage_recs_free(storage_rec *v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        storage_rec_clear(&v[i]);
    free(v);
}

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */

void storage_now_iso(char *buf, size_t buflen)
{
    storage_iso_in(buf, buflen, 0);
}

void storage_iso_in(char *buf, size_t buflen, int64_t ms)
{
    struct timespec ts;
    struct tm tm;
    char day[24];

    if (buflen == 0)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    } else if (ts.tv_nsec < 0) {
        ts.tv_sec--;
        ts.tv_nsec += 1000000000L;
    }
    gmtime_r(&ts.tv_sec, &tm);
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, buflen, "%s.%03ldZ", day, (long)(ts.tv_nsec / 1000000));
}

int storage_uuid(char *buf, size_t buflen)
{
    unsigned char b[16];

    if (buflen < STORAGE_ID_LEN + 1)
        return LX_EINVAL;
    if (RAND_bytes(b, sizeof(b)) != 1)
        return LX_EIO;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(buf, buflen, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
    return LX_OK;
}

/* Words too common to help find a passage. Sorted for bsearch. */
static const char *const storage_stop_words[] = {
    "about", "all",   "also", "am",   "an",    "and",   "any",   "are",  "as",    "at",    "be",
    "been",  "but",   "by",   "can",  "could", "did",   "do",    "does", "for",   "from",  "had",
    "has",   "have",  "he",   "her",  "him",   "his",   "how",   "if",   "in",    "into",  "is",
    "it",    "its",   "me",   "my",   "no",    "not",   "of",    "on",   "or",    "our",   "she",
    "so",    "some",  "than", "that", "the",   "their", "them",  "then", "there", "these", "they",
    "this",  "those", "to",   "too",  "us",    "was",   "we",    "were", "what",  "when",  "where",
    "which", "who",   "whom", "why",  "will",  "with",  "would", "you",  "your",
};

static int storage_cmp_word(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int storage_is_stop_word(const char *w)
{
    return bsearch(&w, storage_stop_words, sizeof(storage_stop_words) / sizeof(char *),
                   sizeof(char *), storage_cmp_word) != NULL;
}

/* Decodes one well-formed UTF-8 sequence of 2..4 bytes at s: its length,
 * or 0 when s does not start one (a stray byte, an overlong form, a
 * surrogate). *cp gets the code point. */
static size_t storage_utf8_decode(const unsigned char *s, unsigned int *cp)
{
    unsigned int c = s[0], v;
    size_t len, i;

    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        v = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        v = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        v = c & 0x07;
    } else {
        return 0;
    }
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10ffff)) ||
        (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

/* Whether a non-ASCII code point may be part of a word: letters and marks
 * of the world's scripts are, spaces, punctuation and symbols of the common
 * blocks are not (a coarse table: no Unicode database at hand). */
static int storage_cp_is_word(unsigned int cp)
{
    static const unsigned int not_word[][2] = {
        {0x0080, 0x00bf},   /* C1 controls, no-break space, Latin-1 punctuation */
        {0x00d7, 0x00d7},   /* multiplication sign */
        {0x00f7, 0x00f7},   /* division sign */
        {0x037e, 0x037e},   /* Greek question mark */
        {0x0387, 0x0387},   /* Greek ano teleia */
        {0x055a, 0x055f},   /* Armenian punctuation */
        {0x0589, 0x058a},   /* Armenian full stop, hyphen */
        {0x05be, 0x05be},   /* Hebrew maqaf */
        {0x05c0, 0x05c0},   /* Hebrew paseq */
        {0x05c3, 0x05c3},   /* Hebrew sof pasuq */
        {0x060c, 0x060d},   /* Arabic comma */
        {0x061b, 0x061f},   /* Arabic semicolon, question mark */
        {0x066a, 0x066d},   /* Arabic percent, separators, star */
        {0x06d4, 0x06d4},   /* Arabic full stop */
        {0x0964, 0x0965},   /* Devanagari danda */
        {0x0e4f, 0x0e4f},   /* Thai fongman */
        {0x0e5a, 0x0e5b},   /* Thai angkhankhu, khomut */
        {0x1680, 0x1680},   /* Ogham space mark */
        {0x2000, 0x2bff},   /* punctuation, symbols, arrows, math, shapes */
        {0x2e00, 0x2e7f},   /* supplemental punctuation */
        {0x3000, 0x303f},   /* CJK symbols and punctuation */
        {0xfe10, 0xfe1f},   /* vertical forms */
        {0xfe30, 0xfe6f},   /* CJK compatibility forms, small forms */
        {0xfeff, 0xfeff},   /* byte order mark */
        {0xff00, 0xff0f},   /* full-width punctuation */
        {0xff1a, 0xff20},   /* full-width punctuation */
        {0xff3b, 0xff40},   /* full-width punctuation */
        {0xff5b, 0xff65},   /* full-width punctuation */
        {0xfff0, 0xffff},   /* specials */
        {0x1f000, 0x1faff}, /* emoji and pictographs */
        {0xe0000, 0x10ffff} /* tags, private use */
    };

    for (size_t i = 0; i < sizeof(not_word) / sizeof(not_word[0]); i++)
        if (cp >= not_word[i][0] && cp <= not_word[i][1])
            return 0;
    return 1;
}

/* Lower case of the common capital letters beyond ASCII (Latin-1, Greek,
 * Cyrillic), so that duplicates differing in case are dropped; the
 * backends fold the rest themselves. */
static unsigned int storage_cp_lower(unsigned int cp)
{
    if ((cp >= 0xc0 && cp <= 0xde && cp != 0xd7) || (cp >= 0x391 && cp <= 0x3ab && cp != 0x3a2) ||
        (cp >= 0x410 && cp <= 0x42f))
        return cp + 0x20;
    if (cp >= 0x400 && cp <= 0x40f)
        return cp + 0x50;
    return cp;
}

static size_t storage_utf8_encode(unsigned int cp, char *out)
{
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

#define STORAGE_WORD_MIN 2
#define STORAGE_WORD_MAX 64
#define STORAGE_WORDS_MAX 32

int storage_query_words(const char *query, char ***words, size_t *n)
{
    const unsigned char *s = (const unsigned char *)(query != NULL ? query : "");
    char **v = NULL;
    size_t n_v = 0;
    char word[STORAGE_WORD_MAX + 4];
    size_t wlen = 0;
    int is_long = 0; /* the current run is over STORAGE_WORD_MAX: dropped */

    *words = NULL;
    *n = 0;
    for (;;) {
        unsigned int cp = 0;
        size_t step = 1;
        char enc[4];
        size_t enc_len = 0;

        if (*s != '\0') {
            if (*s < 0x80) {
                if ((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')) {
                    enc[0] = (char)*s;
                    enc_len = 1;
                } else if (*s >= 'A' && *s <= 'Z') {
                    enc[0] = (char)(*s - 'A' + 'a');
                    enc_len = 1;
                }
            } else {
                step = storage_utf8_decode(s, &cp);
                if (step == 0)
                    step = 1; /* a stray byte separates words */
                else if (storage_cp_is_word(cp))
                    enc_len = storage_utf8_encode(storage_cp_lower(cp), enc);
            }
        }
        if (enc_len > 0) {
            if (wlen + enc_len > STORAGE_WORD_MAX)
                is_long = 1;
            else if (!is_long) {
                memcpy(word + wlen, enc, enc_len);
                wlen += enc_len;
            }
            s += step;
            continue;
        }
        /* The end of a run (or of the query). */
        if (wlen >= STORAGE_WORD_MIN && !is_long) {
            int is_dup = 0;

            word[wlen] = '\0';
            for (size_t i = 0; i < n_v && !is_dup; i++)
                is_dup = strcmp(v[i], word) == 0;
            if (!is_dup && !storage_is_stop_word(word)) {
                if (v == NULL) {
                    v = calloc(STORAGE_WORDS_MAX, sizeof(char *));
                    if (v == NULL)
                        goto nomem;
                }
                v[n_v] = strdup(word);
                if (v[n_v] == NULL)
                    goto nomem;
                n_v++;
                if (n_v == STORAGE_WORDS_MAX)
                    break;
            }
        }
        wlen = 0;
        is_long = 0;
        if (*s == '\0')
            break;
        s += step;
    }
    *words = v;
    *n = n_v;
    return LX_OK;

nomem:
    storage_strv_free(v, n_v);
    return LX_ENOMEM;
}
