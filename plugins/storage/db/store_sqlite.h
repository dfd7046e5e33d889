/*
 * Internals of the SQLite backend, shared by its three files only:
 *   store_sqlite.c        the connection, the statement table and its cache,
 *                         binding, reading columns and rows, transactions,
 *                         migrations, the backend table
 *   store_sqlite_docs.c   documents, their text and passages, search, the
 *                         read refusal, the stale and all-ids scans
 *   store_sqlite_users.c  users, feedback, statistics, activity and
 *                         progress, records
 *
 * Threads: as store.h: every function BLOCKS and a connection is used by
 * one thread at a time. Errors: LX_OK or a negative LX_E* code with
 * "sqlite: WHAT: message" (or the message named) in the caller's err, which
 * may be NULL or of length 0. Strings passed in are borrowed for the call
 * and bound SQLITE_STATIC: a statement never outlives the call that ran it
 * (storage_sq_end resets it).
 */
#ifndef STORAGE_STORE_SQLITE_H
#define STORAGE_STORE_SQLITE_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store_backend.h"

/* Column lists of the statements that read whole rows; the row readers
 * (store_sqlite_docs.c, store_sqlite_users.c) read them in this order. */
#define SQ_DOC_COLS                                                                                \
    "id, user_id, name, original_filename, file_type, mime_type, status, error, sha256, "          \
    "created_at, updated_at, size, content_length, page_count, claimed_by, lease_until, "          \
    "interrupted"
#define SQ_USER_COLS "uid, email, display_name, profile_json, created_at, updated_at, last_login"
#define SQ_FB_COLS "id, user_id, email, type, description, browser_info, status, created_at"
#define SQ_FB_FILTER "(?1 IS NULL OR status = ?1) AND (?2 IS NULL OR type = ?2)"

/* The statements of store_sqlite.c's table, by job. */
enum sq_id {
    SQ_BEGIN,
    SQ_BEGIN_IMMEDIATE,
    SQ_COMMIT,
    SQ_ROLLBACK,
    SQ_SAVEPOINT,
    SQ_RELEASE,
    SQ_ROLLBACK_TO,
    SQ_PING,
    SQ_MIG_VERSION,
    SQ_MIG_RECORD,
    SQ_USER_INSERT,
    SQ_USER_LOGIN,
    SQ_USER_GET,
    SQ_USER_SET,
    SQ_USER_PAGE,
    SQ_USER_DOC_IDS,
    SQ_USER_DEL_DOCS,
    SQ_USER_DEL_FEEDBACK,
    SQ_USER_DEL_ACTIVITY,
    SQ_USER_DEL_ITEMS,
    SQ_USER_DEL_RECORDS,
    SQ_USER_DEL,
    SQ_DOC_INSERT,
    SQ_DOC_LIST,
    SQ_DOC_GET,
    SQ_DOC_TEXT,
    SQ_DOC_OWNED,
    SQ_DOC_DELETE,
    SQ_DOC_STATUS,
    SQ_DOC_PROCESSED,
    SQ_TEXT_PUT,
    SQ_PASSAGES_CLEAR,
    SQ_PASSAGES_INSERT,
    SQ_DOC_CLAIM,
    SQ_DOC_CLAIMABLE,
    SQ_DOC_RENEW,
    SQ_DOC_START,
    SQ_DOC_RELEASE,
    SQ_DOC_FAILED_IDS,
    SQ_DOC_RETRY_FAILED,
    SQ_DOC_ALL,
    SQ_DOC_ASSETS_CLAIM,
    SQ_DOC_ASSETS_RELEASE,
    SQ_SEARCH,
    SQ_PASSAGES,
    SQ_FB_INSERT,
    SQ_FB_COUNT,
    SQ_FB_LIST,
    SQ_STATS,
    SQ_ACT_INSERT,
    SQ_PROG_DOCS,
    SQ_PROG_KINDS,
    SQ_PROG_DAYS,
    SQ_REC_PUT,
    SQ_REC_GET,
    SQ_REC_BUMP,
    SQ_ITEM_INSERT,
    SQ_ITEMS,
    SQ_ITEMS_LAST,
    SQ_REC_LIST,
    SQ_ITEMS_DELETE,
    SQ_REC_DELETE,
    SQ_N
};

/* A connection: store_backend.h's base first, then the handle and the
 * statements, each prepared on first use and finalized by disconnect. */
typedef struct storage_sq_conn {
    storage_conn base;
    sqlite3 *db;
    sqlite3_stmt *st[SQ_N];
    int holds_write;      /* this connection holds the process's writer turn */
    int in_group;         /* a group commit's transaction is open: begin and finish are
                             the savepoints of storage_sq_group_run */
    int is_group_lost;    /* a failure rolled the group's transaction back */
    long busy_timeout_ms; /* how long the busy handler waits for another process */
    double busy_t0;       /* when the current wait began (monotonic ms) */
} storage_sq_conn;

static inline storage_sq_conn *storage_sq_of(storage_conn *c)
{
    return (storage_sq_conn *)c;
}

/* Reads one row of a stepped statement into the element `out` points to
 * (a storage_user, storage_doc, ...): LX_OK, or LX_ENOMEM with the element
 * possibly half filled (its clear/free function releases it). */
typedef int (*storage_sq_row_fn)(sqlite3_stmt *st, void *out);

/* ------------------------------------------------------------------------ */
/* Errors (store_sqlite.c; messages go through errf.h's storage_errf)       */

/* The LX_E* code of a failed SQLite call `rc` (extended codes are on):
 * LX_EEXIST for a taken key, LX_EINVAL for a refused value, LX_ENOMEM,
 * STORAGE_ENOSPC for a full disk (SQLITE_FULL, or an I/O error whose
 * system error is ENOSPC or EDQUOT), else LX_EIO; "sqlite: WHAT: message"
 * in err. */
int storage_sq_error(storage_sq_conn *s, int rc, const char *what, char *err, size_t errlen);

/* LX_ENOMEM with "sqlite: out of memory" in err. */
int storage_sq_nomem(char *err, size_t errlen);

/* ------------------------------------------------------------------------ */
/* Statements (store_sqlite.c)                                              */

/* The cached statement `id` of s, reset and with no bindings, in *out
 * (owned by s: never finalize it, give it back with storage_sq_end). */
int storage_sq_prep(storage_sq_conn *s, enum sq_id id, sqlite3_stmt **out, char *err,
                    size_t errlen);

/* Resets a statement after use (NULL is fine): it holds no read lock and
 * no pointer to the caller's strings once this returns. */
void storage_sq_end(sqlite3_stmt *st);

/* Binds parameters 1.. from a format: 't' const char * (NULL binds NULL,
 * bound SQLITE_STATIC: it must live until storage_sq_end), 'i' int64_t,
 * 'n' int, 'd' double. Returns an SQLite code (SQLITE_OK). */
int storage_sq_bind(sqlite3_stmt *st, const char *fmt, ...);

/* A malloc'd copy of text column i ("" for NULL), or NULL when out of
 * memory. The caller frees it. */
char *storage_sq_col(sqlite3_stmt *st, int i);

/* *dst[i] = storage_sq_col(st, i) for each i < n whose dst[i] is not NULL
 * (a NULL skips a column that is not text). LX_ENOMEM when any copy
 * failed; the copies made stay in place for the caller to free. */
int storage_sq_cols(sqlite3_stmt *st, char **const dst[], int n);

/* LIMIT n, where a negative n means no limit (as SQLite reads it). */
int storage_sq_limit(int limit);

/* Prepares `id`, binds fmt's parameters, steps once (a row, if any, is
 * ignored) and resets. For writes inside a transaction; *changes (may be
 * NULL) gets the rows changed; with `missing` ("no such document") not
 * NULL, no row changed is LX_ENOENT with that message in err. */
int storage_sq_run(storage_sq_conn *s, enum sq_id id, const char *what, const char *missing,
                   int *changes, char *err, size_t errlen, const char *fmt, ...);

/* One write in a transaction of its own: BEGIN IMMEDIATE, the statement
 * as storage_sq_run (missing NULL: any count of changed rows is fine),
 * COMMIT, or ROLLBACK on failure. */
int storage_sq_write(storage_sq_conn *s, enum sq_id id, const char *what, const char *missing,
                     char *err, size_t errlen, const char *fmt, ...);

/* ------------------------------------------------------------------------ */
/* Reading rows (store_sqlite.c)                                            */

/* Runs `id` with fmt's parameters and reads its first row with row(st,
 * out) (row NULL: only whether there is one). No row: LX_ENOENT with
 * `missing` in err, or, missing NULL, a failure (the statement must answer
 * a row). On failure *out may be half filled: the caller clears it. */
int storage_sq_row(storage_sq_conn *s, enum sq_id id, const char *what, const char *missing,
                   storage_sq_row_fn row, void *out, char *err, size_t errlen, const char *fmt,
                   ...);

/* Reads column 0 of a row as an int64_t into *(int64_t *)out. */
int storage_sq_int64_row(sqlite3_stmt *st, void *out);

/* Runs `id` with fmt's parameters and appends one element of `size` bytes
 * a row, filled by row, to the malloc'd array *v (NULL and *n 0 on entry;
 * grown as needed, new elements zeroed). On return, success or not, *v and
 * *n hold every element begun (the one a failing row was filling
 * included): the caller frees them with its own free function, always on
 * failure. */
int storage_sq_list(storage_sq_conn *s, enum sq_id id, const char *what, storage_sq_row_fn row,
                    size_t size, void **v, size_t *n, char *err, size_t errlen, const char *fmt,
                    ...);

#define SQ_STRINGS_MAX_COLS 4

/* Runs `id` with fmt's parameters and reads text columns 0..n_cols-1
 * (n_cols at most SQ_STRINGS_MAX_COLS) of every row into n_cols parallel
 * malloc'd arrays *cols[0..] (each freed by the caller with
 * storage_strv_free), *n rows. On failure every array is NULL, *n 0. */
int storage_sq_strings(storage_sq_conn *s, enum sq_id id, const char *what, int n_cols,
                       char ***cols[], size_t *n, char *err, size_t errlen, const char *fmt, ...);

/* ------------------------------------------------------------------------ */
/* Transactions (store_sqlite.c)                                            */

/* BEGIN IMMEDIATE for a write (waits for the write lock up to the busy
 * timeout), BEGIN for a consistent read of several statements. */
int storage_sq_begin(storage_sq_conn *s, int is_write, char *err, size_t errlen);

/* Commits, or rolls back when rc already says failure (keeping err);
 * returns the first failure. Ends every transaction storage_sq_begin
 * opened. */
int storage_sq_finish(storage_sq_conn *s, int rc, char *err, size_t errlen);

/* The activity insert inside the caller's transaction
 * (store_sqlite_users.c; doc_create and batch use it too). */
int storage_sq_activity_in(storage_sq_conn *s, const storage_activity *a, char *err,
                           size_t errlen);

/* ------------------------------------------------------------------------ */
/* The backend's operations: storage_sq_NAME for every line of store_ops.h,
 * with the contract written there. Migrations and ping: store_sqlite.c;
 * documents, passages, the extraction queue: store_sqlite_docs.c; users,
 * feedback, statistics, activity, progress, records:
 * store_sqlite_users.c.                                                    */

#define STORAGE_OP(name, front, params, args) int storage_sq_##name params;
#include "store_ops.h"
#undef STORAGE_OP

#endif
