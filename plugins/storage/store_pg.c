/*
 * The PostgreSQL backend of the store (store.h, store_backend.h), through
 * libpq.
 *
 * Statements: every statement with a value from outside is a constant in
 * pg_sql[] below, prepared once per connection on first use (PQprepare)
 * and run with PQexecPrepared: text parameters, binary for bytea. Only the
 * migrations' DDL and BEGIN/COMMIT/ROLLBACK run as plain constant strings.
 *
 * Schema: the SQLite backend's tables and columns, plus doc_chunks, the
 * file bytes in STORAGE_CHUNK_SIZE pieces (stores_bytes = 1). Timestamps
 * are TEXT, kept exactly as the caller gives them. Identifier and time
 * columns use the "C" collation so that ordering is bytewise, as SQLite's.
 *
 * Errors: a lost connection and any failure of the server are LX_EIO (the
 * pool then drops the connection); unique_violation is LX_EEXIST; data
 * and constraint errors (classes 22, 23) are LX_EINVAL. Messages are the
 * server's primary message or libpq's, never the connection string.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store_backend.h"

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

typedef struct pg_migration {
    int version;
    const char *sql; /* constant DDL, may hold several statements */
} pg_migration;

/* Every migration, oldest first. Version numbers follow store_sqlite.c's:
 * the same version is the same schema on both backends. */
static const pg_migration pg_migrations[] = {
    {1, pg_migration_1},
};

#define PG_N_MIGRATIONS (sizeof(pg_migrations) / sizeof(pg_migrations[0]))

/* ------------------------------------------------------------------------ */
/* Statements                                                               */

#define PG_DOC_COLS                                                                                \
    "d.id, d.user_id, d.name, d.original_filename, d.file_type, d.mime_type, d.status, "           \
    "d.error, d.sha256, d.created_at, d.updated_at, d.size, d.content_length, d.page_count"
#define PG_USER_COLS "uid, email, display_name, profile_json, created_at, updated_at, last_login"
#define PG_FB_COLS "id, user_id, email, type, description, browser_info, status, created_at"

enum {
    S_PING,
    S_MIG_VERSION,
    S_MIG_RECORD,
    S_USER_INSERT,
    S_USER_LOGIN,
    S_USER_GET,
    S_USER_ENSURE,
    S_USER_LOCK,
    S_USER_WRITE,
    S_USER_DEL_DOCS,
    S_USER_DEL_USER,
    S_USER_DEL_FEEDBACK,
    S_USER_DEL_ACTIVITY,
    S_USER_DEL_RECORDS,
    S_USER_PAGE,
    S_DOC_INSERT,
    S_CHUNK_INSERT,
    S_DOC_LIST,
    S_DOC_GET,
    S_DOC_GET_TEXT,
    S_DOC_DELETE,
    S_DOC_STATUS,
    S_DOC_PROCESSED,
    S_TEXT_PUT,
    S_PASSAGES_DEL,
    S_PASSAGES_PUT,
    S_DOC_READ,
    S_DOC_STALE,
    S_DOC_ALL,
    S_DOC_OWNED,
    S_SEARCH,
    S_PASSAGES,
    S_FB_INSERT,
    S_FB_COUNT,
    S_FB_LIST,
    S_STATS,
    S_ACT_INSERT,
    S_PROG_DOCS,
    S_PROG_KINDS,
    S_PROG_DAYS,
    S_REC_PUT,
    S_REC_GET,
    S_REC_APPEND,
    S_REC_ITEMS,
    S_REC_LIST,
    S_REC_DELETE,
    PG_N_STMTS
};

typedef struct pg_stmt {
    int n_params;
    const char *sql;
} pg_stmt;

static const pg_stmt pg_sql[PG_N_STMTS] = {
    [S_PING] = {0, "SELECT 1"},
    [S_MIG_VERSION] = {0, "SELECT coalesce(max(version), 0) FROM schema_migrations"},
    [S_MIG_RECORD] = {1,
                      "INSERT INTO schema_migrations (version, applied_at) VALUES ($1::integer,"
                      " to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))"},

    [S_USER_INSERT] = {5, "INSERT INTO users (" PG_USER_COLS ") VALUES ($1::text,"
                          " coalesce($2::text, ''), coalesce($3::text, ''),"
                          " coalesce($4::text, '{}'), $5::text, $5::text, $5::text)"
                          " ON CONFLICT (uid) DO NOTHING"},
    [S_USER_LOGIN] = {3, "UPDATE users SET email = coalesce($2::text, email), last_login = $3::text"
                         " WHERE uid = $1::text"},
    [S_USER_GET] = {1, "SELECT " PG_USER_COLS " FROM users WHERE uid = $1::text"},
    [S_USER_ENSURE] = {3, "INSERT INTO users (" PG_USER_COLS ") VALUES ($1::text,"
                          " coalesce($2::text, ''), '', '{}', $3::text, $3::text, '')"
                          " ON CONFLICT (uid) DO NOTHING"},
    [S_USER_LOCK] = {1, "SELECT profile_json, display_name FROM users WHERE uid = $1::text"
                        " FOR UPDATE"},
    /* A NULL profile or display name from the merge: unchanged. */
    [S_USER_WRITE] = {5, "UPDATE users SET profile_json = coalesce($2::text, profile_json),"
                         " display_name = coalesce($3::text, display_name),"
                         " updated_at = $4::text, email = coalesce($5::text, email)"
                         " WHERE uid = $1::text RETURNING " PG_USER_COLS},
    [S_USER_DEL_DOCS] = {1, "DELETE FROM documents WHERE user_id = $1::text RETURNING id"},
    [S_USER_DEL_USER] = {1, "DELETE FROM users WHERE uid = $1::text"},
    [S_USER_DEL_FEEDBACK] = {1, "DELETE FROM feedback WHERE user_id = $1::text"},
    [S_USER_DEL_ACTIVITY] = {1, "DELETE FROM activity WHERE uid = $1::text"},
    /* record_items go with their records (ON DELETE CASCADE) */
    [S_USER_DEL_RECORDS] = {1, "DELETE FROM records WHERE uid = $1::text"},
    [S_USER_PAGE] = {2, "SELECT " PG_USER_COLS " FROM users WHERE uid > $1::text"
                        " ORDER BY uid LIMIT $2::bigint"},

    [S_DOC_INSERT] = {14, "INSERT INTO documents (id, user_id, name, original_filename,"
                          " file_type, mime_type, status, error, sha256, created_at, updated_at,"
                          " size, content_length, page_count) VALUES ($1::text, $2::text,"
                          " $3::text, $4::text, $5::text, $6::text, coalesce($7::text, 'uploaded'),"
                          " coalesce($8::text, ''), coalesce($9::text, ''),"
                          " $10::text, $11::text, $12::bigint, $13::bigint, $14::bigint)"},
    [S_CHUNK_INSERT] = {3, "INSERT INTO doc_chunks (doc_id, seq, data)"
                           " VALUES ($1::text, $2::integer, $3::bytea)"},
    [S_DOC_LIST] = {1, "SELECT " PG_DOC_COLS " FROM documents d WHERE d.user_id = $1::text"
                       " ORDER BY d.created_at DESC, d.id DESC"},
    [S_DOC_GET] = {2, "SELECT " PG_DOC_COLS " FROM documents d"
                      " WHERE d.id = $1::text AND d.user_id = $2::text"},
    [S_DOC_GET_TEXT] = {2, "SELECT " PG_DOC_COLS ", coalesce(t.text, '') FROM documents d"
                           " LEFT JOIN doc_texts t ON t.doc_id = d.id"
                           " WHERE d.id = $1::text AND d.user_id = $2::text"},
    [S_DOC_DELETE] = {2, "DELETE FROM documents WHERE id = $1::text AND user_id = $2::text"},
    [S_DOC_STATUS] = {4, "UPDATE documents SET status = $2::text,"
                         " error = coalesce($3::text, ''), updated_at = $4::text"
                         " WHERE id = $1::text"},
    [S_DOC_PROCESSED] = {4, "UPDATE documents SET status = 'processed', error = '',"
                            " content_length = $2::bigint, page_count = $3::bigint,"
                            " updated_at = $4::text WHERE id = $1::text"},
    [S_TEXT_PUT] = {2, "INSERT INTO doc_texts (doc_id, text) VALUES ($1::text, $2::text)"
                       " ON CONFLICT (doc_id) DO UPDATE SET text = EXCLUDED.text"},
    [S_PASSAGES_DEL] = {1, "DELETE FROM passages WHERE doc_id = $1::text"},
    [S_PASSAGES_PUT] = {2, "INSERT INTO passages (doc_id, seq, text)"
                           " SELECT $1::text, p.ord - 1, p.text"
                           " FROM unnest($2::text[]) WITH ORDINALITY AS p(text, ord)"},
    /* One snapshot: the owner check, the size and the chunks in range
     * ($3..$4); a document with no chunk in range gives one row of NULLs. */
    [S_DOC_READ] = {4, "SELECT d.size, c.seq, c.data FROM documents d"
                       " LEFT JOIN doc_chunks c ON c.doc_id = d.id"
                       " AND c.seq BETWEEN $3::integer AND $4::integer"
                       " WHERE d.id = $1::text AND d.user_id = $2::text ORDER BY c.seq"},
    [S_DOC_STALE] = {1, "SELECT id FROM documents WHERE status IN ('uploaded', 'processing')"
                        " AND updated_at < $1::text ORDER BY updated_at, id"},
    [S_DOC_ALL] = {0, "SELECT id, user_id FROM documents ORDER BY id"},
    [S_DOC_OWNED] = {2, "SELECT 1 FROM documents WHERE id = $1::text AND user_id = $2::text"},
    /* The words ($3, a text[]) each through plainto_tsquery, OR'd together
     * through tsquery's own text form; words that are all stop words drop
     * out, and no word left matches nothing. */
    [S_SEARCH] = {4, "WITH w AS (SELECT plainto_tsquery('english'::regconfig, x) AS q"
                     " FROM unnest($3::text[]) AS x),"
                     " q AS (SELECT string_agg('(' || w.q::text || ')', ' | ')::tsquery AS q"
                     " FROM w WHERE numnode(w.q) > 0)"
                     " SELECT p.seq, ts_rank_cd(p.tsv, q.q) AS score, p.text"
                     " FROM q, passages p JOIN documents d ON d.id = p.doc_id"
                     " WHERE d.id = $1::text AND d.user_id = $2::text AND q.q IS NOT NULL"
                     " AND p.tsv @@ q.q ORDER BY score DESC, p.seq LIMIT $4::bigint"},
    [S_PASSAGES] = {4, "SELECT p.seq, p.text FROM passages p JOIN documents d ON d.id = p.doc_id"
                       " WHERE d.id = $1::text AND d.user_id = $2::text"
                       " AND p.seq >= $3::bigint AND p.seq < $3::bigint + $4::bigint"
                       " ORDER BY p.seq"},

    [S_FB_INSERT] = {8, "INSERT INTO feedback (" PG_FB_COLS ") VALUES ($1::text,"
                        " coalesce($2::text, ''), coalesce($3::text, ''), $4::text, $5::text,"
                        " coalesce($6::text, ''), coalesce($7::text, 'new'), $8::text)"},
    [S_FB_COUNT] = {2, "SELECT count(*) FROM feedback WHERE ($1::text IS NULL OR status = $1)"
                       " AND ($2::text IS NULL OR type = $2)"},
    [S_FB_LIST] = {4, "SELECT " PG_FB_COLS " FROM feedback"
                      " WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR type = $2)"
                      " ORDER BY created_at DESC, id DESC LIMIT $3::bigint OFFSET $4::bigint"},
    [S_STATS] = {0, "SELECT (SELECT count(*) FROM users),"
                    " count(DISTINCT user_id),"
                    " count(*), count(*) FILTER (WHERE status = 'processed'),"
                    " count(*) FILTER (WHERE status = 'processing'),"
                    " count(*) FILTER (WHERE status = 'failed'),"
                    " count(*) FILTER (WHERE status = 'uploaded'),"
                    " (SELECT count(*) FROM feedback),"
                    " (SELECT count(*) FROM feedback WHERE status = 'new'),"
                    " (SELECT count(*) FROM feedback WHERE status = 'reviewed'),"
                    " (SELECT count(*) FROM feedback WHERE status = 'resolved'),"
                    " (SELECT count(*) FROM feedback WHERE type = 'bug'),"
                    " (SELECT count(*) FROM feedback WHERE type = 'accessibility'),"
                    " (SELECT count(*) FROM feedback WHERE type = 'suggestion'),"
                    " (SELECT count(*) FROM feedback WHERE type = 'other')"
                    " FROM documents"},

    [S_ACT_INSERT] = {7, "INSERT INTO activity (uid, kind, points, score, max_score, day,"
                         " created_at) VALUES ($1::text, $2::text, $3::bigint,"
                         " $4::double precision, $5::double precision, $6::text, $7::text)"},
    [S_PROG_DOCS] = {1, "SELECT count(*) FROM documents WHERE user_id = $1::text"},
    [S_PROG_KINDS] = {1, "SELECT kind, count(*), sum(points), sum(score), sum(max_score),"
                         " coalesce(max(score / max_score) FILTER (WHERE max_score > 0), 0)"
                         " FROM activity WHERE uid = $1::text GROUP BY kind ORDER BY kind"},
    [S_PROG_DAYS] = {1, "SELECT DISTINCT day FROM activity WHERE uid = $1::text"
                        " ORDER BY day DESC LIMIT 400"},

    [S_REC_PUT] = {5, "INSERT INTO records (uid, kind, key, json, n_items, created_at,"
                      " updated_at) VALUES ($1::text, $2::text, $3::text, $4::text, 0, $5::text,"
                      " $5::text) ON CONFLICT (uid, kind, key)"
                      " DO UPDATE SET json = EXCLUDED.json, updated_at = EXCLUDED.updated_at"},
    [S_REC_GET] = {3, "SELECT key, json, n_items, created_at, updated_at FROM records"
                      " WHERE uid = $1::text AND kind = $2::text AND key = $3::text"},
    /* One statement: the record's row lock orders concurrent appends. */
    [S_REC_APPEND] = {5, "WITH r AS (UPDATE records SET n_items = n_items + 1,"
                         " updated_at = $5::text"
                         " WHERE uid = $1::text AND kind = $2::text AND key = $3::text"
                         " RETURNING uid, kind, key, n_items)"
                         " INSERT INTO record_items (uid, kind, key, seq, json, created_at)"
                         " SELECT r.uid, r.kind, r.key, r.n_items, $4::text, $5::text FROM r"
                         " RETURNING seq"},
    /* The record's row (none: absent), then its items; no item gives one
     * row of NULLs. */
    [S_REC_ITEMS] = {5, "SELECT i.seq, i.json, i.created_at FROM records r"
                        " LEFT JOIN LATERAL (SELECT it.seq, it.json, it.created_at"
                        " FROM record_items it WHERE it.uid = r.uid AND it.kind = r.kind"
                        " AND it.key = r.key AND it.seq > $4::bigint"
                        " ORDER BY it.seq DESC LIMIT $5::bigint) i ON true"
                        " WHERE r.uid = $1::text AND r.kind = $2::text AND r.key = $3::text"
                        " ORDER BY i.seq"},
    [S_REC_LIST] = {3, "SELECT key, json, n_items, created_at, updated_at FROM records"
                       " WHERE uid = $1::text AND kind = $2::text"
                       " ORDER BY updated_at DESC, key LIMIT $3::bigint"},
    [S_REC_DELETE] = {3, "DELETE FROM records WHERE uid = $1::text AND kind = $2::text"
                         " AND key = $3::text"},
};

/* ------------------------------------------------------------------------ */
/* Connections                                                              */

typedef struct pg_conn {
    storage_conn base; /* first: store.c sees a storage_conn */
    PGconn *pg;
    unsigned char is_prepared[PG_N_STMTS];
} pg_conn;

#define PG_CONN(c) ((pg_conn *)(void *)(c))

/* "msg" or "msg: detail" into err. */
static void pg_errf(char *err, size_t errlen, const char *msg, const char *detail)
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

/* Notices (e.g. "text-search query contains only stop words") are not
 * errors; the library's default would print them on stderr. */
static void pg_ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static int pg_connect(const storage_opts *opts, storage_conn **out, char *err, size_t errlen)
{
    /* Later keywords override earlier ones: the URL may set its own
     * connect_timeout, never the client encoding. */
    const char *keys[] = {"connect_timeout", "dbname", "client_encoding",
                          "fallback_application_name", NULL};
    const char *vals[] = {"10", NULL, "UTF8", "lexiaid", NULL};
    pg_conn *p;

    *out = NULL;
    if (opts == NULL || opts->pg_url == NULL || opts->pg_url[0] == '\0') {
        pg_errf(err, errlen, "postgres: no connection string", NULL);
        return LX_EINVAL;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        pg_errf(err, errlen, "postgres: out of memory", NULL);
        return LX_ENOMEM;
    }
    p->base.be = &storage_pg_backend;
    vals[1] = opts->pg_url;
    p->pg = PQconnectdbParams(keys, vals, 1);
    if (p->pg == NULL) {
        free(p);
        pg_errf(err, errlen, "postgres: out of memory", NULL);
        return LX_ENOMEM;
    }
    if (PQstatus(p->pg) != CONNECTION_OK) {
        pg_errf(err, errlen, "postgres: cannot connect", PQerrorMessage(p->pg));
        PQfinish(p->pg);
        free(p);
        return LX_EIO;
    }
    PQsetNoticeProcessor(p->pg, pg_ignore_notice, NULL);
    *out = &p->base;
    return LX_OK;
}

static void pg_disconnect(storage_conn *c)
{
    pg_conn *p = PG_CONN(c);

    if (p == NULL)
        return;
    if (p->pg != NULL)
        PQfinish(p->pg);
    free(p);
}

/* LX_OK for a result that succeeded; else the status code of the failure
 * with its message in err. */
static int pg_check(pg_conn *p, const PGresult *r, char *err, size_t errlen)
{
    ExecStatusType st = r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    const char *state, *msg;

    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return LX_OK;
    if (r == NULL || PQstatus(p->pg) != CONNECTION_OK) {
        pg_errf(err, errlen, "postgres", PQerrorMessage(p->pg));
        return LX_EIO;
    }
    state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    pg_errf(err, errlen, "postgres", msg != NULL ? msg : PQresultErrorMessage(r));
    if (state == NULL)
        return LX_EIO;
    if (strcmp(state, "23505") == 0)
        return LX_EEXIST;
    if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0)
        return LX_EINVAL;
    return LX_EIO;
}

/* Before the first statement outside a transaction: an idle connection
 * whose server went away meanwhile (a restart: a FATAL message, then the
 * socket closes) is made again, since nothing was sent on it yet. A
 * connection that breaks during a statement is LX_EIO instead (the
 * statement may have run). */
static int pg_revive(pg_conn *p, char *err, size_t errlen)
{
    if (PQtransactionStatus(p->pg) != PQTRANS_IDLE)
        return LX_OK;
    /* Reads without waiting; the first read may return the FATAL message
     * (PQisBusy parses it), the second then sees the close. */
    for (int i = 0; i < 2 && PQstatus(p->pg) == CONNECTION_OK; i++)
        if (PQconsumeInput(p->pg) == 0 || PQisBusy(p->pg))
            break;
    if (PQstatus(p->pg) == CONNECTION_OK)
        return LX_OK;
    memset(p->is_prepared, 0, sizeof(p->is_prepared));
    PQreset(p->pg);
    if (PQstatus(p->pg) != CONNECTION_OK) {
        pg_errf(err, errlen, "postgres: cannot reconnect", PQerrorMessage(p->pg));
        return LX_EIO;
    }
    return LX_OK;
}

/* Runs statement s with n text (or binary, per fmts) parameters; *out
 * gets the result on LX_OK (PQclear it). rfmt 1 asks binary results. */
static int pg_run_fmt(pg_conn *p, int s, const char *const *vals, const int *lens, const int *fmts,
                      int rfmt, PGresult **out, char *err, size_t errlen)
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
        r = PQprepare(p->pg, name, pg_sql[s].sql, pg_sql[s].n_params, NULL);
        rc = pg_check(p, r, err, errlen);
        PQclear(r);
        if (rc != LX_OK)
            return rc;
        p->is_prepared[s] = 1;
    }
    r = PQexecPrepared(p->pg, name, pg_sql[s].n_params, vals, lens, fmts, rfmt);
    rc = pg_check(p, r, err, errlen);
    if (rc != LX_OK) {
        PQclear(r);
        return rc;
    }
    *out = r;
    return LX_OK;
}

static int pg_run(pg_conn *p, int s, const char *const *vals, PGresult **out, char *err,
                  size_t errlen)
{
    return pg_run_fmt(p, s, vals, NULL, NULL, 0, out, err, errlen);
}

/* Runs s for its effect only; *n_rows (may be NULL) gets the rows it
 * touched. */
static int pg_do(pg_conn *p, int s, const char *const *vals, int64_t *n_rows, char *err,
                 size_t errlen)
{
    PGresult *r;
    int rc = pg_run(p, s, vals, &r, err, errlen);

    if (rc != LX_OK)
        return rc;
    if (n_rows != NULL)
        *n_rows = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return LX_OK;
}

/* A constant statement without parameters (DDL, transaction control). */
static int pg_exec(pg_conn *p, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(p->pg, sql);
    int rc = pg_check(p, r, err, errlen);

    PQclear(r);
    return rc;
}

static int pg_begin(pg_conn *p, char *err, size_t errlen)
{
    int rc;

    /* A transaction left open by a failure that could not roll back. */
    if (PQtransactionStatus(p->pg) == PQTRANS_INERROR ||
        PQtransactionStatus(p->pg) == PQTRANS_INTRANS)
        PQclear(PQexec(p->pg, "ROLLBACK"));
    rc = pg_revive(p, err, errlen);
    if (rc != LX_OK)
        return rc;
    return pg_exec(p, "BEGIN", err, errlen);
}

static int pg_commit(pg_conn *p, char *err, size_t errlen)
{
    int rc = pg_exec(p, "COMMIT", err, errlen);

    if (rc != LX_OK) {
        PQclear(PQexec(p->pg, "ROLLBACK"));
        return rc == LX_EEXIST || rc == LX_EINVAL ? rc : LX_EIO; /* deferred checks */
    }
    return LX_OK;
}

/* Ends a failed transaction; the failure's message stays in err. */
static void pg_rollback(pg_conn *p)
{
    if (PQstatus(p->pg) == CONNECTION_OK && PQtransactionStatus(p->pg) != PQTRANS_IDLE)
        PQclear(PQexec(p->pg, "ROLLBACK"));
}

/* ------------------------------------------------------------------------ */
/* Values                                                                   */

typedef struct pg_num {
    char s[32];
} pg_num;

static const char *pg_i64(pg_num *b, int64_t v)
{
    snprintf(b->s, sizeof(b->s), "%" PRId64, v);
    return b->s;
}

static const char *pg_dbl(pg_num *b, double v)
{
    snprintf(b->s, sizeof(b->s), "%.17g", v);
    return b->s;
}

/* LIMIT n, or no limit (NULL) when n < 0. */
static const char *pg_limit(pg_num *b, int64_t n)
{
    return n < 0 ? NULL : pg_i64(b, n);
}

/* A malloc'd copy of a field ("" for NULL); NULL only when out of memory,
 * which *is_oom records. */
static char *pg_dup(const PGresult *r, int row, int col, int *is_oom)
{
    char *s = strdup(PQgetvalue(r, row, col));

    if (s == NULL)
        *is_oom = 1;
    return s;
}

static int64_t pg_int(const PGresult *r, int row, int col)
{
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static double pg_float(const PGresult *r, int row, int col)
{
    return strtod(PQgetvalue(r, row, col), NULL);
}

static int pg_oom(char *err, size_t errlen)
{
    pg_errf(err, errlen, "postgres: out of memory", NULL);
    return LX_ENOMEM;
}

static int pg_absent(char *err, size_t errlen, const char *what)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "no such %s", what);
    return LX_ENOENT;
}

/* A text[] literal of strings ({"a","b \"c\""}): every element quoted, with
 * " and \ escaped, so that no element's content is array syntax; a NULL
 * string is "". NULL when out of memory. */
static char *pg_text_array(const char *const *v, size_t n)
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

static void pg_fill_user(const PGresult *r, int row, storage_user *u, int *is_oom)
{
    u->uid = pg_dup(r, row, 0, is_oom);
    u->email = pg_dup(r, row, 1, is_oom);
    u->display_name = pg_dup(r, row, 2, is_oom);
    u->profile_json = pg_dup(r, row, 3, is_oom);
    u->created_at = pg_dup(r, row, 4, is_oom);
    u->updated_at = pg_dup(r, row, 5, is_oom);
    u->last_login = pg_dup(r, row, 6, is_oom);
}

/* The columns of PG_DOC_COLS, then the text when with_text. */
static void pg_fill_doc(const PGresult *r, int row, int with_text, storage_doc *d, int *is_oom)
{
    d->id = pg_dup(r, row, 0, is_oom);
    d->user_id = pg_dup(r, row, 1, is_oom);
    d->name = pg_dup(r, row, 2, is_oom);
    d->original_filename = pg_dup(r, row, 3, is_oom);
    d->file_type = pg_dup(r, row, 4, is_oom);
    d->mime_type = pg_dup(r, row, 5, is_oom);
    d->status = pg_dup(r, row, 6, is_oom);
    d->error = pg_dup(r, row, 7, is_oom);
    d->sha256 = pg_dup(r, row, 8, is_oom);
    d->created_at = pg_dup(r, row, 9, is_oom);
    d->updated_at = pg_dup(r, row, 10, is_oom);
    d->size = pg_int(r, row, 11);
    d->content_length = pg_int(r, row, 12);
    d->page_count = pg_int(r, row, 13);
    d->text = with_text ? pg_dup(r, row, 14, is_oom) : NULL;
}

/* Column col of every row as a malloc'd string vector. */
static int pg_strv(const PGresult *r, int col, char ***out, size_t *n)
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
        v[i] = pg_dup(r, i, col, &is_oom);
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

static int pg_migrate(storage_conn *c, int *version, char *err, size_t errlen)
{
    pg_conn *p = PG_CONN(c);
    PGresult *r;
    int rc, have = 0;

    for (;;) {
        pg_num vb;
        const char *vals[1];
        size_t i = 0;

        /* Each step in its own transaction, under the lock: whoever comes
         * second sees the first one's work. */
        rc = pg_begin(p, err, errlen);
        if (rc == LX_OK)
            rc = pg_exec(p, "SELECT pg_advisory_xact_lock(" PG_MIGRATE_LOCK ")", err, errlen);
        if (rc == LX_OK)
            rc = pg_exec(p,
                         "CREATE TABLE IF NOT EXISTS schema_migrations ("
                         " version integer PRIMARY KEY, applied_at text NOT NULL)",
                         err, errlen);
        if (rc == LX_OK)
            rc = pg_run(p, S_MIG_VERSION, NULL, &r, err, errlen);
        if (rc != LX_OK)
            goto fail;
        have = (int)pg_int(r, 0, 0);
        PQclear(r);
        if (have > STORAGE_SCHEMA_VERSION) {
            pg_rollback(p);
            snprintf(err, errlen,
                     "database schema version %d is newer than this lexiaid (%d); "
                     "upgrade lexiaid",
                     have, STORAGE_SCHEMA_VERSION);
            return LX_ESTATE;
        }
        while (i < PG_N_MIGRATIONS && pg_migrations[i].version <= have)
            i++;
        if (i == PG_N_MIGRATIONS) {
            rc = pg_commit(p, err, errlen);
            if (rc != LX_OK)
                return rc;
            break;
        }
        rc = pg_exec(p, pg_migrations[i].sql, err, errlen);
        if (rc == LX_OK) {
            vals[0] = pg_i64(&vb, pg_migrations[i].version);
            rc = pg_do(p, S_MIG_RECORD, vals, NULL, err, errlen);
        }
        if (rc != LX_OK)
            goto fail;
        rc = pg_commit(p, err, errlen);
        if (rc != LX_OK)
            return rc;
    }
    if (version != NULL)
        *version = have;
    return LX_OK;

fail:
    pg_rollback(p);
    return rc == LX_EEXIST || rc == LX_EINVAL ? LX_EIO : rc;
}

static int pg_ping(storage_conn *c, char *err, size_t errlen)
{
    return pg_do(PG_CONN(c), S_PING, NULL, NULL, err, errlen);
}

/* ------------------------------------------------------------------------ */
/* Users                                                                    */

static int pg_user_init(storage_conn *c, const char *uid, const char *email,
                        const char *display_name, const char *profile_json, const char *now,
                        int *is_created, char *err, size_t errlen)
{
    pg_conn *p = PG_CONN(c);
    const char *vals[5] = {uid, email, display_name, profile_json, now};
    const char *login[3] = {uid, email, now};
    int64_t n = 0;
    int rc;

    if (is_created != NULL)
        *is_created = 0;
    /* Insert, else update: a delete in between (rare) gets one more try. */
    for (int tries = 0; tries < 2; tries++) {
        rc = pg_do(p, S_USER_INSERT, vals, &n, err, errlen);
        if (rc != LX_OK)
            return rc;
        if (n == 1) {
            if (is_created != NULL)
                *is_created = 1;
            return LX_OK;
        }
        rc = pg_do(p, S_USER_LOGIN, login, &n, err, errlen);
        if (rc != LX_OK || n == 1)
            return rc;
    }
    pg_errf(err, errlen, "postgres: the user row changed under us", NULL);
    return LX_EIO;
}

static int pg_user_get(storage_conn *c, const char *uid, storage_user *u, char *err, size_t errlen)
{
    const char *vals[1] = {uid};
    PGresult *r;
    int rc, is_oom = 0;

    memset(u, 0, sizeof(*u));
    rc = pg_run(PG_CONN(c), S_USER_GET, vals, &r, err, errlen);
    if (rc != LX_OK)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return pg_absent(err, errlen, "user");
    }
    pg_fill_user(r, 0, u, &is_oom);
    PQclear(r);
    if (is_oom) {
        storage_user_clear(u);
        return pg_oom(err, errlen);
    }
    return LX_OK;
}

static int pg_user_update(storage_conn *c, const char *uid, const char *email, const char *now,
                          storage_merge_fn merge, void *arg, storage_user *u, char *err,
                          size_t errlen)
{
    pg_conn *p = PG_CONN(c);
    const char *ensure[3] = {uid, email, now};
    const char *lock[1] = {uid};
    const char *write[5];
    char *new_profile = NULL, *new_name = NULL;
    PGresult *r = NULL;
    int rc, is_oom = 0;

    if (u != NULL)
        memset(u, 0, sizeof(*u));
    rc = pg_begin(p, err, errlen);
    if (rc != LX_OK)
        return rc;
    rc = pg_do(p, S_USER_ENSURE, ensure, NULL, err, errlen);
    if (rc == LX_OK)
        rc = pg_run(p, S_USER_LOCK, lock, &r, err, errlen);
    if (rc != LX_OK)
        goto fail;
    if (PQntuples(r) != 1) {
        rc = LX_EIO;
        pg_errf(err, errlen, "postgres: the user row vanished", NULL);
        goto fail;
    }
    rc = merge(arg, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), &new_profile, &new_name, err, errlen);
    PQclear(r);
    r = NULL;
    if (rc != LX_OK)
        goto fail;
    write[0] = uid;
    write[1] = new_profile;
    write[2] = new_name;
    write[3] = now;
    write[4] = email;
    rc = pg_run(p, S_USER_WRITE, write, &r, err, errlen);
    if (rc != LX_OK)
        goto fail;
    rc = pg_commit(p, err, errlen);
    if (rc != LX_OK)
        goto done;
    if (u != NULL && PQntuples(r) == 1) {
        pg_fill_user(r, 0, u, &is_oom);
        if (is_oom) {
            storage_user_clear(u);
            rc = pg_oom(err, errlen);
        }
    }
    goto done;

fail:
    pg_rollback(p);
done:
    PQclear(r);
    free(new_profile);
    free(new_name);
    return rc;
}

static int pg_user_delete(storage_conn *c, const char *uid, char ***doc_ids, size_t *n_docs,
                          char *err, size_t errlen)
{
    static const int others[] = {S_USER_DEL_USER, S_USER_DEL_FEEDBACK, S_USER_DEL_ACTIVITY,
                                 S_USER_DEL_RECORDS};
    pg_conn *p = PG_CONN(c);
    const char *vals[1] = {uid};
    PGresult *r = NULL;
    int rc;

    if (doc_ids != NULL)
        *doc_ids = NULL;
    if (n_docs != NULL)
        *n_docs = 0;
    rc = pg_begin(p, err, errlen);
    if (rc != LX_OK)
        return rc;
    /* Texts, passages and chunks go with their documents (ON DELETE CASCADE). */
    rc = pg_run(p, S_USER_DEL_DOCS, vals, &r, err, errlen);
    for (size_t i = 0; rc == LX_OK && i < sizeof(others) / sizeof(others[0]); i++)
        rc = pg_do(p, others[i], vals, NULL, err, errlen);
    if (rc != LX_OK) {
        pg_rollback(p);
        PQclear(r);
        return rc;
    }
    rc = pg_commit(p, err, errlen);
    if (rc == LX_OK && doc_ids != NULL && n_docs != NULL && pg_strv(r, 0, doc_ids, n_docs) != LX_OK)
        rc = pg_oom(err, errlen); /* the rows are gone all the same */
    PQclear(r);
    return rc;
}

static int pg_user_page(storage_conn *c, const char *after_uid, int limit, storage_user **out,
                        size_t *n, int *has_more, char *err, size_t errlen)
{
    pg_num lb;
    const char *vals[2];
    storage_user *v = NULL;
    PGresult *r;
    int rc, rows, is_oom = 0;

    *out = NULL;
    *n = 0;
    if (has_more != NULL)
        *has_more = 0;
    if (limit <= 0)
        return LX_OK;
    vals[0] = after_uid != NULL ? after_uid : "";
    vals[1] = pg_i64(&lb, (int64_t)limit + 1);
    rc = pg_run(PG_CONN(c), S_USER_PAGE, vals, &r, err, errlen);
    if (rc != LX_OK)
        return rc;
    rows = PQntuples(r);
    if (rows > limit) {
        rows = limit;
        if (has_more != NULL)
            *has_more = 1;
    }
    if (rows > 0) {
        v = calloc((size_t)rows, sizeof(*v));
        if (v == NULL)
            is_oom = 1;
        for (int i = 0; v != NULL && i < rows; i++)
            pg_fill_user(r, i, &v[i], &is_oom);
    }
    PQclear(r);
    if (is_oom) {
        for (int i = 0; v != NULL && i < rows; i++)
            storage_user_clear(&v[i]);
        free(v);
        if (has_more != NULL)
            *has_more = 0;
        return pg_oom(err, errlen);
    }
    *out = v;
    *n = (size_t)rows;
    return LX_OK;
}

/* ------------------------------------------------------------------------ */
/* Documents                                                                */

static int pg_doc_create(storage_conn *c, const storage_doc *d, const void *bytes, size_t len,
                         char *err, size_t errlen)
{
    pg_conn *p = PG_CONN(c);
    pg_num sb, cb, pb;
    const char *vals[14] = {d->id,
                            d->user_id,
                            d->name,
                            d->original_filename,
                            d->file_type,
                            d->mime_type,
                            d->status,
                            d->error,
                            d->sha256,
                            d->created_at,
                            d->updated_at,
                            pg_i64(&sb, d->size),
                            pg_i64(&cb, d->content_length),
                            pg_i64(&pb, d->page_count)};
    int rc;

    if (bytes == NULL && len > 0) {
        pg_errf(err, errlen, "postgres: no bytes for a file of that size", NULL);
        return LX_EINVAL;
    }
    if (len / STORAGE_CHUNK_SIZE >= INT32_MAX) {
        pg_errf(err, errlen, "postgres: the file is too large", NULL);
        return LX_EINVAL;
    }
    rc = pg_begin(p, err, errlen);
    if (rc != LX_OK)
        return rc;
    rc = pg_do(p, S_DOC_INSERT, vals, NULL, err, errlen);
    for (size_t off = 0, seq = 0; rc == LX_OK && off < len; off += STORAGE_CHUNK_SIZE, seq++) {
        size_t piece = len - off < STORAGE_CHUNK_SIZE ? len - off : STORAGE_CHUNK_SIZE;
        pg_num qb;
        const char *cv[3] = {d->id, pg_i64(&qb, (int64_t)seq), (const char *)bytes + off};
        int lens[3] = {0, 0, (int)piece};
        int fmts[3] = {0, 0, 1};
        PGresult *r;

        rc = pg_run_fmt(p, S_CHUNK_INSERT, cv, lens, fmts, 0, &r, err, errlen);
        PQclear(r);
    }
    if (rc != LX_OK) {
        pg_rollback(p);
        return rc;
    }
    return pg_commit(p, err, errlen);
}

static int pg_doc_list(storage_conn *c, const char *uid, storage_doc **docs, size_t *n, char *err,
                       size_t errlen)
{
    const char *vals[1] = {uid};
    storage_doc *v = NULL;
    PGresult *r;
    int rc, rows, is_oom = 0;

    *docs = NULL;
    *n = 0;
    rc = pg_run(PG_CONN(c), S_DOC_LIST, vals, &r, err, errlen);
    if (rc != LX_OK)
        return rc;
    rows = PQntuples(r);
    if (rows > 0) {
        v = calloc((size_t)rows, sizeof(*v));
        if (v == NULL)
            is_oom = 1;
        for (int i = 0; v != NULL && i < rows; i++)
            pg_fill_doc(r, i, 0, &v[i], &is_oom);
    }
    PQclear(r);
    if (is_oom) {
        storage_docs_free(v, v != NULL ? (size_t)rows : 0);
        return pg_oom(err, errlen);
    }
    *docs = v;
    *n = (size_t)rows;
    return LX_OK;
}

static int pg_doc_get(storage_conn *c, const char *uid, const char *id, int with_text,
                      storage_doc *d, char *err, size_t errlen)
{
    const char *vals[2] = {id, uid};
    PGresult *r;
    int rc, is_oom = 0;

    memset(d, 0, sizeof(*d));
    rc = pg_run(PG_CONN(c), with_text ? S_DOC_GET_TEXT : S_DOC_GET, vals, &r, err, errlen);
    if (rc != LX_OK)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return pg_absent(err, errlen, "document");
    }
    pg_fill_doc(r, 0, with_text, d, &is_oom);
    PQclear(r);
    if (is_oom) {
        storage_doc_clear(d);
        return pg_oom(err, errlen);
    }
    return LX_OK;
}

static int pg_doc_delete(storage_conn *c, const char *uid, const char *id, char *err, size_t errlen)
{
    const char *vals[2] = {id, uid};
    int64_t n = 0;
    int rc;

    /* One statement; the text, passages and chunks cascade with it. */
    rc = pg_do(PG_CONN(c), S_DOC_DELETE, vals, &n, err, errlen);
    if (rc == LX_OK && n == 0)
        return pg_absent(err, errlen, "document");
    return rc;
}

static int pg_doc_set_status(storage_conn *c, const char *id, const char *status, const char *error,
                             const char *now, char *err, size_t errlen)
{
    const char *vals[4] = {id, status, error, now};
    int64_t n = 0;
    int rc;

    rc = pg_do(PG_CONN(c), S_DOC_STATUS, vals, &n, err, errlen);
    if (rc == LX_OK && n == 0)
        return pg_absent(err, errlen, "document");
    return rc;
}

static int pg_doc_set_text(storage_conn *c, const char *id, const char *text, size_t text_len,
                           int64_t page_count, const char *const *passages, size_t n_passages,
                           const char *now, char *err, size_t errlen)
{
    pg_conn *p = PG_CONN(c);
    pg_num lb, pb;
    const char *doc[4] = {id, pg_i64(&lb, (int64_t)text_len), pg_i64(&pb, page_count), now};
    const char *tv[2] = {id, NULL};
    const char *pv[2] = {id, NULL};
    const char *del[1] = {id};
    char *copy = NULL, *arr = NULL;
    int64_t n = 0;
    int rc;

    if (text == NULL)
        text = "";
    if (memchr(text, '\0', text_len) != NULL) {
        pg_errf(err, errlen, "postgres: the text holds a NUL byte", NULL);
        return LX_EINVAL;
    }
    copy = malloc(text_len + 1); /* text need not end at text_len */
    arr = n_passages > 0 ? pg_text_array(passages, n_passages) : NULL;
    if (copy == NULL || (n_passages > 0 && arr == NULL)) {
        free(copy);
        free(arr);
        return pg_oom(err, errlen);
    }
    memcpy(copy, text, text_len);
    copy[text_len] = '\0';
    tv[1] = copy;
    pv[1] = arr;

    rc = pg_begin(p, err, errlen);
    if (rc != LX_OK)
        goto done;
    rc = pg_do(p, S_DOC_PROCESSED, doc, &n, err, errlen);
    if (rc == LX_OK && n == 0) {
        rc = pg_absent(err, errlen, "document");
        goto fail;
    }
    if (rc == LX_OK)
        rc = pg_do(p, S_TEXT_PUT, tv, NULL, err, errlen);
    if (rc == LX_OK)
        rc = pg_do(p, S_PASSAGES_DEL, del, NULL, err, errlen);
    if (rc == LX_OK && n_passages > 0)
        rc = pg_do(p, S_PASSAGES_PUT, pv, NULL, err, errlen);
    if (rc != LX_OK)
        goto fail;
    rc = pg_commit(p, err, errlen);
    goto done;

fail:
    pg_rollback(p);
done:
    free(copy);
    free(arr);
    return rc;
}

/* A big-endian integer of a binary result field. */
static int64_t pg_be_int(const PGresult *r, int row, int col)
{
    const unsigned char *b = (const unsigned char *)PQgetvalue(r, row, col);
    int len = PQgetlength(r, row, col);
    uint64_t v = 0;

    for (int i = 0; i < len; i++)
        v = (v << 8) | b[i];
    if (len == 4)
        return (int32_t)(uint32_t)v;
    return (int64_t)v;
}

static int pg_doc_read(storage_conn *c, const char *uid, const char *id, int64_t offset, void *buf,
                       size_t cap, size_t *n, char *err, size_t errlen)
{
    const int64_t chunk = STORAGE_CHUNK_SIZE;
    pg_num fb, lb;
    const char *vals[4];
    PGresult *r;
    int64_t size, end, first, last, pos;
    size_t got = 0;
    int rc, rows;

    *n = 0;
    if (offset < 0) {
        pg_errf(err, errlen, "postgres: negative offset", NULL);
        return LX_EINVAL;
    }
    /* Only the chunks that cover [offset, offset + cap). */
    end = cap > (size_t)(INT64_MAX - offset) ? INT64_MAX : offset + (int64_t)cap;
    first = offset / chunk;
    last = cap == 0 ? first : (end - 1) / chunk;
    if (first > INT32_MAX)
        first = INT32_MAX;
    if (last > INT32_MAX)
        last = INT32_MAX;
    vals[0] = id;
    vals[1] = uid;
    vals[2] = pg_i64(&fb, first);
    vals[3] = pg_i64(&lb, last);
    rc = pg_run_fmt(PG_CONN(c), S_DOC_READ, vals, NULL, NULL, 1, &r, err, errlen);
    if (rc != LX_OK)
        return rc;
    rows = PQntuples(r);
    if (rows == 0) {
        PQclear(r);
        return pg_absent(err, errlen, "document");
    }
    size = pg_be_int(r, 0, 0);
    if (end > size)
        end = size;
    pos = offset;
    for (int i = 0; i < rows && pos < end; i++) {
        int64_t start, clen, from, take;

        if (PQgetisnull(r, i, 1))
            break;
        start = pg_be_int(r, i, 1) * chunk;
        clen = PQgetlength(r, i, 2);
        if (start > pos || start + clen <= pos)
            break; /* a gap: caught below */
        from = pos - start;
        take = clen - from;
        if (take > end - pos)
            take = end - pos;
        memcpy((char *)buf + got, PQgetvalue(r, i, 2) + from, (size_t)take);
        got += (size_t)take;
        pos += take;
    }
    PQclear(r);
    if (pos < end) {
        pg_errf(err, errlen, "postgres: the document's stored bytes are incomplete", NULL);
        return LX_EIO;
    }
    *n = got;
    return LX_OK;
}

static int pg_doc_stale(storage_conn *c, const char *before, char ***ids, size_t *n, char *err,
                        size_t errlen)
{
    const char *vals[1] = {before};
    PGresult *r;
    int rc;

    *ids = NULL;
    *n = 0;
    rc = pg_run(PG_CONN(c), S_DOC_STALE, vals, &r, err, errlen);
    if (rc != LX_OK)
        return rc;
    rc = pg_strv(r, 0, ids, n);
    PQclear(r);
    return rc == LX_OK ? LX_OK : pg_oom(err, errlen);
}

static int pg_doc_all_ids(storage_conn *c, char ***ids, char ***uids, size_t *n, char *err,
                          size_t errlen)
{
    PGresult *r;
    size_t n2 = 0;
    int rc;

    *ids = NULL;
    *uids = NULL;
    *n = 0;
    rc = pg_run(PG_CONN(c), S_DOC_ALL, NULL, &r, err, errlen);
    if (rc != LX_OK)
        return rc;
    rc = pg_strv(r, 0, ids, n);
    if (rc == LX_OK)
        rc = pg_strv(r, 1, uids, &n2);
    PQclear(r);
    if (rc != LX_OK) {
        storage_strv_free(*ids, *n);
        *ids = NULL;
        *n = 0;
        return pg_oom(err, errlen);
    }
    return LX_OK;
}

/* ------------------------------------------------------------------------ */
/* Passage search                                                           */

/* Passages of a result of (seq, score, text) or, score_col < 0, (seq, text). */
static int pg_passages_of(const PGresult *r, int score_col, storage_passage **out, size_t *n)
{
    int rows = PQntuples(r), is_oom = 0, text_col = score_col < 0 ? 1 : 2;
    storage_passage *v;

    *out = NULL;
    *n = 0;
    if (rows == 0)
        return LX_OK;
    v = calloc((size_t)rows, sizeof(*v));
    if (v == NULL)
        return LX_ENOMEM;
    for (int i = 0; i < rows; i++) {
        v[i].seq = pg_int(r, i, 0);
        v[i].score = score_col < 0 ? 0.0 : pg_float(r, i, score_col);
        v[i].text = pg_dup(r, i, text_col, &is_oom);
    }
    if (is_oom) {
        storage_passages_free(v, (size_t)rows);
        return LX_ENOMEM;
    }
    *out = v;
    *n = (size_t)rows;
    return LX_OK;
}

static int pg_doc_owned(pg_conn *p, const char *uid, const char *id, char *err, size_t errlen)
{
    const char *vals[2] = {id, uid};
    PGresult *r;
    int rc, rows;

    rc = pg_run(p, S_DOC_OWNED, vals, &r, err, errlen);
    if (rc != LX_OK)
        return rc;
    rows = PQntuples(r);
    PQclear(r);
    return rows == 1 ? LX_OK : pg_absent(err, errlen, "document");
}

static int pg_doc_search(storage_conn *c, const char *uid, const char *id, const char *query,
                         int limit, storage_passage **out, size_t *n, char *err, size_t errlen)
{
    pg_conn *p = PG_CONN(c);
    pg_num lb;
    const char *vals[4];
    char **words = NULL, *arr = NULL;
    size_t n_words = 0;
    PGresult *r;
    int rc;

    *out = NULL;
    *n = 0;
    rc = pg_doc_owned(p, uid, id, err, errlen);
    if (rc != LX_OK)
        return rc;
    if (limit <= 0)
        return LX_OK;
    if (storage_query_words(query, &words, &n_words) != LX_OK)
        return pg_oom(err, errlen);
    if (n_words == 0)
        return LX_OK;
    arr = pg_text_array((const char *const *)words, n_words);
    storage_strv_free(words, n_words);
    if (arr == NULL)
        return pg_oom(err, errlen);
    vals[0] = id;
    vals[1] = uid;
    vals[2] = arr;
    vals[3] = pg_i64(&lb, limit);
    rc = pg_run(p, S_SEARCH, vals, &r, err, errlen);
    free(arr);
    if (rc != LX_OK)
        return rc;
    rc = pg_passages_of(r, 1, out, n);
    PQclear(r);
    return rc == LX_OK ? LX_OK : pg_oom(err, errlen);
}

static int pg_doc_passages(storage_conn *c, const char *uid, const char *id, int64_t from,
                           int count, storage_passage **out, size_t *n, char *err, size_t errlen)
{
    pg_conn *p = PG_CONN(c);
    pg_num fb, cb;
    const char *vals[4];
    PGresult *r;
    int rc;

    *out = NULL;
    *n = 0;
    rc = pg_doc_owned(p, uid, id, err, errlen);
    if (rc != LX_OK || count <= 0)
        return rc;
    if (from < 0)
        from = 0;
    vals[0] = id;
    vals[1] = uid;
    vals[2] = pg_i64(&fb, from);
    vals[3] = pg_i64(&cb, count);
    rc = pg_run(p, S_PASSAGES, vals, &r, err, errlen);
    if (rc != LX_OK)
        return rc;
    rc = pg_passages_of(r, -1, out, n);
    PQclear(r);
    return rc == LX_OK ? LX_OK : pg_oom(err, errlen);
}

/* ------------------------------------------------------------------------ */
/* Feedback and administration                                              */

static int pg_feedback_create(storage_conn *c, const storage_feedback *f, char *err, size_t errlen)
{
    const char *vals[8] = {f->id,          f->user_id,      f->email,  f->type,
                           f->description, f->browser_info, f->status, f->created_at};

    return pg_do(PG_CONN(c), S_FB_INSERT, vals, NULL, err, errlen);
}

static int pg_feedback_list(storage_conn *c, const char *status, const char *type, int limit,
                            int offset, storage_feedback **out, size_t *n, int64_t *total,
                            char *err, size_t errlen)
{
    pg_conn *p = PG_CONN(c);
    pg_num lb, ob;
    const char *vals[4] = {status, type, pg_limit(&lb, limit),
                           pg_i64(&ob, offset > 0 ? offset : 0)};
    storage_feedback *v = NULL;
    PGresult *r;
    int rc, rows, is_oom = 0;

    *out = NULL;
    *n = 0;
    if (total != NULL)
        *total = 0;
    rc = pg_run(p, S_FB_COUNT, vals, &r, err, errlen);
    if (rc != LX_OK)
        return rc;
    if (total != NULL)
        *total = pg_int(r, 0, 0);
    PQclear(r);
    rc = pg_run(p, S_FB_LIST, vals, &r, err, errlen);
    if (rc != LX_OK)
        return rc;
    rows = PQntuples(r);
    if (rows > 0) {
        v = calloc((size_t)rows, sizeof(*v));
        if (v == NULL)
            is_oom = 1;
        for (int i = 0; v != NULL && i < rows; i++) {
            v[i].id = pg_dup(r, i, 0, &is_oom);
            v[i].user_id = pg_dup(r, i, 1, &is_oom);
            v[i].email = pg_dup(r, i, 2, &is_oom);
            v[i].type = pg_dup(r, i, 3, &is_oom);
            v[i].description = pg_dup(r, i, 4, &is_oom);
            v[i].browser_info = pg_dup(r, i, 5, &is_oom);
            v[i].status = pg_dup(r, i, 6, &is_oom);
            v[i].created_at = pg_dup(r, i, 7, &is_oom);
        }
    }
    PQclear(r);
    if (is_oom) {
        storage_feedback_free(v, v != NULL ? (size_t)rows : 0);
        if (total != NULL)
            *total = 0;
        return pg_oom(err, errlen);
    }
    *out = v;
    *n = (size_t)rows;
    return LX_OK;
}

static int pg_stats_get(storage_conn *c, storage_stats *s, char *err, size_t errlen)
{
    int64_t *fields[] = {
        &s->users_total,      &s->users_with_documents, &s->docs_total,   &s->docs_processed,
        &s->docs_processing,  &s->docs_failed,          &s->docs_pending, &s->fb_total,
        &s->fb_new,           &s->fb_reviewed,          &s->fb_resolved,  &s->fb_bug,
        &s->fb_accessibility, &s->fb_suggestion,        &s->fb_other};
    PGresult *r;
    int rc;

    memset(s, 0, sizeof(*s));
    rc = pg_run(PG_CONN(c), S_STATS, NULL, &r, err, errlen);
    if (rc != LX_OK)
        return rc;
    for (int i = 0; i < (int)(sizeof(fields) / sizeof(fields[0])); i++)
        *fields[i] = pg_int(r, 0, i);
    PQclear(r);
    return LX_OK;
}

/* ------------------------------------------------------------------------ */
/* Activity and progress                                                    */

static int pg_activity_add(storage_conn *c, const storage_activity *a, char *err, size_t errlen)
{
    pg_num pb, sb, mb;
    const char *vals[7] = {
        a->uid, a->kind, pg_i64(&pb, a->points), pg_dbl(&sb, a->score), pg_dbl(&mb, a->max_score),
        a->day, a->now};

    return pg_do(PG_CONN(c), S_ACT_INSERT, vals, NULL, err, errlen);
}

static int pg_progress_get(storage_conn *c, const char *uid, storage_progress *prog, char *err,
                           size_t errlen)
{
    pg_conn *p = PG_CONN(c);
    const char *vals[1] = {uid};
    PGresult *r = NULL;
    int rc, rows, is_oom = 0;

    memset(prog, 0, sizeof(*prog));
    rc = pg_run(p, S_PROG_DOCS, vals, &r, err, errlen);
    if (rc != LX_OK)
        return rc;
    prog->documents = pg_int(r, 0, 0);
    PQclear(r);

    rc = pg_run(p, S_PROG_KINDS, vals, &r, err, errlen);
    if (rc != LX_OK)
        goto fail;
    rows = PQntuples(r);
    if (rows > 0) {
        prog->kinds = calloc((size_t)rows, sizeof(*prog->kinds));
        if (prog->kinds == NULL) {
            PQclear(r);
            goto oom;
        }
        prog->n_kinds = (size_t)rows;
    }
    for (int i = 0; i < rows; i++) {
        storage_kind_count *k = &prog->kinds[i];

        k->kind = pg_dup(r, i, 0, &is_oom);
        k->count = pg_int(r, i, 1);
        k->points = pg_int(r, i, 2);
        k->score = pg_float(r, i, 3);
        k->max_score = pg_float(r, i, 4);
        k->best = pg_float(r, i, 5);
        prog->points += k->points;
    }
    PQclear(r);
    if (is_oom)
        goto oom;

    rc = pg_run(p, S_PROG_DAYS, vals, &r, err, errlen);
    if (rc != LX_OK)
        goto fail;
    rc = pg_strv(r, 0, &prog->days, &prog->n_days);
    PQclear(r);
    if (rc != LX_OK)
        goto oom;
    return LX_OK;

oom:
    rc = pg_oom(err, errlen);
fail:
    storage_progress_clear(prog);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Records                                                                  */

/* (key, json, n_items, created_at, updated_at) into r. */
static void pg_fill_rec(const PGresult *res, int row, storage_rec *r, int *is_oom)
{
    r->key = pg_dup(res, row, 0, is_oom);
    r->json = pg_dup(res, row, 1, is_oom);
    r->seq = pg_int(res, row, 2);
    r->created_at = pg_dup(res, row, 3, is_oom);
    r->updated_at = pg_dup(res, row, 4, is_oom);
}

static int pg_rec_put(storage_conn *c, const char *uid, const char *kind, const char *key,
                      const char *json, const char *now, char *err, size_t errlen)
{
    const char *vals[5] = {uid, kind, key, json, now};

    return pg_do(PG_CONN(c), S_REC_PUT, vals, NULL, err, errlen);
}

static int pg_rec_get(storage_conn *c, const char *uid, const char *kind, const char *key,
                      storage_rec *rec, char *err, size_t errlen)
{
    const char *vals[3] = {uid, kind, key};
    PGresult *r;
    int rc, is_oom = 0;

    memset(rec, 0, sizeof(*rec));
    rc = pg_run(PG_CONN(c), S_REC_GET, vals, &r, err, errlen);
    if (rc != LX_OK)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return pg_absent(err, errlen, "record");
    }
    pg_fill_rec(r, 0, rec, &is_oom);
    PQclear(r);
    if (is_oom) {
        storage_rec_clear(rec);
        return pg_oom(err, errlen);
    }
    return LX_OK;
}

static int pg_rec_append(storage_conn *c, const char *uid, const char *kind, const char *key,
                         const char *json, const char *now, int64_t *seq, char *err, size_t errlen)
{
    const char *vals[5] = {uid, kind, key, json, now};
    PGresult *r;
    int rc;

    if (seq != NULL)
        *seq = 0;
    rc = pg_run(PG_CONN(c), S_REC_APPEND, vals, &r, err, errlen);
    if (rc != LX_OK)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return pg_absent(err, errlen, "record");
    }
    if (seq != NULL)
        *seq = pg_int(r, 0, 0);
    PQclear(r);
    return LX_OK;
}

static int pg_rec_items(storage_conn *c, const char *uid, const char *kind, const char *key,
                        int64_t after_seq, int last_n, storage_rec **out, size_t *n, char *err,
                        size_t errlen)
{
    pg_num ab, lb;
    const char *vals[5] = {uid, kind, key, pg_i64(&ab, after_seq),
                           pg_limit(&lb, last_n > 0 ? last_n : -1)};
    storage_rec *v = NULL;
    PGresult *r;
    int rc, rows, is_oom = 0;

    *out = NULL;
    *n = 0;
    rc = pg_run(PG_CONN(c), S_REC_ITEMS, vals, &r, err, errlen);
    if (rc != LX_OK)
        return rc;
    rows = PQntuples(r);
    if (rows == 0) {
        PQclear(r);
        return pg_absent(err, errlen, "record");
    }
    if (PQgetisnull(r, 0, 0)) { /* the record without items */
        PQclear(r);
        return LX_OK;
    }
    v = calloc((size_t)rows, sizeof(*v));
    if (v == NULL)
        is_oom = 1;
    for (int i = 0; v != NULL && i < rows; i++) {
        v[i].seq = pg_int(r, i, 0);
        v[i].key = strdup(key);
        if (v[i].key == NULL)
            is_oom = 1;
        v[i].json = pg_dup(r, i, 1, &is_oom);
        v[i].created_at = pg_dup(r, i, 2, &is_oom);
        v[i].updated_at = pg_dup(r, i, 2, &is_oom);
    }
    PQclear(r);
    if (is_oom) {
        storage_recs_free(v, v != NULL ? (size_t)rows : 0);
        return pg_oom(err, errlen);
    }
    *out = v;
    *n = (size_t)rows;
    return LX_OK;
}

static int pg_rec_list(storage_conn *c, const char *uid, const char *kind, int limit,
                       storage_rec **out, size_t *n, char *err, size_t errlen)
{
    pg_num lb;
    const char *vals[3] = {uid, kind, pg_limit(&lb, limit)};
    storage_rec *v = NULL;
    PGresult *r;
    int rc, rows, is_oom = 0;

    *out = NULL;
    *n = 0;
    rc = pg_run(PG_CONN(c), S_REC_LIST, vals, &r, err, errlen);
    if (rc != LX_OK)
        return rc;
    rows = PQntuples(r);
    if (rows > 0) {
        v = calloc((size_t)rows, sizeof(*v));
        if (v == NULL)
            is_oom = 1;
        for (int i = 0; v != NULL && i < rows; i++)
            pg_fill_rec(r, i, &v[i], &is_oom);
    }
    PQclear(r);
    if (is_oom) {
        storage_recs_free(v, v != NULL ? (size_t)rows : 0);
        return pg_oom(err, errlen);
    }
    *out = v;
    *n = (size_t)rows;
    return LX_OK;
}

static int pg_rec_delete(storage_conn *c, const char *uid, const char *kind, const char *key,
                         char *err, size_t errlen)
{
    const char *vals[3] = {uid, kind, key};
    int64_t n = 0;
    int rc;

    /* The items cascade with the record. */
    rc = pg_do(PG_CONN(c), S_REC_DELETE, vals, &n, err, errlen);
    if (rc == LX_OK && n == 0)
        return pg_absent(err, errlen, "record");
    return rc;
}

/* ------------------------------------------------------------------------ */

const storage_backend storage_pg_backend = {
    .name = "postgres",
    .stores_bytes = 1,
    .connect = pg_connect,
    .disconnect = pg_disconnect,
    .migrate = pg_migrate,
    .ping = pg_ping,
    .user_init = pg_user_init,
    .user_get = pg_user_get,
    .user_update = pg_user_update,
    .user_delete = pg_user_delete,
    .user_page = pg_user_page,
    .doc_create = pg_doc_create,
    .doc_list = pg_doc_list,
    .doc_get = pg_doc_get,
    .doc_delete = pg_doc_delete,
    .doc_set_status = pg_doc_set_status,
    .doc_set_text = pg_doc_set_text,
    .doc_read = pg_doc_read,
    .doc_stale = pg_doc_stale,
    .doc_all_ids = pg_doc_all_ids,
    .doc_search = pg_doc_search,
    .doc_passages = pg_doc_passages,
    .feedback_create = pg_feedback_create,
    .feedback_list = pg_feedback_list,
    .stats_get = pg_stats_get,
    .activity_add = pg_activity_add,
    .progress_get = pg_progress_get,
    .rec_put = pg_rec_put,
    .rec_get = pg_rec_get,
    .rec_append = pg_rec_append,
    .rec_items = pg_rec_items,
    .rec_list = pg_rec_list,
    .rec_delete = pg_rec_delete,
};
