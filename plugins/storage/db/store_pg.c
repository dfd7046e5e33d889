/*
 * The PostgreSQL backend of the store (store.h, store_backend.h), through
 * libpq.
 *
 * Statements: every statement with a value from outside is a constant in
 * store_pg_sql.h's list (pg_sql[] below), prepared once per connection on
 * first use (PQprepare) and run with PQexecPrepared: text parameters,
 * binary for bytea. Only the migrations' DDL and BEGIN/COMMIT/ROLLBACK run
 * as plain constant strings.
 *
 * Schema: the SQLite backend's tables and columns, plus doc_chunks, the
 * file bytes in STORAGE_CHUNK_SIZE pieces (stores_bytes = 1). Timestamps
 * are TEXT, kept exactly as the caller gives them. Identifier and time
 * columns use the "C" collation so that ordering is bytewise, as SQLite's.
 *
 * Errors: a lost connection and any failure of the server are LX_EIO (the
 * pool then drops the connection); unique_violation is LX_EEXIST; data
 * and constraint errors and program limits (classes 22, 23, 54) are
 * LX_EINVAL; disk_full (53100) is STORAGE_ENOSPC. Messages are the
 * server's primary message or libpq's, never the connection string.
 *
 * This file: the connection and reconnecting, the statement table and its
 * preparation, running statements, transactions, migrations, reading rows
 * and the backend table. The operations live in store_pg_docs.c and
 * store_pg_users.c (store_pg.h).
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store_pg.h"

/* ------------------------------------------------------------------------ */
/* Schema                                                                   */

/* The advisory lock that serialises migrations of replicas starting at
 * once: "lxstormg" as a 64-bit number. */
#define PG_MIGRATE_LOCK "7813762376591583079"

/* Migration 1: the schema of store_sqlite.c's migration 1 in PostgreSQL's
 * types, plus doc_chunks; passages carry their tsvector (tsv). */
static const char pg_migration_1[] =
    "CREATE TABLE users ("
    " uid text COLLATE \"C\" PRIMARY KEY,"
    " email text NOT NULL DEFAULT '',"
    " display_name text NOT NULL DEFAULT '',"
    " profile_json text NOT NULL DEFAULT '{}' CHECK ((profile_json::json) IS NOT NULL),"
    " created_at text COLLATE \"C\" NOT NULL,"
    " updated_at text COLLATE \"C\" NOT NULL,"
    " last_login text COLLATE \"C\" NOT NULL DEFAULT '');"
    "CREATE TABLE documents ("
    " id text COLLATE \"C\" PRIMARY KEY,"
    " user_id text COLLATE \"C\" NOT NULL,"
    " name text NOT NULL,"
    " original_filename text NOT NULL,"
    " file_type text NOT NULL,"
    " mime_type text NOT NULL,"
    " status text NOT NULL,"
    " error text NOT NULL DEFAULT '',"
    " sha256 text NOT NULL DEFAULT '',"
    " size bigint NOT NULL DEFAULT 0,"
    " content_length bigint NOT NULL DEFAULT 0,"
    " page_count bigint NOT NULL DEFAULT 0,"
    " created_at text COLLATE \"C\" NOT NULL,"
    " updated_at text COLLATE \"C\" NOT NULL);"
    "CREATE INDEX documents_user_created ON documents (user_id, created_at);"
    "CREATE INDEX documents_status_updated ON documents (status, updated_at);"
    "CREATE TABLE doc_texts ("
    " doc_id text COLLATE \"C\" PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,"
    " text text NOT NULL);"
    "CREATE TABLE passages ("
    " doc_id text COLLATE \"C\" NOT NULL REFERENCES documents (id) ON DELETE CASCADE,"
    " seq bigint NOT NULL,"
    " text text NOT NULL,"
    " tsv tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, text)) STORED,"
    " PRIMARY KEY (doc_id, seq));"
    "CREATE INDEX passages_tsv ON passages USING gin (tsv);"
    "CREATE TABLE doc_chunks ("
    " doc_id text COLLATE \"C\" NOT NULL REFERENCES documents (id) ON DELETE CASCADE,"
    " seq integer NOT NULL,"
    " data bytea NOT NULL,"
    " PRIMARY KEY (doc_id, seq));"
    /* Uploads are mostly compressed already (PDF, DOCX, PNG, JPEG). */
    "ALTER TABLE doc_chunks ALTER COLUMN data SET STORAGE EXTERNAL;"
    "CREATE TABLE feedback ("
    " id text COLLATE \"C\" PRIMARY KEY,"
    " user_id text COLLATE \"C\" NOT NULL DEFAULT '',"
    " email text NOT NULL DEFAULT '',"
    " type text NOT NULL,"
    " description text NOT NULL,"
    " browser_info text NOT NULL DEFAULT '',"
    " status text NOT NULL,"
    " created_at text COLLATE \"C\" NOT NULL);"
    "CREATE INDEX feedback_created ON feedback (created_at);"
    "CREATE INDEX feedback_user ON feedback (user_id);"
    "CREATE TABLE activity ("
    " id bigserial PRIMARY KEY,"
    " uid text COLLATE \"C\" NOT NULL,"
    " kind text COLLATE \"C\" NOT NULL,"
    " points bigint NOT NULL DEFAULT 0,"
    " score double precision NOT NULL DEFAULT 0,"
    " max_score double precision NOT NULL DEFAULT 0,"
    " day text COLLATE \"C\" NOT NULL,"
    " created_at text COLLATE \"C\" NOT NULL);"
    "CREATE INDEX activity_uid_day ON activity (uid, day);"
    "CREATE TABLE records ("
    " uid text COLLATE \"C\" NOT NULL,"
    " kind text COLLATE \"C\" NOT NULL,"
    " key text COLLATE \"C\" NOT NULL,"
    " json text NOT NULL CHECK ((json::json) IS NOT NULL),"
    " n_items bigint NOT NULL DEFAULT 0,"
    " created_at text COLLATE \"C\" NOT NULL,"
    " updated_at text COLLATE \"C\" NOT NULL,"
    " PRIMARY KEY (uid, kind, key));"
    "CREATE INDEX records_updated ON records (uid, kind, updated_at);"
    "CREATE TABLE record_items ("
    " uid text COLLATE \"C\" NOT NULL,"
    " kind text COLLATE \"C\" NOT NULL,"
    " key text COLLATE \"C\" NOT NULL,"
    " seq bigint NOT NULL,"
    " json text NOT NULL CHECK ((json::json) IS NOT NULL),"
    " created_at text COLLATE \"C\" NOT NULL,"
    " PRIMARY KEY (uid, kind, key, seq),"
    " FOREIGN KEY (uid, kind, key) REFERENCES records (uid, kind, key) ON DELETE CASCADE);";

/* Migration 2: store_sqlite.c's migration 2, the claims of the extraction
 * queue (store.h). */
static const char pg_migration_2[] =
    "ALTER TABLE documents"
    " ADD COLUMN claimed_by text COLLATE \"C\" NOT NULL DEFAULT '',"
    " ADD COLUMN lease_until text COLLATE \"C\" NOT NULL DEFAULT '',"
    " ADD COLUMN interrupted bigint NOT NULL DEFAULT 0;"
    "CREATE INDEX documents_pending ON documents (lease_until)"
    " WHERE status IN ('uploaded', 'processing');";

/* Migration 3: document assets (read-aloud audio and timepoints), deleted
 * with their document. EXTERNAL storage: uncompressed out of line, so a
 * byte range is read without the whole value. */
static const char pg_migration_3[] =
    "CREATE TABLE doc_assets ("
    " doc_id text COLLATE \"C\" NOT NULL REFERENCES documents (id) ON DELETE CASCADE,"
    " name text COLLATE \"C\" NOT NULL,"
    " data bytea NOT NULL,"
    " PRIMARY KEY (doc_id, name));"
    "ALTER TABLE doc_assets ALTER COLUMN data SET STORAGE EXTERNAL;";

typedef struct pg_migration {
    int version;
    const char *sql; /* constant DDL, may hold several statements */
} pg_migration;

/* Every migration, oldest first. Version numbers follow store_sqlite.c's:
 * the same version is the same schema on both backends. */
static const pg_migration pg_migrations[] = {
    {1, pg_migration_1},
    {2, pg_migration_2},
    {3, pg_migration_3},
};

#define PG_N_MIGRATIONS (sizeof(pg_migrations) / sizeof(pg_migrations[0]))

/* ------------------------------------------------------------------------ */
/* Statements                                                               */

typedef struct pg_stmt {
    int n_params;
    const char *sql;
} pg_stmt;

/* The table of store_pg_sql.h's statements, by number. */
#define PG_STMT_ROW(name, n_params, sql) [PGS_##name] = {n_params, sql},
static const pg_stmt pg_sql[PGS_N_STMTS] = {PG_STATEMENTS(PG_STMT_ROW)};
#undef PG_STMT_ROW

/* ------------------------------------------------------------------------ */
/* Messages                                                                 */

void storage_pg_errf(char *err, size_t errlen, const char *msg, const char *detail)
{
    size_t i, o;

    if (err == NULL || errlen == 0)
        return;
    snprintf(err, errlen, "%s%s%s", msg, detail != NULL ? ": " : "", detail != NULL ? detail : "");
    /* libpq's messages run over several lines: one line for a log. */
    for (i = 0, o = 0; err[i] != '\0'; i++) {
        char ch = err[i] == '\n' || err[i] == '\t' || err[i] == '\r' ? ' ' : err[i];

        if (ch == ' ' && (o == 0 || err[o - 1] == ' '))
            continue;
        err[o++] = ch;
    }
    while (o > 0 && err[o - 1] == ' ')
        o--;
    err[o] = '\0';
}

int storage_pg_oom(char *err, size_t errlen)
{
    storage_pg_errf(err, errlen, "postgres: out of memory", NULL);
    return LX_ENOMEM;
}

int storage_pg_absent(char *err, size_t errlen, const char *what)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "no such %s", what);
    return LX_ENOENT;
}

/* ------------------------------------------------------------------------ */
/* Connections                                                              */

/* Notices (e.g. "text-search query contains only stop words") are not
 * errors; the library's default would print them on stderr. Between
 * statements the server speaks only to end the session (a restart, an
 * administrator's pg_terminate_backend): libpq hands that FATAL message to
 * this receiver, and pg_revive then makes the connection again instead of
 * sending a statement into a socket about to close. */
static void pg_on_notice(void *arg, const PGresult *r)
{
    storage_pg_conn *p = arg;
    const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);

    if (sev != NULL && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0))
        p->is_ending = 1;
}

/* The session's settings, after every (re)connection:
 * - plan_cache_mode: every statement here is prepared once and run with
 *   parameters that pick rows by key; a generic plan serves them all.
 *   With the default, PostgreSQL planned the passage search anew on
 *   every call (its generic cost looked higher): 0.4 ms of planning per
 *   chat turn, more than the search itself.
 * - client_min_messages: notices ("text-search query contains only stop
 *   words") are dropped by pg_on_notice anyway; the server need not
 *   make and send them.
 * LX_OK or LX_EIO with the reason in err. */
static int pg_check(storage_pg_conn *p, const PGresult *r, char *err, size_t errlen);

static int pg_session(storage_pg_conn *p, char *err, size_t errlen)
{
    PGresult *r;
    int rc;

    p->n_trips++;
    r = PQexec(p->pg, "SET plan_cache_mode = force_generic_plan;"
                      " SET client_min_messages = warning");
    rc = pg_check(p, r, err, errlen);
    PQclear(r);
    return rc;
}

static int pg_connect(const storage_opts *opts, storage_conn **out, char *err, size_t errlen)
{
    /* Later keywords override earlier ones: the URL may set its own
     * connect_timeout, never the client encoding. */
    const char *keys[] = {"connect_timeout", "dbname", "client_encoding",
                          "fallback_application_name", NULL};
    const char *vals[] = {"10", NULL, "UTF8", "lexiaid", NULL};
    storage_pg_conn *p;

    *out = NULL;
    if (opts == NULL || opts->pg_url == NULL || opts->pg_url[0] == '\0') {
        storage_pg_errf(err, errlen, "postgres: no connection string", NULL);
        return LX_EINVAL;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return storage_pg_oom(err, errlen);
    p->base.be = &storage_pg_backend;
    vals[1] = opts->pg_url;
    p->pg = PQconnectdbParams(keys, vals, 1);
    if (p->pg == NULL) {
        free(p);
        return storage_pg_oom(err, errlen);
    }
    if (PQstatus(p->pg) != CONNECTION_OK) {
        storage_pg_errf(err, errlen, "postgres: cannot connect", PQerrorMessage(p->pg));
        PQfinish(p->pg);
        free(p);
        return LX_EIO;
    }
    PQsetNoticeReceiver(p->pg, pg_on_notice, p);
    if (pg_session(p, err, errlen) != LX_OK) {
        PQfinish(p->pg);
        free(p);
        return LX_EIO;
    }
    *out = &p->base;
    return LX_OK;
}

static void pg_disconnect(storage_conn *c)
{
    storage_pg_conn *p = storage_pg_of(c);

    if (p == NULL)
        return;
    if (p->pg != NULL)
        PQfinish(p->pg);
    free(p);
}

/* Whether r's error field `field` is `want`. */
static int pg_field_is(const PGresult *r, int field, const char *want)
{
    const char *v = PQresultErrorField(r, field);

    return v != NULL && strcmp(v, want) == 0;
}

/* LX_OK for a result that succeeded; else the status code of the failure
 * with its message in err. */
static int pg_check(storage_pg_conn *p, const PGresult *r, char *err, size_t errlen)
{
    ExecStatusType st = r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    const char *state, *msg;

    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return LX_OK;
    if (r == NULL || PQstatus(p->pg) != CONNECTION_OK) {
        storage_pg_errf(err, errlen, "postgres", PQerrorMessage(p->pg));
        return LX_EIO;
    }
    state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    storage_pg_errf(err, errlen, "postgres", msg != NULL ? msg : PQresultErrorMessage(r));
    if (state == NULL)
        return LX_EIO;
    if (strcmp(state, "23505") == 0)
        return LX_EEXIST;
    if (strcmp(state, "23502") == 0 && pg_field_is(r, PG_DIAG_TABLE_NAME, "record_items") &&
        pg_field_is(r, PG_DIAG_COLUMN_NAME, "seq")) /* PGS_REC_APPEND: no record */
        return storage_pg_absent(err, errlen, "record");
    if (strcmp(state, "53100") == 0)
        return STORAGE_ENOSPC;
    if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0 ||
        strncmp(state, "54", 2) == 0)
        return LX_EINVAL;
    return LX_EIO;
}

/* The connection made again (its prepared statements forgotten). LX_OK or
 * LX_EIO with the reason in err. */
static int pg_reconnect(storage_pg_conn *p, char *err, size_t errlen)
{
    memset(p->is_prepared, 0, sizeof(p->is_prepared));
    p->is_ending = 0;
    PQreset(p->pg);
    if (PQstatus(p->pg) != CONNECTION_OK) {
        storage_pg_errf(err, errlen, "postgres: cannot reconnect", PQerrorMessage(p->pg));
        return LX_EIO;
    }
    return pg_session(p, err, errlen) == LX_OK ? LX_OK : LX_EIO;
}

/* Before the first statement outside a transaction: an idle connection
 * whose server went away meanwhile (a restart: a FATAL message, then the
 * socket closes) is made again, since nothing was sent on it yet. A
 * connection that breaks during a statement is LX_EIO instead (the
 * statement may have run). */
static int pg_revive(storage_pg_conn *p, char *err, size_t errlen)
{
    /* A pipeline left half-sent (storage_pg_pipeline could not send it
     * all): what the server got is unknown, so the connection starts
     * again. */
    if (PQpipelineStatus(p->pg) != PQ_PIPELINE_OFF)
        return pg_reconnect(p, err, errlen);
    if (PQtransactionStatus(p->pg) != PQTRANS_IDLE)
        return LX_OK;
    /* Reads without waiting; the first read may return the FATAL message
     * (PQisBusy parses it: pg_on_notice), the second then sees the close,
     * unless it has not come yet. */
    for (int i = 0; i < 2 && PQstatus(p->pg) == CONNECTION_OK; i++)
        if (PQconsumeInput(p->pg) == 0 || PQisBusy(p->pg))
            break;
    if (PQstatus(p->pg) == CONNECTION_OK && !p->is_ending)
        return LX_OK;
    return pg_reconnect(p, err, errlen);
}

/* ------------------------------------------------------------------------ */
/* Running statements                                                       */

int storage_pg_run_fmt(storage_pg_conn *p, int s, const char *const *vals, const int *lens,
                       const int *fmts, int rfmt, PGresult **out, char *err, size_t errlen)
{
    char name[16];
    PGresult *r;
    int rc;

    *out = NULL;
    rc = pg_revive(p, err, errlen);
    if (rc != LX_OK)
        return rc;
    snprintf(name, sizeof(name), "lx%d", s);
    if (!p->is_prepared[s]) {
        p->n_trips++;
        r = PQprepare(p->pg, name, pg_sql[s].sql, pg_sql[s].n_params, NULL);
        rc = pg_check(p, r, err, errlen);
        PQclear(r);
        if (rc != LX_OK)
            return rc;
        p->is_prepared[s] = 1;
    }
    p->n_trips++;
    r = PQexecPrepared(p->pg, name, pg_sql[s].n_params, vals, lens, fmts, rfmt);
    rc = pg_check(p, r, err, errlen);
    if (rc != LX_OK) {
        PQclear(r);
        return rc;
    }
    *out = r;
    return LX_OK;
}

/* Reads the pipeline's results up to its Sync: each sent command's result
 * (then NULL), the first failure kept in rc/err (later commands are
 * PGRES_PIPELINE_ABORTED and say nothing new); keep[i] gets the result of
 * statement i. Returns LX_OK, the first failure, or LX_EIO when the
 * connection broke. */
static int pg_pipeline_read(storage_pg_conn *p, const int *prep, size_t n_sent, PGresult **keep,
                            char *err, size_t errlen)
{
    char scratch[256];
    int rc = LX_OK;

    for (size_t i = 0; i < n_sent; i++) {
        PGresult *r = PQgetResult(p->pg), *extra;
        int one;

        if (r == NULL) { /* the connection broke: nothing more comes */
            if (rc == LX_OK) {
                storage_pg_errf(err, errlen, "postgres", PQerrorMessage(p->pg));
                rc = LX_EIO;
            }
            return rc;
        }
        if (PQresultStatus(r) == PGRES_PIPELINE_ABORTED) {
            one = LX_EIO;
            if (rc == LX_OK)
                storage_pg_errf(err, errlen, "postgres: the statements were not run", NULL);
        } else {
            one =
                pg_check(p, r, rc == LX_OK ? err : scratch, rc == LX_OK ? errlen : sizeof(scratch));
        }
        if (rc == LX_OK)
            rc = one;
        if (prep[i] >= 0 && one == LX_OK)
            p->is_prepared[prep[i]] = 1;
        if (prep[i] < 0 && one == LX_OK)
            keep[i] = r;
        else
            PQclear(r);
        while ((extra = PQgetResult(p->pg)) != NULL) /* the command's end */
            PQclear(extra);
    }
    return rc;
}

/* Reads up to the Sync's own result. A failure there is the implicit
 * commit's (reported as storage_pg_in_tx reports COMMIT's). */
static int pg_pipeline_sync(storage_pg_conn *p, int rc, char *err, size_t errlen)
{
    for (int i = 0; i < 8; i++) {
        PGresult *r = PQgetResult(p->pg);
        int one;

        if (r == NULL) {
            if (PQstatus(p->pg) != CONNECTION_OK)
                break;
            continue;
        }
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            return rc;
        }
        one = pg_check(p, r, err, rc == LX_OK ? errlen : 0);
        PQclear(r);
        if (rc == LX_OK)
            rc = one == LX_EEXIST || one == LX_EINVAL || one == STORAGE_ENOSPC ? one : LX_EIO;
    }
    if (rc == LX_OK) {
        storage_pg_errf(err, errlen, "postgres", PQerrorMessage(p->pg));
        rc = LX_EIO;
    }
    return rc;
}

int storage_pg_pipeline(storage_pg_conn *p, storage_pg_step *steps, size_t n, char *err,
                        size_t errlen)
{
    /* each statement may need its preparation sent first: 2 commands */
    int *prep;
    PGresult **keep;
    size_t n_sent = 0;
    char name[16];
    int rc;

    for (size_t i = 0; i < n; i++)
        steps[i].r = NULL;
    if (n == 0 || n > SIZE_MAX / (4 * sizeof(*keep))) {
        storage_pg_errf(err, errlen, "postgres: a pipeline of no statement", NULL);
        return LX_EINVAL;
    }
    rc = pg_revive(p, err, errlen);
    if (rc != LX_OK)
        return rc;
    prep = malloc(2 * n * sizeof(*prep));
    keep = calloc(2 * n, sizeof(*keep));
    if (prep == NULL || keep == NULL) {
        free(prep);
        free(keep);
        return storage_pg_oom(err, errlen);
    }
    if (PQenterPipelineMode(p->pg) != 1) {
        storage_pg_errf(err, errlen, "postgres", PQerrorMessage(p->pg));
        rc = LX_EIO;
        goto out;
    }
    p->n_trips++;
    for (size_t i = 0; i < n; i++) {
        int s = steps[i].s;
        int is_sent;

        snprintf(name, sizeof(name), "lx%d", s);
        if (!p->is_prepared[s]) {
            /* twice in one pipeline: prepared by the first */
            int is_queued = 0;

            for (size_t j = 0; j < i; j++)
                is_queued |= steps[j].s == s;
            if (!is_queued) {
                if (PQsendPrepare(p->pg, name, pg_sql[s].sql, pg_sql[s].n_params, NULL) != 1)
                    goto send_failed;
                prep[n_sent] = s;
                keep[n_sent++] = NULL;
            }
        }
        is_sent =
            PQsendQueryPrepared(p->pg, name, pg_sql[s].n_params, steps[i].vals, NULL, NULL, 0);
        if (is_sent != 1)
            goto send_failed;
        prep[n_sent] = -1;
        keep[n_sent++] = NULL;
    }
    if (PQpipelineSync(p->pg) != 1)
        goto send_failed;
    rc = pg_pipeline_read(p, prep, n_sent, keep, err, errlen);
    if (PQstatus(p->pg) == CONNECTION_OK)
        rc = pg_pipeline_sync(p, rc, err, errlen);
    if (PQstatus(p->pg) == CONNECTION_OK) {
        if (PQexitPipelineMode(p->pg) != 1 && rc == LX_OK) {
            storage_pg_errf(err, errlen, "postgres", PQerrorMessage(p->pg));
            rc = LX_EIO;
        }
    } else if (rc == LX_OK) {
        storage_pg_errf(err, errlen, "postgres", PQerrorMessage(p->pg));
        rc = LX_EIO;
    }
    for (size_t i = 0, k = 0; i < n_sent; i++) {
        if (prep[i] >= 0)
            continue;
        if (rc == LX_OK)
            steps[k].r = keep[i];
        else
            PQclear(keep[i]);
        k++;
    }
    goto out;
send_failed:
    /* What was sent is unknown: LX_EIO (the pool drops the connection; if
     * it is used again, pg_revive makes it anew). */
    storage_pg_errf(err, errlen, "postgres", PQerrorMessage(p->pg));
    rc = LX_EIO;
out:
    free(prep);
    free(keep);
    return rc;
}

/* A text[] literal of strings ({"a","b \"c\""}): every element quoted, with
 * " and \ escaped, so that no element's content is array syntax; a NULL
 * string is "". NULL when out of memory. */
char *storage_pg_text_array(const char *const *v, size_t n)
{
    size_t len = 3, i;
    char *out, *o;

    for (i = 0; i < n; i++) {
        const char *s;

        len += 3;
        for (s = v[i] != NULL ? v[i] : ""; *s != '\0'; s++)
            len += (*s == '"' || *s == '\\') ? 2 : 1;
    }
    out = malloc(len);
    if (out == NULL)
        return NULL;
    o = out;
    *o++ = '{';
    for (i = 0; i < n; i++) {
        const char *s;

        if (i > 0)
            *o++ = ',';
        *o++ = '"';
        for (s = v[i] != NULL ? v[i] : ""; *s != '\0'; s++) {
            if (*s == '"' || *s == '\\')
                *o++ = '\\';
            *o++ = *s;
        }
        *o++ = '"';
    }
    *o++ = '}';
    *o = '\0';
    return out;
}

int64_t storage_pg_trips(storage_conn *c)
{
    return storage_pg_of(c)->n_trips;
}

int storage_pg_run(storage_pg_conn *p, int s, const char *const *vals, PGresult **out, char *err,
                   size_t errlen)
{
    return storage_pg_run_fmt(p, s, vals, NULL, NULL, 0, out, err, errlen);
}

int storage_pg_run_found(storage_pg_conn *p, int s, const char *const *vals, const char *what,
                         PGresult **out, char *err, size_t errlen)
{
    int rc = storage_pg_run(p, s, vals, out, err, errlen);

    if (rc == LX_OK && PQntuples(*out) == 0) {
        PQclear(*out);
        *out = NULL;
        return storage_pg_absent(err, errlen, what);
    }
    return rc;
}

int storage_pg_int_of(storage_pg_conn *p, int s, const char *const *vals, const char *what,
                      int64_t *v, char *err, size_t errlen)
{
    PGresult *r;
    int rc = storage_pg_run_found(p, s, vals, what, &r, err, errlen);

    *v = rc == LX_OK ? storage_pg_int(r, 0, 0) : 0;
    PQclear(r);
    return rc;
}

int storage_pg_do(storage_pg_conn *p, int s, const char *const *vals, int64_t *n_rows, char *err,
                  size_t errlen)
{
    PGresult *r;
    int rc = storage_pg_run(p, s, vals, &r, err, errlen);

    if (rc != LX_OK)
        return rc;
    if (n_rows != NULL)
        *n_rows = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return LX_OK;
}

int storage_pg_do_one(storage_pg_conn *p, int s, const char *const *vals, const char *what,
                      char *err, size_t errlen)
{
    int64_t n = 0;
    int rc = storage_pg_do(p, s, vals, &n, err, errlen);

    if (rc == LX_OK && n == 0)
        return storage_pg_absent(err, errlen, what);
    return rc;
}

/* A constant statement without parameters (DDL, transaction control). */
static int pg_exec(storage_pg_conn *p, const char *sql, char *err, size_t errlen)
{
    PGresult *r;

    p->n_trips++;
    r = PQexec(p->pg, sql);
    int rc = pg_check(p, r, err, errlen);

    PQclear(r);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Transactions                                                             */

/* Ends storage_pg_in_tx's transaction: COMMIT when rc is LX_OK, else
 * ROLLBACK and rc as it is. */
static int pg_end_tx(storage_pg_conn *p, int rc, char *err, size_t errlen)
{
    if (rc != LX_OK) {
        /* Ends the failed transaction; the failure's message stays. */
        if (PQstatus(p->pg) == CONNECTION_OK && PQtransactionStatus(p->pg) != PQTRANS_IDLE) {
            p->n_trips++;
            PQclear(PQexec(p->pg, "ROLLBACK"));
        }
        return rc;
    }
    rc = pg_exec(p, "COMMIT", err, errlen);
    if (rc != LX_OK) {
        PQclear(PQexec(p->pg, "ROLLBACK"));
        /* deferred checks, or the commit record did not fit */
        return rc == LX_EEXIST || rc == LX_EINVAL || rc == STORAGE_ENOSPC ? rc : LX_EIO;
    }
    return LX_OK;
}

int storage_pg_in_tx(storage_pg_conn *p, storage_pg_tx_fn body, void *arg, char *err, size_t errlen)
{
    int rc;

    /* A transaction left open by a failure that could not roll back. */
    if (PQtransactionStatus(p->pg) == PQTRANS_INERROR ||
        PQtransactionStatus(p->pg) == PQTRANS_INTRANS)
        PQclear(PQexec(p->pg, "ROLLBACK"));
    rc = pg_revive(p, err, errlen);
    if (rc == LX_OK)
        rc = pg_exec(p, "BEGIN", err, errlen);
    if (rc != LX_OK)
        return rc;
    rc = body(p, arg, err, errlen);
    return pg_end_tx(p, rc, err, errlen);
}

/* ------------------------------------------------------------------------ */
/* Values and rows                                                          */

const char *storage_pg_i64(storage_pg_num *b, int64_t v)
{
    snprintf(b->s, sizeof(b->s), "%" PRId64, v);
    return b->s;
}

char *storage_pg_dup(const PGresult *r, int row, int col, int *is_oom)
{
    char *s = strdup(PQgetvalue(r, row, col));

    if (s == NULL)
        *is_oom = 1;
    return s;
}

int64_t storage_pg_int(const PGresult *r, int row, int col)
{
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

double storage_pg_float(const PGresult *r, int row, int col)
{
    return strtod(PQgetvalue(r, row, col), NULL);
}

int storage_pg_read_rows(const PGresult *r, int rows, size_t size, storage_pg_fill_fn fill,
                         storage_pg_drop_fn drop, void **out)
{
    unsigned char *v;
    int is_oom = 0;

    *out = NULL;
    if (rows <= 0)
        return LX_OK;
    v = calloc((size_t)rows, size);
    if (v == NULL)
        return LX_ENOMEM;
    for (int i = 0; i < rows; i++)
        fill(r, i, v + (size_t)i * size, &is_oom);
    if (is_oom) {
        drop(v, (size_t)rows);
        return LX_ENOMEM;
    }
    *out = v;
    return LX_OK;
}

int storage_pg_list(storage_pg_conn *p, int s, const char *const *vals, size_t size,
                    storage_pg_fill_fn fill, storage_pg_drop_fn drop, void **out, size_t *n,
                    char *err, size_t errlen)
{
    PGresult *r;
    int rc, rows;

    *out = NULL;
    *n = 0;
    rc = storage_pg_run(p, s, vals, &r, err, errlen);
    if (rc != LX_OK)
        return rc;
    rows = PQntuples(r);
    rc = storage_pg_read_rows(r, rows, size, fill, drop, out);
    PQclear(r);
    if (rc != LX_OK)
        return storage_pg_oom(err, errlen);
    *n = (size_t)rows;
    return LX_OK;
}

int storage_pg_row(const PGresult *r, const char *what, size_t size, storage_pg_fill_fn fill,
                   storage_pg_drop_fn drop, void *item, char *err, size_t errlen)
{
    void *v;

    memset(item, 0, size);
    if (PQntuples(r) == 0)
        return storage_pg_absent(err, errlen, what);
    if (storage_pg_read_rows(r, 1, size, fill, drop, &v) != LX_OK)
        return storage_pg_oom(err, errlen);
    memcpy(item, v, size);
    free(v); /* the strings now belong to *item */
    return LX_OK;
}

int storage_pg_get(storage_pg_conn *p, int s, const char *const *vals, const char *what,
                   size_t size, storage_pg_fill_fn fill, storage_pg_drop_fn drop, void *item,
                   char *err, size_t errlen)
{
    PGresult *r;
    int rc;

    memset(item, 0, size);
    rc = storage_pg_run(p, s, vals, &r, err, errlen);
    if (rc != LX_OK)
        return rc;
    rc = storage_pg_row(r, what, size, fill, drop, item, err, errlen);
    PQclear(r);
    return rc;
}

int storage_pg_strv(const PGresult *r, int col, char ***out, size_t *n)
{
    int rows = PQntuples(r), is_oom = 0;
    char **v;

    *out = NULL;
    *n = 0;
    if (rows == 0)
        return LX_OK;
    v = calloc((size_t)rows, sizeof(*v));
    if (v == NULL)
        return LX_ENOMEM;
    for (int i = 0; i < rows; i++)
        v[i] = storage_pg_dup(r, i, col, &is_oom);
    if (is_oom) {
        storage_strv_free(v, (size_t)rows);
        return LX_ENOMEM;
    }
    *out = v;
    *n = (size_t)rows;
    return LX_OK;
}

/* ------------------------------------------------------------------------ */
/* Schema                                                                   */

typedef struct pg_mig_step {
    int have;    /* out: the version found */
    int is_done; /* out: nothing was left to apply */
} pg_mig_step;

/* One step of the migration under the advisory lock, in its own
 * transaction: whoever comes second sees the first one's work. Applies the
 * next migration after the version found, if any. */
static int pg_migrate_step(storage_pg_conn *p, void *arg, char *err, size_t errlen)
{
    pg_mig_step *st = arg;
    storage_pg_num vb;
    const char *vals[1];
    int64_t have = 0;
    size_t i = 0;
    int rc;

    rc = pg_exec(p, "SELECT pg_advisory_xact_lock(" PG_MIGRATE_LOCK ")", err, errlen);
    if (rc == LX_OK)
        rc = pg_exec(p,
                     "CREATE TABLE IF NOT EXISTS schema_migrations ("
                     " version integer PRIMARY KEY, applied_at text NOT NULL)",
                     err, errlen);
    if (rc == LX_OK)
        rc = storage_pg_int_of(p, PGS_MIG_VERSION, NULL, "schema version", &have, err, errlen);
    if (rc != LX_OK)
        goto fail;
    st->have = (int)have;
    if (st->have > STORAGE_SCHEMA_VERSION) {
        snprintf(err, errlen,
                 "database schema version %d is newer than this lexiaid (%d); "
                 "upgrade lexiaid",
                 st->have, STORAGE_SCHEMA_VERSION);
        return LX_ESTATE;
    }
    while (i < PG_N_MIGRATIONS && pg_migrations[i].version <= st->have)
        i++;
    if (i == PG_N_MIGRATIONS) {
        st->is_done = 1;
        return LX_OK;
    }
    rc = pg_exec(p, pg_migrations[i].sql, err, errlen);
    if (rc == LX_OK) {
        vals[0] = storage_pg_i64(&vb, pg_migrations[i].version);
        rc = storage_pg_do(p, PGS_MIG_RECORD, vals, NULL, err, errlen);
    }
    if (rc == LX_OK)
        return LX_OK;
fail:
    return rc == LX_EEXIST || rc == LX_EINVAL ? LX_EIO : rc;
}

int storage_pg_migrate(storage_conn *c, int *version, char *err, size_t errlen)
{
    pg_mig_step st = {0, 0};

    while (!st.is_done) {
        int rc = storage_pg_in_tx(storage_pg_of(c), pg_migrate_step, &st, err, errlen);

        if (rc != LX_OK)
            return rc;
    }
    if (version != NULL)
        *version = st.have;
    return LX_OK;
}

int storage_pg_ping(storage_conn *c, char *err, size_t errlen)
{
    return storage_pg_do(storage_pg_of(c), PGS_PING, NULL, NULL, err, errlen);
}

/* ------------------------------------------------------------------------ */

const storage_backend storage_pg_backend = {
    .name = "postgres",
    .stores_bytes = 1,
    .connect = pg_connect,
    .disconnect = pg_disconnect,
#define STORAGE_OP(name, front, params, args) STORAGE_BACKEND_MEMBER(storage_pg_, name)
#include "store_ops.h"
#undef STORAGE_OP
};
