/*
 * The storage plugin's own state and the plumbing its files share. The
 * plugin's files, by folder (paths from plugins/storage/, as every
 * #include names them):
 *
 *   storage.c        the plugin: config, init (migrations and the file check
 *                    in the master), worker hooks, /ready, the handler table
 *   pool_jobs.c      storage_run(): database jobs on the offload pool, and
 *                    the closing of a worker's database
 *   svc.c            the services storage.v1 and userdata.v1: entry points
 *   svc_ops.c        their operations' pool work and answers (svc_call.h)
 *   http/            the routes:
 *     reply.c          what they share: the principal, the JSON body,
 *                      replies, run-or-answer, query parameters, a document
 *                      as JSON, input checks
 *     users.c          POST /api/users/init, GET and PUT /api/users/profile
 *     documents.c      upload, list, get, delete
 *     download.c       GET /api/documents/{id}/download: the bytes, streamed
 *     feedback.c       POST /api/feedback, GET /api/admin/feedback
 *     admin.c          GET /api/admin/stats
 *     admin_users.c    GET /api/admin/users, POST /api/admin/users/sync (the
 *                      identity provider's accounts through accounts.v1)
 *     progress.c       GET /api/progress
 *   text/            the text pipeline and the pure text helpers:
 *     extract_queue.c  the queue: fair across users, bounded, retried with
 *                      backoff, fed by claims on documents
 *     extract_steps.c  one document's way: its bytes, extraction, text or
 *                      failure
 *     extract_pool.c   the threads extraction waits on (not the core's pool)
 *     extract.c        running the lexiaid-extract child (extract/)
 *     sniff.c, text.c  type sniffing; normalisation and passages (pure;
 *                      multipart: the SDK's <lexiaid/multipart.h>)
 *   db/              the database layer (store.h; each operation declared
 *                    once in store_ops.h; store_sqlite*.c, store_pg*.c the
 *                    backends), files.c the SQLite backend's files,
 *                    backup.c the `lexiaid backup DEST` command
 *
 * Lifetimes:
 *   storage_state  made by init() in the master, one per generation,
 *                  read-only afterwards except the worker-local members
 *                  below, freed by that generation's shutdown(); each worker
 *                  inherits a copy through fork(). Every piece of state lives
 *                  here, none in a static (but the SQLite writers' mutex, on
 *                  purpose: store_sqlite.c): the loader never dlcloses, so a
 *                  static would be shared by every generation of the process
 *                  (a SIGHUP's new init would overwrite it while the old
 *                  generation still serves).
 *   st->db         NULL in the master after init (its connections closed
 *                  before the fork); opened by worker_start in each worker,
 *                  closed by worker_stop.
 */
#ifndef STORAGE_STORAGE_H
#define STORAGE_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include <lexiaid/auth.h>
#include <lexiaid/plugin.h>
#include <lexiaid/svc/storage_v1.h>

#include "text/extract.h"
#include "db/files.h"
#include "db/store.h"

#define STORAGE_SRC "storage" /* `src` of every log line */
/* The reason of a document whose file is gone (and no .part of it). */
#define STORAGE_MISSING_FILE "the file is missing"

typedef struct storage_proc storage_proc; /* text/extract_queue.c: the extraction queue */

#define STORAGE_MAX_SUBS 8 /* storage.v1 subscribers */

typedef struct storage_state {
    const lx_host *host;

    /* Configuration (owned strings) */
    storage_opts opts; /* opts.sqlite_path / opts.pg_url point at the two below */
    char *sqlite_path; /* DATA_DIR/lexiaid.db unless configured */
    char *pg_url;      /* never logged: it may hold a password */
    char *data_dir;
    size_t max_upload;            /* largest file in an upload (the route's max_body too) */
    int repair;                   /* the start-up check repairs what it finds */
    storage_extract_opts ex;      /* ex.program owned */
    int extract_concurrency;      /* extractions at once per worker: its extraction threads */
    long long extract_wait_ms;    /* an upload waits this long for its text */
    int extract_attempts;         /* runs of a document cut off (its worker died) before it fails */
    long long claim_lease_ms;     /* a claim on a document's extraction lapses unrenewed */
    long long retry_delay_ms;     /* the wait after a transient failure, doubling ... */
    long long retry_delay_max_ms; /* ... up to this */
    uint64_t disk_reserve;        /* bytes held back for deletions (SQLite; 0: none) */

    /* Per process */
    storage_db *db;                 /* worker only; NULL in the master after init */
    storage_files *files;           /* SQLite only; NULL with PostgreSQL */
    lx_worker *w;                   /* this worker's loop */
    storage_proc *proc;             /* this worker's extraction queue */
    size_t n_jobs_out;              /* pool_jobs.c: jobs submitted, completion not yet run */
    int is_close_pending;           /* pool_jobs.c: worker_stop asked to close db */
    char owner[STORAGE_ID_LEN + 1]; /* this worker's token in claims; "" in the master */
    struct {
        lx_storage_event_fn fn;
        void *arg;
    } subs[STORAGE_MAX_SUBS]; /* svc_assets.c: storage.v1 subscribers (set in init) */
    int n_subs;
    int64_t full_at_ms;             /* when a write last met a full disk (monotonic); 0: never, or
                                       an upload was stored since */
} storage_state;

/* Database work on the offload pool. fn(st, c, arg, err, errlen) runs on a
 * pool thread with a connection of st->db (acquired before, released
 * after: marked broken when fn returns LX_EIO); it may call db/store.h and
 * files.h only (no host function but host->log). Then done(st, arg, rc,
 * err) runs on the worker loop with fn's result, or LX_ECANCELED when the
 * worker stopped first, or the failure to get a connection; `err` is
 * borrowed for the call ("" on success). `arg` stays the caller's.
 * Returns LX_OK, or LX_ENOMEM and nothing runs. */
typedef int (*storage_job_fn)(storage_state *st, storage_conn *c, void *arg, char *err,
                              size_t errlen);
typedef void (*storage_done_fn)(storage_state *st, void *arg, int rc, const char *err);
int storage_run(storage_state *st, lx_worker *w, storage_job_fn fn, storage_done_fn done,
                void *arg);

/* storage_run for work that must happen even when the worker stops before
 * the pool starts it (giving claims back at worker_stop): a job the
 * stopping pool cancels runs on the calling thread instead, in the pool's
 * shutdown after the worker's loop has ended, blocking until a connection
 * is free; done then gets its result, never LX_ECANCELED. Called when the
 * pool or the database is already closing (from the done of a job that
 * ends then), it runs fn and done before it returns. Loop thread only,
 * like storage_run. */
int storage_run_kept(storage_state *st, lx_worker *w, storage_job_fn fn, storage_done_fn done,
                     void *arg);

/* storage_run with a first step: prep(st, arg) runs on the same pool
 * thread before a connection is taken (parsing, hashing: work that needs
 * none), and fn only when it returns LX_OK; otherwise done gets prep's
 * code with an empty err. One pool round trip for both. */
typedef int (*storage_prep_fn)(storage_state *st, void *arg);
int storage_run_prepared(storage_state *st, lx_worker *w, storage_prep_fn prep, storage_job_fn fn,
                         storage_done_fn done, void *arg);

/* Closes st->db for worker_stop: at once when no storage_run job is out,
 * else when the last one's done has run (the core drains the offload pool
 * after worker_stop). storage_run refuses new work (LX_ESTATE) meanwhile.
 * (pool_jobs.c) */
void storage_run_close_db(storage_state *st);

/* host->offload for work that uses st->db itself (storage_db_acquire on
 * the pool thread): counted with the storage_run jobs, so that st->db stays
 * open until its done has run. LX_ESTATE once worker_stop began. (pool_jobs.c) */
int storage_offload(storage_state *st, lx_worker *w, void (*work)(void *arg),
                    void (*done)(void *arg, int status), void *arg);

/* Parses s[0..len) as exactly one JSON value (json-c; whitespace around it
 * allowed). LX_OK and *out (may be NULL; the value is put when out is NULL;
 * JSON null gives *out NULL), LX_EINVAL when it does not parse, LX_ENOMEM.
 * Usable on any thread. (reply.c) */
struct json_object;
int storage_json_parse(const char *s, size_t len, struct json_object **out);

/* Answers a failed store call in one place: LX_ENOENT → 404 NOT_FOUND with
 * `not_found` as the message; LX_EINVAL → 400 INVALID_REQUEST with err;
 * LX_ECANCELED → 503 SHUTTING_DOWN; STORAGE_ENOSPC → 507
 * INSUFFICIENT_STORAGE; anything else → 503 STORAGE_UNAVAILABLE "storage
 * is unavailable" with err logged (never sent: it may name internals). */
void storage_reply_store_error(storage_state *st, lx_req *req, int rc, const char *err,
                               const char *not_found);

/* The signed-in user (set by auth.require_user before every storage
 * route). NULL only when a route was configured without it: the handler
 * then answers 401 UNAUTHENTICATED itself (storage_require_user). */
const lx_principal *storage_principal(storage_state *st, lx_req *req);
/* The principal, or answers 401 and returns NULL. */
const lx_principal *storage_require_user(storage_state *st, lx_req *req);

/* Parses the request body as a JSON object (json-c). On failure answers
 * 400 INVALID_JSON and returns NULL. The object is put (json_object_put)
 * when the request ends. An empty body is an empty object. */
struct json_object;
struct json_object *storage_body_json(storage_state *st, lx_req *req);

/* Replies with a json-c object (serialised, then put). */
void storage_reply_obj(storage_state *st, lx_req *req, int status, struct json_object *o);

/* ---- handlers (names in the config: "storage.<name>") ---- */
lx_rc storage_h_user_init(lx_req *req, void *state); /* users.c */
lx_rc storage_h_profile_get(lx_req *req, void *state);
lx_rc storage_h_profile_put(lx_req *req, void *state);
lx_rc storage_h_upload(lx_req *req, void *state); /* documents.c */
lx_rc storage_h_doc_list(lx_req *req, void *state);
lx_rc storage_h_doc_get(lx_req *req, void *state);
lx_rc storage_h_doc_delete(lx_req *req, void *state);
lx_rc storage_h_doc_download(lx_req *req, void *state);
lx_rc storage_h_feedback(lx_req *req, void *state); /* feedback.c */
lx_rc storage_h_admin_feedback(lx_req *req, void *state);
lx_rc storage_h_admin_stats(lx_req *req, void *state); /* admin.c */
lx_rc storage_h_admin_users(lx_req *req, void *state); /* admin_users.c */
lx_rc storage_h_admin_users_sync(lx_req *req, void *state);
lx_rc storage_h_progress(lx_req *req, void *state); /* progress.c */

/* ---- users.c ---- */
/* The profile as GET /api/users/profile's "data" and storage.v1's
 * profile_get give it: uid, email, emailVerified, displayName, createdAt,
 * lastLogin, preferences (defaults overlaid by the stored ones),
 * gamification from prog, dateOfBirth?, visualImpairment, schoolContext?,
 * adaptToAge. u is NULL when the user has no row; p (may be NULL) fills
 * what the row lacks from the token. A new object owned by the caller
 * (json_object_put), or NULL when out of memory. */
struct json_object *storage_profile_data(const char *uid, const storage_user *u,
                                         const storage_progress *prog, const lx_principal *p);

/* Monotonic milliseconds (pool_jobs.c). */
int64_t storage_mono_ms(void);

/* A write met a full disk less than this long ago: /ready says so. */
#define STORAGE_FULL_RECENT_MS 30000

/* ---- extract_queue.c: the text pipeline of one worker ---- */
/* Starts this worker's queue: its extraction threads, and a tick every
 * second that renews the claims of the documents it holds and claims
 * documents nobody holds (their upload's worker died, a database outage
 * left them) while it has room. LX_OK or LX_ENOMEM. */
int storage_proc_start(storage_state *st, lx_worker *w);
/* Stops it (worker_stop): extractions in progress are cancelled (their
 * children killed), waiters told LX_ECANCELED, and the documents not
 * being stored given back (claimable at once by another worker). */
void storage_proc_stop(storage_state *st);
/* How a document's extraction ended, for the upload that waits for it
 * (borrowed for the callback). */
typedef struct storage_proc_result {
    const char *status;     /* STORAGE_ST_PROCESSED or STORAGE_ST_FAILED */
    const char *error;      /* why it failed; "" when processed */
    const char *text;       /* the text stored; "" when failed */
    int64_t content_length; /* bytes of the text */
    int64_t page_count;
    const char *updated_at; /* as stored */
} storage_proc_result;

/* Queues the extraction of document id (copied) of uid, which this worker
 * claimed (the upload's storage_doc_create, its status "processing").
 * `data` (may be NULL) is the file's bytes, malloc'd, taken by the queue
 * (freed even on failure): the extraction starts from them instead of
 * reading the file back; NULL reads them from the file (or PostgreSQL's
 * chunks), as after a crash. when_done (may be NULL) runs once on the loop
 * when its status is final (LX_OK with res: what was stored), or the
 * document was deleted or taken over, or the queue stopped (LX_ECANCELED;
 * res NULL), and may be cancelled with storage_proc_forget(token) when the
 * waiting request went away. Transient failures (database, disk full) are
 * retried with a growing wait and never end it. Returns a token or NULL
 * (ENOMEM). */
typedef void (*storage_proc_done_fn)(void *arg, int rc, const storage_proc_result *res);
void *storage_proc_queue(storage_state *st, const char *uid, const char *id, const char *file_type,
                         char *data, size_t len, storage_proc_done_fn when_done, void *arg);
void storage_proc_forget(storage_state *st, void *token);

/* ---- reply.c: what the routes share ---- */
/* The 404 message of a document that is absent or another user's. */
#define STORAGE_DOC_NOT_FOUND "Document not found or access denied"

/* A handler's last step: storage_run(fn, done, arg) on the request's
 * worker and LX_ASYNC; when it cannot be queued, free_arg(arg) (unless
 * NULL: request memory), the failure answered (storage_reply_store_error)
 * and LX_DONE. */
lx_rc storage_run_or_reply(storage_state *st, lx_req *req, storage_job_fn fn, storage_done_fn done,
                           void *arg, void (*free_arg)(void *arg));

/* The start of a route's job that needs only the signed-in user. */
typedef struct storage_user_job {
    lx_req *req;
    char *uid; /* owned copy: the pool job reads it */
} storage_user_job;
/* A handler whole for such a route: answers 401 without a user; else a
 * zeroed job of `size` bytes (the caller's struct begins with a
 * storage_user_job) with req and uid set, run as storage_run_or_reply(fn,
 * done, job, free_job); LX_FAIL when out of memory. free_job(job) frees
 * the job itself too (done calls it). */
lx_rc storage_run_user_job(storage_state *st, lx_req *req, size_t size, storage_job_fn fn,
                           storage_done_fn done, void (*free_job)(void *job));

/* {"success": false, "error": message, "code": code}: the error shape of
 * the admin routes. */
void storage_reply_admin_error(storage_state *st, lx_req *req, int status, const char *code,
                               const char *message);

/* The admin routes' query parameter `name` as a decimal whole number in
 * [lo, hi] (absent or empty: def) into *out: 1; else answers 400
 * INVALID_PARAMETER with the message `bad` (admin shape) and returns 0. */
int storage_admin_query_int(storage_state *st, lx_req *req, const char *name, long long lo,
                            long long hi, long long def, const char *bad, long long *out);

/* The admin routes' query parameter `name` as text: *out borrowed from the
 * request, NULL when absent or empty, and 1; when it is not one of `set`
 * (NULL-terminated; NULL: any) or longer than max_len bytes, answers 400
 * INVALID_PARAMETER with `bad` (admin shape) and returns 0. */
int storage_admin_query_str(storage_state *st, lx_req *req, const char *name,
                            const char *const *set, size_t max_len, const char *bad,
                            const char **out);

/* The answer of a done callback whose result is `data` (taken, may be
 * NULL: out of memory): rc != LX_OK → storage_reply_store_error(rc, err,
 * not_found); data NULL → 500 INTERNAL; else 200 {"status": "success",
 * "data": data}. */
void storage_reply_data(storage_state *st, lx_req *req, int rc, const char *err,
                        const char *not_found, struct json_object *data);
/* The same in the admin routes' shape: 200 {"success": true, "data":
 * data}, 500 as storage_reply_admin_error, not_found "not found". */
void storage_reply_admin_data(storage_state *st, lx_req *req, int rc, const char *err,
                              struct json_object *data);

/* 1 when v[0..n) are all non-NULL (new json-c values); else puts them
 * all, sets them NULL and returns 0. */
int storage_json_all(struct json_object **v, size_t n);
/* o[key] = v as a string ("" for NULL), o[key] = v as a number. */
void storage_json_set_str(struct json_object *o, const char *key, const char *v);
void storage_json_set_int(struct json_object *o, const char *key, int64_t v);
/* A document as the list, one-document and upload routes show it: a new
 * object (the caller's), or NULL when out of memory. */
struct json_object *storage_doc_json(const storage_doc *d);

/* Zeroed request memory of `size` bytes with cleanup(p) run when the
 * request ends, or NULL when out of memory. */
void *storage_req_state(storage_state *st, lx_req *req, size_t size, lx_free_fn cleanup);

/* The start of the request state of the {id} routes (documents.c,
 * download.c): the caller's struct begins with it. */
typedef struct storage_doc_req {
    storage_state *st;
    lx_req *req;
    char *uid, *id; /* owned copies: pool jobs read them */
    storage_doc d;  /* filled by the route's job */
} storage_doc_req;
/* Makes that state (storage_req_state(size, cleanup); cleanup must call
 * storage_doc_req_clear) for the signed-in user and the route's {id}.
 * NULL after answering 401, or 404 NOT_FOUND when {id} is not a UUID
 * (*is_failed 0), or when out of memory (*is_failed 1: return LX_FAIL). */
void *storage_doc_req_new(storage_state *st, lx_req *req, size_t size, lx_free_fn cleanup,
                          int *is_failed);
/* Frees what a storage_doc_req points to (not the request memory). */
void storage_doc_req_clear(storage_doc_req *r);

/* The principal when the token has an email; else answers 401 or 400
 * EMAIL_REQUIRED and returns NULL. */
const lx_principal *storage_require_email(storage_state *st, lx_req *req);
/* Characters (code points) of s[0..len), or -1 when s is not valid UTF-8
 * or holds a NUL or a C0/DEL control other than TAB, LF and CR. */
long storage_utf8_chars(const char *s, size_t len);
/* Trims spaces, TABs, LFs and CRs at both ends of s[0..len): moves *s,
 * returns the length left. */
size_t storage_trim_space(const char **s, size_t len);
/* Whether s is one of set (NULL-terminated). */
int storage_str_in(const char *s, const char *const *set);
/* Whether c is a hexadecimal digit (either case). */
int storage_is_hex(char c);
/* Whether s is the 8-4-4-4-12 text form of a UUID (NULL: no). */
int storage_is_uuid(const char *s);

/* ---- progress.c: shared with users.c ---- */
/* Today's UTC day "2026-11-28" into buf (>= 11). (progress.c) */
void storage_today(char *buf, size_t buflen);

/* What GET /api/progress and the profile's gamification derive from a
 * storage_progress: level = 1 + points / 100, next_level_points = the
 * points where the next level starts; streak = consecutive active UTC days
 * ending today or yesterday (else 0), longest = the longest run among the
 * returned days. `today` as storage_today. (progress.c) */
typedef struct storage_progress_sum {
    int64_t points, level, next_level_points;
    int64_t streak, longest;
} storage_progress_sum;
void storage_progress_summarize(const storage_progress *p, const char *today,
                                storage_progress_sum *out);

/* ---- storage.c ---- */
/* Pool: a deletion met a full disk. Frees the disk reserve (files.h) so
 * that it can try once more, and logs it; 1 when there was one to free.
 * The queue's tick makes the reserve again once there is room. */
int storage_make_room(storage_state *st);

/* ---- svc.c ---- */
int storage_svc_register(storage_state *st, char *err, size_t errlen);
/* Deletes all of uid's rows, then their files (files after the commit);
 * done(arg, rc, err) on the loop. Used by userdata.v1. */
int storage_user_purge(storage_state *st, lx_worker *w, const char *uid,
                       void (*done)(void *arg, int rc, const char *err), void *arg);

/* ---- backup.c ---- */
extern const lx_command storage_commands[]; /* NULL-terminated */

/* ---- svc_assets.c: storage.v1 minor 3 (contracts in storage_v1.h) ---- */
int storage_sv_asset_put(void *state, lx_worker *w, const char *uid, const char *doc_id,
                         const char *name, const void *data, size_t len, lx_storage_done_fn done,
                         void *arg);
int storage_sv_asset_get(void *state, lx_worker *w, const char *uid, const char *doc_id,
                         const char *name, int64_t offset, size_t max, lx_storage_asset_fn done,
                         void *arg);
int storage_sv_subscribe(void *state, lx_storage_event_fn fn, void *arg);
/* storage.v1 minor 4 (svc_assets.c). */
int storage_sv_asset_claim(void *state, lx_worker *w, const char *uid, const char *doc_id,
                           int64_t lease_ms, lx_storage_done_fn done, void *arg);
/* Tells every subscriber of st that `event` (LX_STORAGE_EV_*) happened to
 * uid's document id, on the loop of w, after the commit. */
void storage_emit(storage_state *st, lx_worker *w, int event, const char *uid, const char *id);

#endif
