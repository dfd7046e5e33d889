/*
 * Internals of the PostgreSQL backend, shared by its three files only
 * (the statements themselves: store_pg_sql.h):
 *   store_pg.c        the connection, reconnecting, the statement table and
 *                     its preparation, running statements, transactions,
 *                     migrations, reading rows, the backend table
 *   store_pg_docs.c   documents, their bytes (doc_chunks), text, passages,
 *                     search, the stale and all-ids scans
 *   store_pg_users.c  users, feedback, statistics, activity and progress,
 *                     records
 *
 * Threads: as store.h: every function BLOCKS and a connection is used by
 * one thread at a time. Errors: LX_OK or a negative LX_E* code with a
 * message in the caller's err (store_pg.c's header comment has the mapping
 * of server errors); err may be NULL only where said.
 */
#ifndef STORAGE_STORE_PG_H
#define STORAGE_STORE_PG_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store_backend.h"
#include "store_pg_sql.h"

/* The statement numbers: PGS_<NAME> of every X(NAME, ...) of store_pg_sql.h,
 * in its order. */
#define PG_STMT_ENUM(name, n_params, sql) PGS_##name,
enum { PG_STATEMENTS(PG_STMT_ENUM) PGS_N_STMTS };
#undef PG_STMT_ENUM

/* One connection: store.c sees the storage_conn at its start. */
typedef struct storage_pg_conn {
    storage_conn base;
    PGconn *pg;
    unsigned char is_prepared[PGS_N_STMTS];
    int64_t n_trips; /* round trips to the server so far (storage_pg_trips) */
    int is_ending;   /* the server said FATAL while idle: it is closing the session */
} storage_pg_conn;

/* The backend's connection behind c (which this backend made). */
static inline storage_pg_conn *storage_pg_of(storage_conn *c)
{
    return (storage_pg_conn *)(void *)c;
}

/* The backend's operations: storage_pg_NAME for every line of store_ops.h,
 * with the contract written there; store_pg.c's backend table points at
 * them. Migrations and ping: store_pg.c; users, feedback, stats, activity,
 * progress and records: store_pg_users.c; documents and passages:
 * store_pg_docs.c. */
#define STORAGE_OP(name, front, params, args) int storage_pg_##name params;
#include "store_ops.h"
#undef STORAGE_OP

/* The activity insert: one statement, inside the caller's transaction when
 * there is one (store_pg_users.c; doc_create and batch use it too). */
int storage_pg_activity_in(storage_pg_conn *p, const storage_activity *a, char *err, size_t errlen);

/* ---------------------------------------------------------------- messages */

/* "msg" or "msg: detail" (detail may be NULL) into err as one line: runs
 * of white space fold to one space. err may be NULL. */
void storage_pg_errf(char *err, size_t errlen, const char *msg, const char *detail);
/* "postgres: out of memory" into err; returns LX_ENOMEM. */
int storage_pg_oom(char *err, size_t errlen);
/* "no such <what>" into err; returns LX_ENOENT. */
int storage_pg_absent(char *err, size_t errlen, const char *what);

/* ------------------------------------------------------ running statements */

/* Runs statement s (prepared on this connection at first use; an idle
 * connection whose server went away is made again first) with its n
 * parameters vals (borrowed; NULL entries are SQL NULL), as text or, per
 * fmts/lens (both may be NULL: all text), binary; rfmt 1 asks binary
 * results. On LX_OK *out is the result, owned by the caller (PQclear);
 * else *out is NULL. */
int storage_pg_run_fmt(storage_pg_conn *p, int s, const char *const *vals, const int *lens,
                       const int *fmts, int rfmt, PGresult **out, char *err, size_t errlen);
/* storage_pg_run_fmt with text parameters and results. */
int storage_pg_run(storage_pg_conn *p, int s, const char *const *vals, PGresult **out, char *err,
                   size_t errlen);
/* storage_pg_run, then LX_ENOENT ("no such <what>", *out NULL) when the
 * result has no row. */
int storage_pg_run_found(storage_pg_conn *p, int s, const char *const *vals, const char *what,
                         PGresult **out, char *err, size_t errlen);
/* Runs s and reads the first field of its first row as a number into *v
 * (0 on failure); LX_ENOENT ("no such <what>") when there is no row. */
int storage_pg_int_of(storage_pg_conn *p, int s, const char *const *vals, const char *what,
                      int64_t *v, char *err, size_t errlen);
/* Runs s for its effect only; *n_rows (may be NULL) gets the rows it
 * touched. */
int storage_pg_do(storage_pg_conn *p, int s, const char *const *vals, int64_t *n_rows, char *err,
                  size_t errlen);
/* storage_pg_do of a statement that must touch a row: LX_ENOENT ("no such
 * <what>") when it touched none. */
int storage_pg_do_one(storage_pg_conn *p, int s, const char *const *vals, const char *what,
                      char *err, size_t errlen);

/* One statement of a pipeline (storage_pg_pipeline): s and its text
 * parameters vals (borrowed) in; its result out. */
typedef struct storage_pg_step {
    int s;
    const char *const *vals;
    PGresult *r; /* on LX_OK, owned by the caller (PQclear); else NULL */
} storage_pg_step;

/* Runs steps[0..n) (n >= 1) in one round trip (libpq's pipeline mode: the
 * statements, and the preparation of those not yet prepared on this
 * connection, sent together, then one Sync). They are one implicit
 * transaction, which the Sync commits: every statement's effect, or none
 * (a failing statement undoes the ones before it and skips the rest). An
 * idle connection whose server went away is made again first. LX_OK with
 * every steps[i].r set; else the first failing statement's error, as
 * storage_pg_run's (or the commit's), and no result is kept. */
int storage_pg_pipeline(storage_pg_conn *p, storage_pg_step *steps, size_t n, char *err,
                        size_t errlen);

/* The round trips this connection has made to the server (statements,
 * preparations, BEGIN and COMMIT, pipelines), for the tests that pin how
 * many an operation costs. */
int64_t storage_pg_trips(storage_conn *c);

/* The work of one transaction: returns LX_OK to commit, else its failure
 * (with its message in err) to roll back. */
typedef int (*storage_pg_tx_fn)(storage_pg_conn *p, void *arg, char *err, size_t errlen);
/* Runs body(p, arg) between BEGIN and COMMIT. Returns BEGIN's failure, or
 * body's failure as is (rolled back), or COMMIT's result (a failed commit
 * rolls back; a deferred unique or data error keeps its code, anything
 * else is LX_EIO). */
int storage_pg_in_tx(storage_pg_conn *p, storage_pg_tx_fn body, void *arg, char *err,
                     size_t errlen);

/* ------------------------------------------------------------------ values */

/* Room for a number as text, as a statement parameter. */
typedef struct storage_pg_num {
    char s[32];
} storage_pg_num;

/* v as decimal text in b; returns b->s. */
const char *storage_pg_i64(storage_pg_num *b, int64_t v);

/* ------------------------------------------------------------- reading rows */

/* A malloc'd copy of a field ("" for NULL); NULL only when out of memory,
 * which then sets *is_oom. */
char *storage_pg_dup(const PGresult *r, int row, int col, int *is_oom);
/* A text field as a number (0 for NULL). */
int64_t storage_pg_int(const PGresult *r, int row, int col);
double storage_pg_float(const PGresult *r, int row, int col);

/* Fills one zeroed item from row `row` of r; a string it cannot copy
 * stays NULL and sets *is_oom (the item is still freeable). */
typedef void (*storage_pg_fill_fn)(const PGresult *r, int row, void *item, int *is_oom);
/* Frees an array of n items made by fill (the items' strings, then v). */
typedef void (*storage_pg_drop_fn)(void *v, size_t n);

/* Rows [0, rows) of r (rows <= PQntuples(r)) through fill into a calloc'd
 * array of items of `size` bytes, *out (NULL when rows is 0), owned by the
 * caller. LX_ENOMEM: *out NULL, drop freed what was made. No message. */
int storage_pg_read_rows(const PGresult *r, int rows, size_t size, storage_pg_fill_fn fill,
                         storage_pg_drop_fn drop, void **out);
/* Runs s and reads all its rows as storage_pg_read_rows; *n the count.
 * Nothing is kept on failure (*out NULL, *n 0). */
int storage_pg_list(storage_pg_conn *p, int s, const char *const *vals, size_t size,
                    storage_pg_fill_fn fill, storage_pg_drop_fn drop, void **out, size_t *n,
                    char *err, size_t errlen);
/* Runs s and fills *item (`size` bytes, zeroed first) from its first row
 * through fill; LX_ENOENT "no such <what>" when there is none. On failure
 * *item stays zeroed. drop frees an array of such items. */
int storage_pg_get(storage_pg_conn *p, int s, const char *const *vals, const char *what,
                   size_t size, storage_pg_fill_fn fill, storage_pg_drop_fn drop, void *item,
                   char *err, size_t errlen);
/* Fills *item as storage_pg_get does, from the first row of r, a result
 * the caller ran (a pipeline's step); r stays the caller's. */
int storage_pg_row(const PGresult *r, const char *what, size_t size, storage_pg_fill_fn fill,
                   storage_pg_drop_fn drop, void *item, char *err, size_t errlen);
/* A text[] literal of v[0..n) ({"a","b \"c\""}): every element quoted,
 * with " and \ escaped, so that no element's content is array syntax; a
 * NULL string is "". malloc'd; NULL when out of memory. */
char *storage_pg_text_array(const char *const *v, size_t n);
/* Column col of every row of r as a malloc'd string vector (*out NULL and
 * *n 0 when none; free with storage_strv_free). LX_ENOMEM: nothing kept,
 * no message. */
int storage_pg_strv(const PGresult *r, int col, char ***out, size_t *n);

#endif
