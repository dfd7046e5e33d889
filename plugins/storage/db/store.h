/*
 * The storage plugin's database layer: one interface, two backends
 * (store_sqlite.c, the embedded default; store_pg.c, PostgreSQL through
 * libpq). Everything above it (handlers, the storage.v1 service) is written
 * once against this header.
 *
 * Threads: every function here BLOCKS. It runs on an offload-pool thread
 * (storage_run() in storage.h) or in the master during init, never on a
 * worker's event loop. A storage_conn is used by one thread at a time; the
 * storage_db and its pool may be shared by all threads of one process.
 * Nothing made before fork() is used after it: the master opens a
 * connection for migrations and the start-up check and closes it; each
 * worker opens its own connections on demand.
 *
 * Errors (as SQLite): every fallible call returns LX_OK or a negative LX_E*
 * code from <lexiaid/plugin.h> and fills the caller's err buffer with a
 * message a person can read. Codes with a meaning for callers:
 *   LX_ENOENT   no such row for this user (another user's row is absent too:
 *               every query is scoped by uid, never filtered afterwards)
 *   LX_EEXIST   the key is taken
 *   LX_EINVAL   a value the database refused (too long, bad JSON, ...)
 *   LX_EIO      the database failed (connection lost, corrupt, I/O error);
 *               the transaction was rolled back
 *   STORAGE_ENOSPC  the disk is full (ENOSPC, SQLITE_FULL, PostgreSQL's
 *               53100 disk_full); rolled back. A code of this plugin only:
 *               never handed to another plugin (svc.c answers LX_EIO)
 *   LX_ESTATE   the database is newer than this binary (migrate only)
 * Messages never contain SQL text built from input (there is none: every
 * statement is a constant with bound parameters) nor secrets such as the
 * PostgreSQL password.
 *
 * Ownership: strings passed in are borrowed for the call. Structures filled
 * by a call (storage_doc, storage_user, storage_rec, ...) own their strings
 * (malloc'd) and are released with the matching *_clear / *_free function;
 * a call that fails leaves them empty (all pointers NULL). Every string in a
 * filled structure is non-NULL ("" when the database has nothing), so that
 * JSON built from it never carries null where the frontend wants a string.
 *
 * Time: timestamps are ISO 8601 UTC strings with milliseconds,
 * "2026-11-28T16:03:47.123Z", made by storage_now_iso() on the caller's
 * side and stored as given, so both backends answer the same text.
 */
#ifndef STORAGE_STORE_H
#define STORAGE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <lexiaid/plugin.h>

#define STORAGE_SCHEMA_VERSION 3 /* the newest migration this binary knows */
#define STORAGE_ID_LEN 36        /* a UUID v4 in text: 8-4-4-4-12 */
#define STORAGE_TS_LEN 24        /* "2026-11-28T16:03:47.123Z" */
#define STORAGE_CHUNK_SIZE (256 * 1024) /* PostgreSQL file chunks, download chunks */

/* The disk is full: a write failed with ENOSPC or EDQUOT (files.c),
 * SQLITE_FULL, or PostgreSQL's SQLSTATE 53100. The storage plugin's own
 * code, beyond LX_E*'s range; the routes answer it 507. */
#define STORAGE_ENOSPC (-100)

typedef struct storage_db storage_db;     /* one open database (a pool of conns) */
typedef struct storage_conn storage_conn; /* one connection, one thread at a time */

/* ------------------------------------------------------------------------ */
/* Opening                                                                  */

typedef enum storage_kind { STORAGE_SQLITE = 0, STORAGE_POSTGRES = 1 } storage_kind;

typedef struct storage_opts {
    storage_kind kind;
    const char *sqlite_path;  /* SQLITE: the database file (created if absent) */
    const char *pg_url;       /* POSTGRES: a libpq connection string or URI */
    long busy_timeout_ms;     /* SQLITE: wait this long for a lock (e.g. 5000) */
    int max_conns;            /* per process; acquire waits when all are busy */
} storage_opts;

/* Makes a storage_db from opts (strings copied). Opens no connection yet:
 * call storage_db_acquire. LX_EINVAL when opts is incomplete. */
int storage_db_open(const storage_opts *opts, storage_db **out, char *err, size_t errlen);

/* Closes every idle connection and frees db. No connection may be out. */
void storage_db_close(storage_db *db);

/* Gives the calling thread a connection: an idle one, a new one, or, when
 * max_conns are out, the first one released. A connection that failed
 * (PostgreSQL restarted) is replaced transparently on the next acquire. */
int storage_db_acquire(storage_db *db, storage_conn **out, char *err, size_t errlen);

/* Returns a connection to the pool. `is_broken` closes it instead (after
 * LX_EIO, when the connection itself may be dead). */
void storage_db_release(storage_db *db, storage_conn *c, int is_broken);

/* True when the backend keeps file bytes itself (PostgreSQL); false when
 * the files live on disk beside the database (SQLite: files.c). */
int storage_db_stores_bytes(const storage_db *db);

storage_kind storage_db_kind(const storage_db *db);

/* ------------------------------------------------------------------------ */
/* Users                                                                    */

typedef struct storage_user {
    char *uid;
    char *email;
    char *display_name;
    char *profile_json; /* a JSON object: preferences, dateOfBirth, ...; "{}" */
    char *created_at;
    char *updated_at;
    char *last_login;
} storage_user;

void storage_user_clear(storage_user *u);

/* A new account whose row storage_user_create makes when it has none. */
typedef struct storage_user_new {
    const char *uid;
    const char *email;        /* may be NULL ("") */
    const char *display_name; /* may be NULL ("") */
} storage_user_new;

/* storage_user_update's read-modify-write: merge(arg, old_profile_json,
 * old_display_name, &new_profile_json, &new_display_name, err, errlen). */
typedef int (*storage_merge_fn)(void *arg, const char *old_profile_json,
                                const char *old_display_name, char **new_profile_json,
                                char **new_display_name, char *err, size_t errlen);

void storage_strv_free(char **v, size_t n);

/* ------------------------------------------------------------------------ */
/* Documents                                                                */

/* Processing status of a document's text. */
#define STORAGE_ST_UPLOADED "uploaded"
#define STORAGE_ST_PROCESSING "processing"
#define STORAGE_ST_PROCESSED "processed"
#define STORAGE_ST_FAILED "failed"

typedef struct storage_doc {
    char *id;                /* UUID, chosen by the server */
    char *user_id;
    char *name;              /* display name */
    char *original_filename; /* sanitised client file name */
    char *file_type;         /* "pdf", "docx", "txt", "md", "png", "jpg" */
    char *mime_type;         /* "application/pdf", ... */
    char *status;            /* STORAGE_ST_* */
    char *error;             /* why it failed, "" otherwise */
    char *sha256;            /* hex of the bytes */
    char *created_at;
    char *updated_at;
    int64_t size;            /* bytes of the file */
    int64_t content_length;  /* bytes of the extracted text (0 until processed) */
    int64_t page_count;      /* pages (PDF), 1 for others once processed, 0 before */
    char *text;              /* the extracted text: only when asked, else NULL */
    /* Since schema 2: the claim on its extraction (see "The extraction
     * queue" below). storage_doc_create: claimed_by may be NULL (nobody)
     * and lease_until NULL (claimable at once); read back, "" when none. */
    char *claimed_by;        /* the token of the worker that holds it */
    char *lease_until;       /* nobody else may claim it before this time */
    int64_t interrupted;     /* extractions of it that were cut off */
} storage_doc;

void storage_doc_clear(storage_doc *d);
void storage_docs_free(storage_doc *v, size_t n);

/* ------------------------------------------------------------------------ */
/* The extraction queue                                                     */

/* A document whose text is still to come (status uploaded or processing)
 * is held by one worker at a time: claimed_by is that worker's token (any
 * string unique to a worker process, never ""), lease_until (an ISO time)
 * is when the claim lapses unless renewed. An upload claims its document
 * in storage_doc_create; a worker looking for work claims documents whose
 * lease has passed (their holder died, or they wait for nobody) with
 * storage_doc_claim. The holder renews its claims (storage_doc_renew),
 * marks the start of the extraction (storage_doc_start), and ends with
 * storage_doc_set_text or storage_doc_set_status(failed) given its token,
 * or hands the document back (storage_doc_release). Every one of these is
 * conditional on the claim: a worker whose claim was taken over stores
 * nothing. */

typedef struct storage_pending {
    char *id;
    char *user_id;
    char *file_type;
    int64_t interrupted; /* with this claim, if it took over a cut-off run */
} storage_pending;

void storage_pending_free(storage_pending *v, size_t n);

/* ------------------------------------------------------------------------ */
/* Passage search                                                           */

typedef struct storage_passage {
    int64_t seq;  /* 0-based position in the document */
    double score; /* higher is better (BM25 / ts_rank_cd, sign normalised) */
    char *text;
} storage_passage;

void storage_passages_free(storage_passage *v, size_t n);

/* ------------------------------------------------------------------------ */
/* Feedback                                                                 */

typedef struct storage_feedback {
    char *id;
    char *user_id;
    char *email;
    char *type;         /* bug, accessibility, suggestion, other */
    char *description;
    char *browser_info;
    char *status;       /* new, reviewed, resolved */
    char *created_at;
} storage_feedback;

void storage_feedback_free(storage_feedback *v, size_t n);

/* ------------------------------------------------------------------------ */
/* Administration                                                           */

typedef struct storage_stats {
    int64_t users_total, users_with_documents;
    int64_t docs_total, docs_processed, docs_processing, docs_failed, docs_pending;
    int64_t fb_total, fb_new, fb_reviewed, fb_resolved;
    int64_t fb_bug, fb_accessibility, fb_suggestion, fb_other;
} storage_stats;

/* ------------------------------------------------------------------------ */
/* Activity and progress                                                    */

/* Kinds of activity; the storage plugin records "upload" itself, the
 * tutoring plugin "chat", "quiz" and "answer" through storage.v1. */
typedef struct storage_activity {
    const char *uid;
    const char *kind;    /* [a-z_]{1,32} */
    int64_t points;      /* >= 0 */
    double score;        /* quiz: correct answers; else 0 */
    double max_score;    /* quiz: questions; else 0 */
    const char *day;     /* the UTC day "2026-11-28" */
    const char *now;
} storage_activity;

typedef struct storage_kind_count {
    char *kind;
    int64_t count;
    int64_t points;
    double score;     /* sum */
    double max_score; /* sum */
    double best;      /* best score / max_score ratio, 0..1 (quiz) */
} storage_kind_count;

typedef struct storage_progress {
    int64_t documents;       /* documents the user has now */
    int64_t points;          /* sum over activity */
    storage_kind_count *kinds; /* per kind; malloc'd */
    size_t n_kinds;
    char **days;             /* distinct active UTC days, newest first, at most 400 */
    size_t n_days;
} storage_progress;

void storage_progress_clear(storage_progress *p);

/* ------------------------------------------------------------------------ */
/* Generic per-user records (the storage.v1 records of other plugins)       */

/* A record is (uid, kind, key) -> a JSON value; it may carry an ordered
 * list of items (messages of a thread), each a JSON value with a seq that
 * grows by one from 1. kind: [a-z0-9_.]{1,64}; key: 1..128 bytes. */
typedef struct storage_rec {
    char *key;
    char *json;
    int64_t seq; /* items: the item's seq; records: the number of items */
    char *created_at;
    char *updated_at;
} storage_rec;

void storage_rec_clear(storage_rec *r);
void storage_recs_free(storage_rec *v, size_t n);

/* One write of a batch. */
typedef enum storage_op_type {
    STORAGE_OP_PUT = 1,      /* storage_rec_put(kind, key, json) */
    STORAGE_OP_APPEND = 2,   /* storage_rec_append(kind, key, json) → seq */
    STORAGE_OP_ACTIVITY = 3, /* storage_activity_add(act; act.uid, day and now may be NULL:
                                the batch's uid and now, and now's day, are used) */
} storage_op_type;

typedef struct storage_op {
    storage_op_type type;
    const char *kind, *key, *json; /* put, append (borrowed) */
    storage_activity act;          /* activity (borrowed strings) */
    int64_t seq;                   /* out: an append's item seq, else 0 */
} storage_op;

/* What a batch reads back after its ops, in its own transaction: the last
 * last_n (>= 1) items of the user's record (kind, key) as storage_rec_items
 * (after_seq 0) gives them once the batch commits. kind and key are
 * borrowed; the batch fills items (malloc'd, the caller frees them with
 * storage_recs_free) and n_items, and leaves NULL and 0 when it fails. */
typedef struct storage_batch_read {
    const char *kind, *key;
    int last_n;
    storage_rec *items; /* out */
    size_t n_items;     /* out */
} storage_batch_read;

/* ------------------------------------------------------------------------ */
/* Group commit                                                             */

/* A write for storage_write: ONE operation of store.h (atomic by itself)
 * on the connection it is given, which may be another thread's. */
typedef int (*storage_write_fn)(storage_conn *c, void *arg, char *err, size_t errlen);

/* Runs fn(conn, arg, err, errlen) committed TOGETHER with the writes that
 * other threads of this process hand to storage_write on db at the same
 * moment: one transaction and one fsync for all of them (SQLite). The
 * first thread to come leads: it runs every write queued at that moment on
 * its connection `c`, each in a savepoint of its own (one write's failure
 * undoes that write only, as it would alone), and commits once; the others wait and get
 * their own fn's result (or the commit's failure, then nothing of theirs
 * was written). fn must touch only its arg and the connection it is
 * handed: it may run on another thread. A backend without groups
 * (PostgreSQL, whose server flushes concurrent commits together itself)
 * runs fn(c) as is. Returns fn's code (err filled) or the commit's. */
int storage_write(storage_db *db, storage_conn *c, storage_write_fn fn, void *arg, char *err,
                  size_t errlen);

/* ------------------------------------------------------------------------ */
/* The operations: int storage_NAME(storage_conn *c, ...), one per line of
 * store_ops.h, where each one's contract is written.                       */

#define STORAGE_OP(name, front, params, args) int storage_##name params;
#include "store_ops.h"
#undef STORAGE_OP

/* ------------------------------------------------------------------------ */
/* Small helpers (store.c)                                                  */

/* "2026-11-28T16:03:47.123Z" of the real-time clock into buf (>= 25). */
void storage_now_iso(char *buf, size_t buflen);
/* The same of the real-time clock plus ms (may be negative). */
void storage_iso_in(char *buf, size_t buflen, int64_t ms);
/* A random UUID v4 (RAND_bytes) into buf (>= 37). LX_EIO when the random
 * source fails. */
int storage_uuid(char *buf, size_t buflen);

#endif
