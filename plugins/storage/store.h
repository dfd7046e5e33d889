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

#define STORAGE_SCHEMA_VERSION 2 /* the newest migration this binary knows */
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
/* Schema                                                                   */

/* Applies every migration newer than the database's version, each in its
 * own transaction, and records it; idempotent (a second call does nothing);
 * safe when several processes start at once (SQLite: BEGIN IMMEDIATE;
 * PostgreSQL: an advisory lock). *version (may be NULL) gets the version
 * now in place. LX_ESTATE with "database schema version N is newer than
 * this lexiaid (M); upgrade lexiaid" when the database is ahead. */
int storage_migrate(storage_conn *c, int *version, char *err, size_t errlen);

/* A cheap round trip (SELECT 1) for /ready. */
int storage_ping(storage_conn *c, char *err, size_t errlen);

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

/* Creates the user's row when absent (*is_created = 1), else updates email
 * (when non-NULL) and last_login (*is_created = 0). display_name may be
 * NULL. `profile_json` is the initial profile of a new row (a JSON object;
 * NULL means "{}"). */
int storage_user_init(storage_conn *c, const char *uid, const char *email,
                      const char *display_name, const char *profile_json, const char *now,
                      int *is_created, char *err, size_t errlen);

/* A new account whose row storage_user_create makes when it has none. */
typedef struct storage_user_new {
    const char *uid;
    const char *email;        /* may be NULL ("") */
    const char *display_name; /* may be NULL ("") */
} storage_user_new;

/* Makes the rows of the users in v[0..n) that have none, in ONE
 * transaction: email and display name as given, the empty profile
 * (defaults), created_at = now, no last login. A row that exists is left
 * exactly as it is. created[i] (created may be NULL) is 1 for each row
 * made, 0 for each that was there. */
int storage_user_create(storage_conn *c, const storage_user_new *v, size_t n, const char *now,
                        int *created, char *err, size_t errlen);

/* Fills *u; LX_ENOENT when the user has no row. */
int storage_user_get(storage_conn *c, const char *uid, storage_user *u, char *err,
                     size_t errlen);

/* Read-modify-write of one profile, atomic against every other writer (one
 * transaction with the row locked: SQLite BEGIN IMMEDIATE, PostgreSQL
 * SELECT ... FOR UPDATE). Creates the row first when absent (email may be
 * NULL). merge(arg, old_profile_json, old_display_name, &new_profile_json,
 * &new_display_name, err, errlen) runs inside the transaction on this
 * thread; it returns LX_OK with the new values malloc'd (NULL display name:
 * unchanged) or an error, which rolls back and is returned as is (its
 * message in err). On success *u (may be NULL) is the row as written. */
typedef int (*storage_merge_fn)(void *arg, const char *old_profile_json,
                                const char *old_display_name, char **new_profile_json,
                                char **new_display_name, char *err, size_t errlen);
int storage_user_update(storage_conn *c, const char *uid, const char *email, const char *now,
                        storage_merge_fn merge, void *arg, storage_user *u, char *err,
                        size_t errlen);

/* Deletes every row of uid in every table (users, documents and their
 * text, passages and chunks, feedback, activity, records) in one
 * transaction. *doc_ids (may be NULL) gets the ids of the documents that
 * were deleted (malloc'd array of malloc'd strings, *n_docs entries; free
 * with storage_strv_free) so the caller can remove their files AFTER the
 * commit. Deleting a user with no rows is LX_OK. */
int storage_user_delete(storage_conn *c, const char *uid, char ***doc_ids, size_t *n_docs,
                        char *err, size_t errlen);

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

/* Inserts the document row d (every string set; status "uploaded") and,
 * when the backend stores bytes, its bytes in chunks, all in one
 * transaction: either everything is there after a crash or nothing is.
 * With SQLite, bytes must be NULL (the caller keeps the file, files.c);
 * with PostgreSQL bytes/len are the file. LX_EEXIST when d->id is taken. */
int storage_doc_create(storage_conn *c, const storage_doc *d, const void *bytes, size_t len,
                       char *err, size_t errlen);

/* The user's documents, newest first, without text. *docs is malloc'd
 * (free with storage_docs_free), *n entries; zero documents is LX_OK with
 * *docs NULL. */
int storage_doc_list(storage_conn *c, const char *uid, storage_doc **docs, size_t *n, char *err,
                     size_t errlen);

/* One document of uid; with_text also loads d->text ("" when none).
 * LX_ENOENT when absent or another user's. */
int storage_doc_get(storage_conn *c, const char *uid, const char *id, int with_text,
                    storage_doc *d, char *err, size_t errlen);

/* Deletes the row, its text, passages and chunks. LX_ENOENT when absent or
 * another user's. The caller removes the file after this returns LX_OK. */
int storage_doc_delete(storage_conn *c, const char *uid, const char *id, char *err,
                       size_t errlen);

/* Sets status (and error: NULL means "") and updated_at; a final status
 * (processed, failed) ends the claim. With owner NULL unconditionally;
 * with an owner only while the document is pending (uploaded or
 * processing) and claimed by owner. LX_ENOENT when the row is gone
 * (deleted meanwhile) or, with an owner, not owner's any more: not an
 * error for the caller to report. */
int storage_doc_set_status(storage_conn *c, const char *id, const char *owner, const char *status,
                           const char *error, const char *now, char *err, size_t errlen);

/* Stores the extracted text of a document and its passages for search, sets
 * status "processed", content_length, page_count and updated_at and ends
 * the claim: one transaction. passages[i] are the pieces of text that
 * search returns (text.c cuts them), n_passages may be 0 (an empty
 * document). owner as storage_doc_set_status (LX_ENOENT: not stored). */
int storage_doc_set_text(storage_conn *c, const char *id, const char *owner, const char *text,
                         size_t text_len, int64_t page_count, const char *const *passages,
                         size_t n_passages, const char *now, char *err, size_t errlen);

/* Reads up to cap bytes of the stored file from offset (PostgreSQL only:
 * chunks; the caller loops). *n is 0 at the end. LX_ENOENT when absent or
 * another user's. */
int storage_doc_read(storage_conn *c, const char *uid, const char *id, int64_t offset, void *buf,
                     size_t cap, size_t *n, char *err, size_t errlen);

/* Every document id with its owner (SQLite start-up check of files).
 * Parallel malloc'd arrays; free both with storage_strv_free. */
int storage_doc_all_ids(storage_conn *c, char ***ids, char ***uids, size_t *n, char *err,
                        size_t errlen);

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

/* Claims at most max (>= 1) pending documents of any user whose lease is
 * before now, oldest lease first, for owner until `until`. A document
 * taken over while "processing" was cut off: its interrupted count grows
 * by one. Exactly one caller gets each document however many workers and
 * processes claim at once (SQLite: one write transaction; PostgreSQL: FOR
 * UPDATE SKIP LOCKED). *out malloc'd (storage_pending_free), *n entries;
 * none is LX_OK with *out NULL. */
int storage_doc_claim(storage_conn *c, const char *owner, const char *now, const char *until,
                      int max, storage_pending **out, size_t *n, char *err, size_t errlen);

/* Whether any pending document's lease is before now: a cheap read, so
 * that looking for work takes no write lock when there is none. */
int storage_doc_any_claimable(storage_conn *c, const char *now, int *is_any, char *err,
                              size_t errlen);

/* Moves the lease of documents ids[0..n) to `until`, those of them still
 * pending and owner's; *n_renewed (may be NULL) gets how many. One
 * transaction. */
int storage_doc_renew(storage_conn *c, const char *owner, const char *const *ids, size_t n,
                      const char *until, int64_t *n_renewed, char *err, size_t errlen);

/* The extraction of document id begins: status "processing", error "",
 * updated_at now. LX_ENOENT when it is no longer pending and owner's. */
int storage_doc_start(storage_conn *c, const char *id, const char *owner, const char *now,
                      char *err, size_t errlen);

/* Gives document id back: status "uploaded", nobody's claim, claimable
 * from not_before ("" at once). LX_ENOENT when it is not pending and
 * owner's. */
int storage_doc_release(storage_conn *c, const char *id, const char *owner, const char *not_before,
                        char *err, size_t errlen);

/* Ids of the failed documents whose error is exactly `error` (any user).
 * malloc'd, free with storage_strv_free. */
int storage_doc_failed_ids(storage_conn *c, const char *error, char ***ids, size_t *n, char *err,
                           size_t errlen);

/* A failed document whose error is exactly `error` is pending again:
 * status "uploaded", error "", nobody's claim, claimable at once.
 * LX_ENOENT when it is not failed with that error. */
int storage_doc_retry_failed(storage_conn *c, const char *id, const char *error, const char *now,
                             char *err, size_t errlen);

/* ------------------------------------------------------------------------ */
/* Passage search                                                           */

typedef struct storage_passage {
    int64_t seq;  /* 0-based position in the document */
    double score; /* higher is better (BM25 / ts_rank_cd, sign normalised) */
    char *text;
} storage_passage;

void storage_passages_free(storage_passage *v, size_t n);

/* The passages of one document of uid that best match `query` (free text
 * from a person: the backend takes its words only, never its syntax; no
 * word in it gives zero results), best first, at most `limit`.
 * LX_ENOENT when the document is absent or another user's. */
int storage_doc_search(storage_conn *c, const char *uid, const char *id, const char *query,
                       int limit, storage_passage **out, size_t *n, char *err, size_t errlen);

/* Passages seq in [from, from + count) of one document, in order (context
 * around a hit, or the start of a document). */
int storage_doc_passages(storage_conn *c, const char *uid, const char *id, int64_t from,
                         int count, storage_passage **out, size_t *n, char *err, size_t errlen);

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

/* Inserts f (id chosen by the caller, every string set). */
int storage_feedback_create(storage_conn *c, const storage_feedback *f, char *err,
                            size_t errlen);

/* Newest first; status and type filter when non-NULL; *total is the count
 * matching the filters before limit/offset. */
int storage_feedback_list(storage_conn *c, const char *status, const char *type, int limit,
                          int offset, storage_feedback **out, size_t *n, int64_t *total,
                          char *err, size_t errlen);

/* ------------------------------------------------------------------------ */
/* Administration                                                           */

typedef struct storage_stats {
    int64_t users_total, users_with_documents;
    int64_t docs_total, docs_processed, docs_processing, docs_failed, docs_pending;
    int64_t fb_total, fb_new, fb_reviewed, fb_resolved;
    int64_t fb_bug, fb_accessibility, fb_suggestion, fb_other;
} storage_stats;

int storage_stats_get(storage_conn *c, storage_stats *s, char *err, size_t errlen);

/* Users ordered by uid, after `after_uid` ("" or NULL: from the start), at
 * most limit; *has_more when more follow. malloc'd, free each with
 * storage_user_clear then free(). */
int storage_user_page(storage_conn *c, const char *after_uid, int limit, storage_user **out,
                      size_t *n, int *has_more, char *err, size_t errlen);

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

int storage_activity_add(storage_conn *c, const storage_activity *a, char *err, size_t errlen);

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

int storage_progress_get(storage_conn *c, const char *uid, storage_progress *p, char *err,
                         size_t errlen);

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

/* Creates or replaces the record's value (items kept). */
int storage_rec_put(storage_conn *c, const char *uid, const char *kind, const char *key,
                    const char *json, const char *now, char *err, size_t errlen);

/* LX_ENOENT when absent (or another user's). r->seq = number of items. */
int storage_rec_get(storage_conn *c, const char *uid, const char *kind, const char *key,
                    storage_rec *r, char *err, size_t errlen);

/* Appends one item to an existing record (LX_ENOENT when absent) and
 * touches its updated_at; *seq (may be NULL) gets the item's seq. */
int storage_rec_append(storage_conn *c, const char *uid, const char *kind, const char *key,
                       const char *json, const char *now, int64_t *seq, char *err,
                       size_t errlen);

/* Items of a record in seq order: those with seq > after_seq, and of those
 * only the last `last_n` when last_n > 0. LX_ENOENT when the record is
 * absent. Zero items is LX_OK with *out NULL. */
int storage_rec_items(storage_conn *c, const char *uid, const char *kind, const char *key,
                      int64_t after_seq, int last_n, storage_rec **out, size_t *n, char *err,
                      size_t errlen);

/* Records of one kind for uid, most recently updated first, at most limit;
 * json filled, seq = number of items. */
int storage_rec_list(storage_conn *c, const char *uid, const char *kind, int limit,
                     storage_rec **out, size_t *n, char *err, size_t errlen);

/* Deletes the record and its items; LX_ENOENT when absent. */
int storage_rec_delete(storage_conn *c, const char *uid, const char *kind, const char *key,
                       char *err, size_t errlen);

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

/* Runs ops[0..n) for uid in order in ONE write transaction: all or
 * nothing. The first failing op's code and message (e.g. LX_ENOENT for an
 * append to an absent record) roll everything back. */
int storage_batch(storage_conn *c, const char *uid, storage_op *ops, size_t n, const char *now,
                  char *err, size_t errlen);

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
