/*
 * The SQLite backend of the database layer (store.h, store_backend.h): one
 * file, WAL, foreign keys, synchronous=FULL, a busy timeout. Correct with
 * several threads and several processes writing at once: every write runs
 * in a BEGIN IMMEDIATE transaction, so a writer waits for the lock (up to
 * the busy timeout) before it reads anything, and never fails on a lock
 * upgrade. The writers of one process take turns on a mutex before BEGIN
 * IMMEDIATE (a waiting thread wakes the moment the one before commits),
 * and a writer waiting for another process polls in short sleeps
 * (sq_busy) rather than SQLite's default of up to 100 ms: with four pool
 * threads writing chat turns, the default handler kept them asleep two
 * thirds of the time (bench/tutoring.sh). Every statement is a constant below, prepared once per
 * connection (SQLITE_PREPARE_PERSISTENT) and run with bound parameters.
 *
 * File bytes do not live here (stores_bytes 0): files.c keeps them on disk.
 * storage_doc_create refuses bytes with LX_EINVAL; storage_doc_read answers
 * LX_ENOENT when the document is absent or another user's, and LX_EINVAL
 * otherwise (there is nothing to read from the database).
 *
 * Search: the passages of a document are indexed by an FTS5 table
 * (external content, porter stemming over unicode61) kept in step with the
 * passages table by triggers. A query becomes the words of
 * storage_query_words, each double-quoted (so none of FTS5's syntax
 * survives), joined by OR, bound as one parameter; ranked by bm25.
 *
 * This file: the connection, the statement table and its cache, binding,
 * reading columns and rows, transactions, migrations and the backend table
 * (store_sqlite.h lists what is shared with store_sqlite_docs.c and
 * store_sqlite_users.c).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "errf.h"
#include "store_sqlite.h"

/* ------------------------------------------------------------------------ */
/* Schema                                                                   */

/* Migration 1. passages has an explicit INTEGER PRIMARY KEY `id` (with the
 * key (doc_id, seq) UNIQUE) because the FTS5 index refers to passages by
 * rowid, and only an INTEGER PRIMARY KEY rowid is guaranteed to survive a
 * VACUUM. */
static const char sq_migration_1[] =
    "CREATE TABLE users ("
    "  uid TEXT PRIMARY KEY,"
    "  email TEXT NOT NULL DEFAULT '',"
    "  display_name TEXT NOT NULL DEFAULT '',"
    "  profile_json TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(profile_json)),"
    "  created_at TEXT NOT NULL,"
    "  updated_at TEXT NOT NULL,"
    "  last_login TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE documents ("
    "  id TEXT PRIMARY KEY,"
    "  user_id TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  original_filename TEXT NOT NULL,"
    "  file_type TEXT NOT NULL,"
    "  mime_type TEXT NOT NULL,"
    "  status TEXT NOT NULL,"
    "  error TEXT NOT NULL DEFAULT '',"
    "  sha256 TEXT NOT NULL DEFAULT '',"
    "  size INTEGER NOT NULL DEFAULT 0,"
    "  content_length INTEGER NOT NULL DEFAULT 0,"
    "  page_count INTEGER NOT NULL DEFAULT 0,"
    "  created_at TEXT NOT NULL,"
    "  updated_at TEXT NOT NULL);"
    "CREATE INDEX documents_user_created ON documents (user_id, created_at);"
    "CREATE INDEX documents_status_updated ON documents (status, updated_at);"
    "CREATE TABLE doc_texts ("
    "  doc_id TEXT PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,"
    "  text TEXT NOT NULL);"
    "CREATE TABLE passages ("
    "  id INTEGER PRIMARY KEY,"
    "  doc_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,"
    "  seq INTEGER NOT NULL,"
    "  text TEXT NOT NULL,"
    "  UNIQUE (doc_id, seq));"
    "CREATE VIRTUAL TABLE passages_fts USING fts5 ("
    "  text, content = 'passages', content_rowid = 'id',"
    "  tokenize = 'porter unicode61');"
    "CREATE TRIGGER passages_ai AFTER INSERT ON passages BEGIN"
    "  INSERT INTO passages_fts (rowid, text) VALUES (new.id, new.text);"
    "END;"
    "CREATE TRIGGER passages_ad AFTER DELETE ON passages BEGIN"
    "  INSERT INTO passages_fts (passages_fts, rowid, text)"
    "    VALUES ('delete', old.id, old.text);"
    "END;"
    "CREATE TRIGGER passages_au AFTER UPDATE ON passages BEGIN"
    "  INSERT INTO passages_fts (passages_fts, rowid, text)"
    "    VALUES ('delete', old.id, old.text);"
    "  INSERT INTO passages_fts (rowid, text) VALUES (new.id, new.text);"
    "END;"
    "CREATE TABLE feedback ("
    "  id TEXT PRIMARY KEY,"
    "  user_id TEXT NOT NULL DEFAULT '',"
    "  email TEXT NOT NULL DEFAULT '',"
    "  type TEXT NOT NULL,"
    "  description TEXT NOT NULL,"
    "  browser_info TEXT NOT NULL DEFAULT '',"
    "  status TEXT NOT NULL,"
    "  created_at TEXT NOT NULL);"
    "CREATE INDEX feedback_created ON feedback (created_at);"
    "CREATE INDEX feedback_user ON feedback (user_id);"
    "CREATE TABLE activity ("
    "  id INTEGER PRIMARY KEY,"
    "  uid TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  points INTEGER NOT NULL DEFAULT 0,"
    "  score REAL NOT NULL DEFAULT 0,"
    "  max_score REAL NOT NULL DEFAULT 0,"
    "  day TEXT NOT NULL,"
    "  created_at TEXT NOT NULL);"
    "CREATE INDEX activity_uid_day ON activity (uid, day);"
    "CREATE TABLE records ("
    "  uid TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  key TEXT NOT NULL,"
    "  json TEXT NOT NULL CHECK (json_valid(json)),"
    "  n_items INTEGER NOT NULL DEFAULT 0,"
    "  created_at TEXT NOT NULL,"
    "  updated_at TEXT NOT NULL,"
    "  PRIMARY KEY (uid, kind, key));"
    "CREATE TABLE record_items ("
    "  uid TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  key TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  json TEXT NOT NULL CHECK (json_valid(json)),"
    "  created_at TEXT NOT NULL,"
    "  PRIMARY KEY (uid, kind, key, seq),"
    "  FOREIGN KEY (uid, kind, key) REFERENCES records (uid, kind, key) ON DELETE CASCADE);";

/* Migration 2: the claims of the extraction queue (store.h). Documents
 * pending from before are nobody's and claimable at once (''). The
 * partial index serves the claims' scan of pending documents only. */
static const char sq_migration_2[] =
    "ALTER TABLE documents ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE documents ADD COLUMN lease_until TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE documents ADD COLUMN interrupted INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX documents_pending ON documents (lease_until)"
    "  WHERE status IN ('uploaded', 'processing');";

/* Migration 3: PostgreSQL's doc_assets. SQLite keeps a document's assets
 * as files next to its file (db/asset_files.c): nothing to change here, but
 * the version moves with PostgreSQL's. */
static const char sq_migration_3[] = "";

/* Every migration, oldest first; a new one is one more entry (and
 * STORAGE_SCHEMA_VERSION in store.h follows). */
static const struct {
    int version;
    const char *sql;
} sq_migrations[] = {
    {1, sq_migration_1},
    {2, sq_migration_2},
    {3, sq_migration_3},
};

/* ------------------------------------------------------------------------ */
/* Statements: the SQL of every enum sq_id of store_sqlite.h              */

static const char *const sq_sql[SQ_N] = {
    [SQ_BEGIN] = "BEGIN",
    [SQ_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
    [SQ_COMMIT] = "COMMIT",
    [SQ_ROLLBACK] = "ROLLBACK",
    [SQ_SAVEPOINT] = "SAVEPOINT w",
    [SQ_RELEASE] = "RELEASE w",
    [SQ_ROLLBACK_TO] = "ROLLBACK TO w",
    [SQ_PING] = "SELECT 1",
    [SQ_MIG_VERSION] = "SELECT coalesce(max(version), 0) FROM schema_migrations",
    [SQ_MIG_RECORD] = "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",

    [SQ_USER_INSERT] = "INSERT INTO users (" SQ_USER_COLS ") VALUES (?1, coalesce(?2, ''), "
                       "coalesce(?3, ''), coalesce(?4, '{}'), ?5, ?5, ?6) "
                       "ON CONFLICT (uid) DO NOTHING",
    [SQ_USER_LOGIN] = "UPDATE users SET email = coalesce(?2, email), last_login = ?3 "
                      "WHERE uid = ?1",
    [SQ_USER_GET] = "SELECT " SQ_USER_COLS " FROM users WHERE uid = ?1",
    [SQ_USER_SET] = "UPDATE users SET profile_json = ?2, display_name = coalesce(?3, "
                    "display_name), email = coalesce(?4, email), updated_at = ?5 WHERE uid = ?1",
    [SQ_USER_PAGE] = "SELECT " SQ_USER_COLS " FROM users WHERE uid > ?1 ORDER BY uid LIMIT ?2",
    [SQ_USER_DOC_IDS] = "SELECT id FROM documents WHERE user_id = ?1 ORDER BY created_at, id",
    [SQ_USER_DEL_DOCS] = "DELETE FROM documents WHERE user_id = ?1",
    [SQ_USER_DEL_FEEDBACK] = "DELETE FROM feedback WHERE user_id = ?1",
    [SQ_USER_DEL_ACTIVITY] = "DELETE FROM activity WHERE uid = ?1",
    [SQ_USER_DEL_ITEMS] = "DELETE FROM record_items WHERE uid = ?1",
    [SQ_USER_DEL_RECORDS] = "DELETE FROM records WHERE uid = ?1",
    [SQ_USER_DEL] = "DELETE FROM users WHERE uid = ?1",

    [SQ_DOC_INSERT] = "INSERT INTO documents (" SQ_DOC_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                      "coalesce(?7, 'uploaded'), coalesce(?8, ''), coalesce(?9, ''), ?10, ?11, "
                      "?12, ?13, ?14, coalesce(?15, ''), coalesce(?16, ''), 0)",
    [SQ_DOC_LIST] = "SELECT " SQ_DOC_COLS " FROM documents WHERE user_id = ?1 "
                    "ORDER BY created_at DESC, rowid DESC",
    [SQ_DOC_GET] = "SELECT " SQ_DOC_COLS " FROM documents WHERE id = ?1 AND user_id = ?2",
    [SQ_DOC_TEXT] = "SELECT text FROM doc_texts WHERE doc_id = ?1",
    [SQ_DOC_OWNED] = "SELECT 1 FROM documents WHERE id = ?1 AND user_id = ?2",
    [SQ_DOC_DELETE] = "DELETE FROM documents WHERE id = ?1 AND user_id = ?2",
    /* ?5: the claim's owner, NULL for none; a final status ends the claim */
    [SQ_DOC_STATUS] = "UPDATE documents SET status = ?2, error = coalesce(?3, ''), "
                      "updated_at = ?4, claimed_by = CASE WHEN ?2 IN ('uploaded', 'processing') "
                      "THEN claimed_by ELSE '' END, lease_until = CASE WHEN ?2 IN ('uploaded', "
                      "'processing') THEN lease_until ELSE '' END WHERE id = ?1 AND (?5 IS NULL OR "
                      "(claimed_by = ?5 AND status IN ('uploaded', 'processing')))",
    [SQ_DOC_PROCESSED] = "UPDATE documents SET status = 'processed', error = '', "
                         "content_length = ?2, page_count = ?3, updated_at = ?4, "
                         "claimed_by = '', lease_until = '' WHERE id = ?1 AND (?5 IS NULL OR "
                         "(claimed_by = ?5 AND status IN ('uploaded', 'processing')))",
    [SQ_TEXT_PUT] = "INSERT INTO doc_texts (doc_id, text) VALUES (?1, ?2) "
                    "ON CONFLICT (doc_id) DO UPDATE SET text = excluded.text",
    [SQ_PASSAGES_CLEAR] = "DELETE FROM passages WHERE doc_id = ?1",
    /* Many passages in one statement (?3: a JSON array of their texts,
     * ?2 the seq of the first): FTS5 writes its pending terms out at the
     * end of each statement that changes it, so one statement per
     * passage made a segment per passage, and merging them was most of
     * an upload's CPU time. */
    [SQ_PASSAGES_INSERT] = "INSERT INTO passages (doc_id, seq, text)"
                           " SELECT ?1, ?2 + key, value FROM json_each(?3) ORDER BY key",
    /* The claims (store.h, "The extraction queue"). A takeover of a
     * document still "processing" counts a cut-off run. */
    [SQ_DOC_CLAIM] = "UPDATE documents SET claimed_by = ?1, lease_until = ?3, "
                     "interrupted = interrupted + (status = 'processing') WHERE id IN "
                     "(SELECT id FROM documents WHERE status IN ('uploaded', 'processing') "
                     "AND lease_until < ?2 ORDER BY lease_until, id LIMIT ?4) "
                     "RETURNING id, user_id, file_type, interrupted",
    [SQ_DOC_CLAIMABLE] = "SELECT 1 FROM documents WHERE status IN ('uploaded', 'processing') "
                         "AND lease_until < ?1 LIMIT 1",
    [SQ_DOC_RENEW] = "UPDATE documents SET lease_until = ?3 WHERE id = ?2 AND claimed_by = ?1 "
                     "AND status IN ('uploaded', 'processing')",
    [SQ_DOC_START] = "UPDATE documents SET status = 'processing', error = '', updated_at = ?3 "
                     "WHERE id = ?1 AND claimed_by = ?2 AND status IN ('uploaded', 'processing')",
    [SQ_DOC_RELEASE] = "UPDATE documents SET status = 'uploaded', claimed_by = '', "
                       "lease_until = ?3 WHERE id = ?1 AND claimed_by = ?2 "
                       "AND status IN ('uploaded', 'processing')",
    [SQ_DOC_FAILED_IDS] = "SELECT id FROM documents WHERE status = 'failed' AND error = ?1 "
                          "ORDER BY id",
    [SQ_DOC_RETRY_FAILED] = "UPDATE documents SET status = 'uploaded', error = '', "
                            "claimed_by = '', lease_until = '', updated_at = ?3 "
                            "WHERE id = ?1 AND status = 'failed' AND error = ?2",
    [SQ_DOC_ALL] = "SELECT id, user_id FROM documents ORDER BY id",
    /* The making of a processed document's assets (store_ops.h). */
    [SQ_DOC_ASSETS_CLAIM] = "UPDATE documents SET claimed_by = ?3, lease_until = ?5 "
                            "WHERE id = ?1 AND user_id = ?2 AND status = 'processed' "
                            "AND (claimed_by IN ('', ?3) OR lease_until < ?4)",
    [SQ_DOC_ASSETS_RELEASE] = "UPDATE documents SET claimed_by = '', lease_until = '' "
                              "WHERE id = ?1 AND user_id = ?2 AND status = 'processed' "
                              "AND claimed_by = ?3",
    /* The rowid range of the document's passages (one set_text writes
     * them in one transaction: consecutive ids) lets FTS5 seek into its
     * doclists instead of walking every passage of every user that holds
     * a word; p.doc_id keeps the answer exact whatever the range. */
    [SQ_SEARCH] = "SELECT p.seq, -bm25(passages_fts), p.text FROM passages_fts "
                  "JOIN passages p ON p.id = passages_fts.rowid "
                  "JOIN documents d ON d.id = p.doc_id "
                  "WHERE passages_fts MATCH ?1 "
                  "AND passages_fts.rowid >= (SELECT min(id) FROM passages WHERE doc_id = ?2) "
                  "AND passages_fts.rowid <= (SELECT max(id) FROM passages WHERE doc_id = ?2) "
                  "AND p.doc_id = ?2 AND d.user_id = ?3 "
                  "ORDER BY bm25(passages_fts), p.seq LIMIT ?4",
    [SQ_PASSAGES] = "SELECT p.seq, p.text FROM passages p JOIN documents d ON d.id = p.doc_id "
                    "WHERE p.doc_id = ?1 AND d.user_id = ?2 AND p.seq >= ?3 AND p.seq < ?4 "
                    "ORDER BY p.seq",

    [SQ_FB_INSERT] = "INSERT INTO feedback (" SQ_FB_COLS ") VALUES (?1, coalesce(?2, ''), "
                     "coalesce(?3, ''), ?4, ?5, coalesce(?6, ''), coalesce(?7, 'new'), ?8)",
    [SQ_FB_COUNT] = "SELECT count(*) FROM feedback WHERE " SQ_FB_FILTER,
    [SQ_FB_LIST] = "SELECT " SQ_FB_COLS " FROM feedback WHERE " SQ_FB_FILTER
                   " ORDER BY created_at DESC, rowid DESC LIMIT ?3 OFFSET ?4",
    [SQ_STATS] = "SELECT (SELECT count(*) FROM users),"
                 " (SELECT count(DISTINCT user_id) FROM documents),"
                 " (SELECT count(*) FROM documents),"
                 " (SELECT count(*) FROM documents WHERE status = 'processed'),"
                 " (SELECT count(*) FROM documents WHERE status = 'processing'),"
                 " (SELECT count(*) FROM documents WHERE status = 'failed'),"
                 " (SELECT count(*) FROM documents WHERE status = 'uploaded'),"
                 " (SELECT count(*) FROM feedback),"
                 " (SELECT count(*) FROM feedback WHERE status = 'new'),"
                 " (SELECT count(*) FROM feedback WHERE status = 'reviewed'),"
                 " (SELECT count(*) FROM feedback WHERE status = 'resolved'),"
                 " (SELECT count(*) FROM feedback WHERE type = 'bug'),"
                 " (SELECT count(*) FROM feedback WHERE type = 'accessibility'),"
                 " (SELECT count(*) FROM feedback WHERE type = 'suggestion'),"
                 " (SELECT count(*) FROM feedback WHERE type = 'other')",

    [SQ_ACT_INSERT] = "INSERT INTO activity (uid, kind, points, score, max_score, day, "
                      "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [SQ_PROG_DOCS] = "SELECT count(*) FROM documents WHERE user_id = ?1",
    [SQ_PROG_KINDS] = "SELECT kind, count(*), coalesce(sum(points), 0), coalesce(sum(score), 0),"
                      " coalesce(sum(max_score), 0),"
                      " coalesce(max(CASE WHEN max_score > 0 THEN score / max_score END), 0)"
                      " FROM activity WHERE uid = ?1 GROUP BY kind ORDER BY kind",
    [SQ_PROG_DAYS] = "SELECT DISTINCT day FROM activity WHERE uid = ?1 ORDER BY day DESC "
                     "LIMIT 400",

    [SQ_REC_PUT] = "INSERT INTO records (uid, kind, key, json, n_items, created_at, updated_at) "
                   "VALUES (?1, ?2, ?3, ?4, 0, ?5, ?5) ON CONFLICT (uid, kind, key) "
                   "DO UPDATE SET json = excluded.json, updated_at = excluded.updated_at",
    [SQ_REC_GET] = "SELECT key, json, n_items, created_at, updated_at FROM records "
                   "WHERE uid = ?1 AND kind = ?2 AND key = ?3",
    [SQ_REC_BUMP] = "UPDATE records SET n_items = n_items + 1, updated_at = ?4 "
                    "WHERE uid = ?1 AND kind = ?2 AND key = ?3",
    [SQ_ITEM_INSERT] = "INSERT INTO record_items (uid, kind, key, seq, json, created_at) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [SQ_ITEMS] = "SELECT seq, json, created_at FROM record_items WHERE uid = ?1 AND kind = ?2 "
                 "AND key = ?3 AND seq > ?4 ORDER BY seq",
    [SQ_ITEMS_LAST] = "SELECT seq, json, created_at FROM (SELECT seq, json, created_at "
                      "FROM record_items WHERE uid = ?1 AND kind = ?2 AND key = ?3 "
                      "AND seq > ?4 ORDER BY seq DESC LIMIT ?5) ORDER BY seq",
    [SQ_REC_LIST] = "SELECT key, json, n_items, created_at, updated_at FROM records "
                    "WHERE uid = ?1 AND kind = ?2 ORDER BY updated_at DESC, rowid DESC LIMIT ?3",
    [SQ_ITEMS_DELETE] = "DELETE FROM record_items WHERE uid = ?1 AND kind = ?2 AND key = ?3",
    [SQ_REC_DELETE] = "DELETE FROM records WHERE uid = ?1 AND kind = ?2 AND key = ?3",
};

/* ------------------------------------------------------------------------ */
/* Messages and errors                                                      */

int storage_sq_error(storage_sq_conn *s, int rc, const char *what, char *err, size_t errlen)
{
    int sys = sqlite3_system_errno(s->db);

    storage_errf(err, errlen, "sqlite: %s: %s", what, sqlite3_errmsg(s->db));
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
        return LX_EEXIST;
    if ((rc & 0xff) == SQLITE_FULL ||
        ((rc & 0xff) == SQLITE_IOERR && (sys == ENOSPC || sys == EDQUOT)))
        return STORAGE_ENOSPC;
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
        return LX_EINVAL;
    case SQLITE_NOMEM:
        return LX_ENOMEM;
    default: /* BUSY, LOCKED, IOERR, FULL, CORRUPT, NOTADB, READONLY, ERROR, ... */
        return LX_EIO;
    }
}

int storage_sq_nomem(char *err, size_t errlen)
{
    storage_errf(err, errlen, "sqlite: out of memory");
    return LX_ENOMEM;
}

/* ------------------------------------------------------------------------ */
/* Statements, binding, columns                                             */

int storage_sq_prep(storage_sq_conn *s, enum sq_id id, sqlite3_stmt **out, char *err, size_t errlen)
{
    if (s->st[id] == NULL) {
        int rc =
            sqlite3_prepare_v3(s->db, sq_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->st[id], NULL);
        if (rc != SQLITE_OK) {
            s->st[id] = NULL;
            return storage_sq_error(s, rc, "prepare", err, errlen);
        }
    }
    *out = s->st[id];
    return LX_OK;
}

void storage_sq_end(sqlite3_stmt *st)
{
    if (st != NULL) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}

/* storage_sq_bind with a va_list. */
static int sq_vbind(sqlite3_stmt *st, const char *fmt, va_list ap)
{
    int rc = SQLITE_OK;

    for (int i = 1; *fmt != '\0' && rc == SQLITE_OK; fmt++, i++) {
        switch (*fmt) {
        case 't': {
            const char *v = va_arg(ap, const char *);
            rc = v != NULL ? sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC)
                           : sqlite3_bind_null(st, i);
            break;
        }
        case 'i':
            rc = sqlite3_bind_int64(st, i, (sqlite3_int64)va_arg(ap, int64_t));
            break;
        case 'n':
            rc = sqlite3_bind_int(st, i, va_arg(ap, int));
            break;
        case 'd':
            rc = sqlite3_bind_double(st, i, va_arg(ap, double));
            break;
        default:
            rc = SQLITE_MISUSE;
        }
    }
    return rc;
}

int storage_sq_bind(sqlite3_stmt *st, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = sq_vbind(st, fmt, ap);
    va_end(ap);
    return rc;
}

/* Prepares statement id into *st (see storage_sq_prep) and binds fmt's
 * values (ap) to it: LX_OK with the binding's SQLite code in *src, or the
 * preparation's failure (err set, nothing bound). The caller ends *st. */
static int storage_sq_vprep(storage_sq_conn *s, enum sq_id id, sqlite3_stmt **st, int *src,
                            char *err, size_t errlen, const char *fmt, va_list ap)
{
    int rc = storage_sq_prep(s, id, st, err, errlen);

    if (rc != LX_OK)
        return rc;
    *src = sq_vbind(*st, fmt, ap);
    return LX_OK;
}

char *storage_sq_col(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return strdup(t != NULL ? (const char *)t : "");
}

int storage_sq_cols(sqlite3_stmt *st, char **const dst[], int n)
{
    int rc = LX_OK;

    for (int i = 0; i < n; i++)
        if (dst[i] != NULL && (*dst[i] = storage_sq_col(st, i)) == NULL)
            rc = LX_ENOMEM;
    return rc;
}

int storage_sq_limit(int limit)
{
    return limit < 0 ? -1 : limit;
}

/* storage_sq_run with a va_list. */
static int sq_vrun(storage_sq_conn *s, enum sq_id id, const char *what, int *changes,
                   const char *missing, char *err, size_t errlen, const char *fmt, va_list ap)
{
    sqlite3_stmt *st = NULL;
    int src;
    int rc = storage_sq_vprep(s, id, &st, &src, err, errlen, fmt, ap);

    if (rc != LX_OK)
        return rc;
    if (src == SQLITE_OK) {
        src = sqlite3_step(st);
        if (src == SQLITE_ROW || src == SQLITE_DONE)
            src = SQLITE_OK;
    }
    if (src != SQLITE_OK) {
        rc = storage_sq_error(s, src, what, err, errlen);
    } else {
        int n = sqlite3_changes(s->db);

        if (changes != NULL)
            *changes = n;
        if (missing != NULL && n == 0) {
            storage_errf(err, errlen, "%s", missing);
            rc = LX_ENOENT;
        }
    }
    storage_sq_end(st);
    return rc;
}

int storage_sq_run(storage_sq_conn *s, enum sq_id id, const char *what, const char *missing,
                   int *changes, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = sq_vrun(s, id, what, changes, missing, err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

int storage_sq_write(storage_sq_conn *s, enum sq_id id, const char *what, const char *missing,
                     char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    int rc = storage_sq_begin(s, 1, err, errlen);

    if (rc != LX_OK)
        return rc;
    va_start(ap, fmt);
    rc = sq_vrun(s, id, what, NULL, missing, err, errlen, fmt, ap);
    va_end(ap);
    return storage_sq_finish(s, rc, err, errlen);
}

/* ------------------------------------------------------------------------ */
/* Reading rows                                                             */

int storage_sq_row(storage_sq_conn *s, enum sq_id id, const char *what, const char *missing,
                   storage_sq_row_fn row, void *out, char *err, size_t errlen, const char *fmt, ...)
{
    sqlite3_stmt *st = NULL;
    va_list ap;
    int rc, src;

    va_start(ap, fmt);
    rc = storage_sq_vprep(s, id, &st, &src, err, errlen, fmt, ap);
    va_end(ap);
    if (rc != LX_OK)
        return rc;
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        rc = row != NULL ? row(st, out) : LX_OK;
        if (rc != LX_OK)
            storage_sq_nomem(err, errlen);
    } else if (src == SQLITE_DONE && missing != NULL) {
        storage_errf(err, errlen, "%s", missing);
        rc = LX_ENOENT;
    } else {
        rc = storage_sq_error(s, src, what, err, errlen);
    }
    storage_sq_end(st);
    return rc;
}

int storage_sq_int64_row(sqlite3_stmt *st, void *out)
{
    *(int64_t *)out = sqlite3_column_int64(st, 0);
    return LX_OK;
}

/* Makes room for one more element of `elem` bytes in *v (capacity *cap);
 * new elements are zeroed. */
static int sq_grow(void **v, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return LX_OK;
    size_t ncap = *cap == 0 ? 8 : *cap * 2;
    void *nv = realloc(*v, ncap * elem);
    if (nv == NULL)
        return LX_ENOMEM;
    memset((char *)nv + *cap * elem, 0, (ncap - *cap) * elem);
    *v = nv;
    *cap = ncap;
    return LX_OK;
}

/* Steps st, whose binding returned src, until DONE, as storage_sq_list
 * says. */
static int sq_rows(storage_sq_conn *s, sqlite3_stmt *st, int src, const char *what,
                   storage_sq_row_fn row, size_t size, void **v, size_t *n, char *err,
                   size_t errlen)
{
    size_t cap = *n;

    while ((src == SQLITE_OK || src == SQLITE_ROW) && (src = sqlite3_step(st)) == SQLITE_ROW) {
        if (sq_grow(v, &cap, *n, size) != LX_OK)
            return storage_sq_nomem(err, errlen);
        if (row(st, (char *)*v + (*n)++ * size) != LX_OK)
            return storage_sq_nomem(err, errlen);
    }
    if (src != SQLITE_DONE)
        return storage_sq_error(s, src, what, err, errlen);
    return LX_OK;
}

int storage_sq_list(storage_sq_conn *s, enum sq_id id, const char *what, storage_sq_row_fn row,
                    size_t size, void **v, size_t *n, char *err, size_t errlen, const char *fmt,
                    ...)
{
    sqlite3_stmt *st = NULL;
    va_list ap;
    int rc, src;

    va_start(ap, fmt);
    rc = storage_sq_vprep(s, id, &st, &src, err, errlen, fmt, ap);
    va_end(ap);
    if (rc != LX_OK)
        return rc;
    rc = sq_rows(s, st, src, what, row, size, v, n, err, errlen);
    storage_sq_end(st);
    return rc;
}

int storage_sq_strings(storage_sq_conn *s, enum sq_id id, const char *what, int n_cols,
                       char ***cols[], size_t *n, char *err, size_t errlen, const char *fmt, ...)
{
    sqlite3_stmt *st = NULL;
    size_t n_v = 0, caps[SQ_STRINGS_MAX_COLS] = {0};
    va_list ap;
    int rc, src;

    for (int j = 0; j < n_cols; j++)
        *cols[j] = NULL;
    *n = 0;
    if (n_cols < 1 || n_cols > SQ_STRINGS_MAX_COLS) {
        storage_errf(err, errlen, "sqlite: %s: %d columns", what, n_cols);
        return LX_EINVAL;
    }
    va_start(ap, fmt);
    rc = storage_sq_vprep(s, id, &st, &src, err, errlen, fmt, ap);
    va_end(ap);
    if (rc != LX_OK)
        return rc;
    while ((src == SQLITE_OK || src == SQLITE_ROW) && (src = sqlite3_step(st)) == SQLITE_ROW) {
        /* Every array has its slot (zeroed) before any is filled, so that
         * the n_v freed below always exist. */
        for (int j = 0; j < n_cols && rc == LX_OK; j++)
            if (sq_grow((void **)cols[j], &caps[j], n_v, sizeof(char *)) != LX_OK)
                rc = storage_sq_nomem(err, errlen);
        if (rc != LX_OK)
            break;
        for (int j = 0; j < n_cols; j++)
            (*cols[j])[n_v] = storage_sq_col(st, j);
        n_v++;
        for (int j = 0; j < n_cols && rc == LX_OK; j++)
            if ((*cols[j])[n_v - 1] == NULL)
                rc = storage_sq_nomem(err, errlen);
        if (rc != LX_OK)
            break;
    }
    if (rc == LX_OK && src != SQLITE_DONE)
        rc = storage_sq_error(s, src, what, err, errlen);
    storage_sq_end(st);
    if (rc != LX_OK) {
        for (int j = 0; j < n_cols; j++) {
            storage_strv_free(*cols[j], n_v);
            *cols[j] = NULL;
        }
        return rc;
    }
    *n = n_v;
    return LX_OK;
}

/* ------------------------------------------------------------------------ */
/* Transactions                                                             */

/* The writer turn of this process (file comment). The plugin's one static
 * on purpose: it guards a process-wide thing (this process's writers of the
 * SQLite file), holds no generation's data, is never freed, and is never
 * held across fork() (the master, which forks, is single-threaded). */
static pthread_mutex_t sq_write_mu = PTHREAD_MUTEX_INITIALIZER;

static void sq_write_release(storage_sq_conn *s)
{
    if (s->holds_write) {
        s->holds_write = 0;
        pthread_mutex_unlock(&sq_write_mu);
    }
}

int storage_sq_begin(storage_sq_conn *s, int is_write, char *err, size_t errlen)
{
    int rc;

    if (s->in_group) /* inside storage_sq_group_run's savepoint */
        return LX_OK;
    if (is_write && !s->holds_write) {
        pthread_mutex_lock(&sq_write_mu);
        s->holds_write = 1;
    }
    rc = storage_sq_run(s, is_write ? SQ_BEGIN_IMMEDIATE : SQ_BEGIN, "begin", NULL, NULL, err,
                        errlen, "");
    if (rc != LX_OK) /* callers do not finish a transaction that did not begin */
        sq_write_release(s);
    return rc;
}

int storage_sq_finish(storage_sq_conn *s, int rc, char *err, size_t errlen)
{
    char ignored[8];

    if (s->in_group) /* the group commits; the savepoint undoes a failure */
        return rc;
    if (rc == LX_OK)
        rc = storage_sq_run(s, SQ_COMMIT, "commit", NULL, NULL, err, errlen, "");
    /* A rollback's own failure must not replace the first message. */
    if (rc != LX_OK && !sqlite3_get_autocommit(s->db))
        storage_sq_run(s, SQ_ROLLBACK, "rollback", NULL, NULL, ignored, sizeof(ignored), "");
    if (sqlite3_get_autocommit(s->db))
        sq_write_release(s);
    return rc;
}

/* Group commit (store_backend.h): one BEGIN IMMEDIATE for the group, a
 * savepoint per write, one COMMIT (and so one fsync of the log). */
static int sq_group_begin(storage_conn *c, char *err, size_t errlen)
{
    storage_sq_conn *s = storage_sq_of(c);
    int rc = storage_sq_begin(s, 1, err, errlen);

    if (rc == LX_OK) {
        s->in_group = 1;
        s->is_group_lost = 0;
    }
    return rc;
}

static int sq_group_run(storage_conn *c, storage_write_fn fn, void *arg, char *err, size_t errlen)
{
    storage_sq_conn *s = storage_sq_of(c);
    char ignored[8];
    int rc;

    if (s->is_group_lost) {
        storage_errf(err, errlen, "sqlite: the group's transaction was rolled back");
        return LX_EIO;
    }
    rc = storage_sq_run(s, SQ_SAVEPOINT, "savepoint", NULL, NULL, err, errlen, "");
    if (rc != LX_OK)
        return rc;
    rc = fn(c, arg, err, errlen);
    if (sqlite3_get_autocommit(s->db)) {
        /* SQLite rolled the whole transaction back (a full disk, I/O) */
        s->is_group_lost = 1;
        return rc != LX_OK ? rc : LX_EIO;
    }
    if (rc != LX_OK)
        storage_sq_run(s, SQ_ROLLBACK_TO, "rollback to", NULL, NULL, ignored, sizeof(ignored), "");
    if (storage_sq_run(s, SQ_RELEASE, "release", NULL, NULL, ignored, sizeof(ignored), "") != LX_OK)
        s->is_group_lost = 1;
    return rc;
}

static int sq_group_end(storage_conn *c, int rc, char *err, size_t errlen)
{
    storage_sq_conn *s = storage_sq_of(c);

    s->in_group = 0;
    if (s->is_group_lost && rc == LX_OK) {
        storage_errf(err, errlen, "sqlite: the group's transaction was rolled back");
        rc = LX_EIO;
    }
    if (sqlite3_get_autocommit(s->db)) { /* nothing left to end */
        sq_write_release(s);
        return rc;
    }
    return storage_sq_finish(s, rc, err, errlen);
}

/* SQLite's busy handler: another process holds the lock. Short sleeps
 * first (a transaction of ours is well under a millisecond plus its
 * fsync), then 2 ms ones, until busy_timeout_ms has passed. */
static int sq_busy(void *arg, int count)
{
    storage_sq_conn *s = arg;
    struct timespec ts;
    double now;
    long us;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
    if (count == 0)
        s->busy_t0 = now;
    if (now - s->busy_t0 >= (double)s->busy_timeout_ms)
        return 0;
    us = count < 20 ? 50 + 50L * count : 2000;
    ts.tv_sec = 0;
    ts.tv_nsec = us * 1000L;
    nanosleep(&ts, NULL);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Connections and schema                                                   */

static void sq_disconnect(storage_conn *c)
{
    storage_sq_conn *s = storage_sq_of(c);

    if (s == NULL)
        return;
    for (int i = 0; i < SQ_N; i++)
        sqlite3_finalize(s->st[i]);
    if (s->db != NULL && !sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    sq_write_release(s);
    sqlite3_close(s->db);
    free(s);
}
static int sq_journal_mode_cb(void *arg, int n_cols, char **vals, char **names)
{
    char *mode = arg;

    if (n_cols > 0 && vals[0] != NULL)
        snprintf(mode, 16, "%s", vals[0]);
    return 0;
}

static int sq_connect(const storage_opts *opts, storage_conn **out, char *err, size_t errlen)
{
    storage_sq_conn *s;
    char mode[16] = "";
    /* No timeout would make concurrent writers fail at once: 5 s unless set. */
    long timeout = opts->busy_timeout_ms > 0 ? opts->busy_timeout_ms : 5000;
    int rc;

    *out = NULL;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return storage_sq_nomem(err, errlen);
    s->base.be = &storage_sqlite_backend;
    rc = sqlite3_open_v2(opts->sqlite_path, &s->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        storage_errf(err, errlen, "sqlite: cannot open %s: %s", opts->sqlite_path,
                     s->db != NULL ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    /* The timeout first: switching to WAL takes a lock another process may
     * hold while it does the same. */
    s->busy_timeout_ms = timeout;
    sqlite3_busy_handler(s->db, sq_busy, s);
    rc = sqlite3_exec(s->db, "PRAGMA journal_mode = WAL", sq_journal_mode_cb, mode, NULL);
    if (rc != SQLITE_OK) {
        storage_errf(err, errlen, "sqlite: %s: journal_mode: %s", opts->sqlite_path,
                     sqlite3_errmsg(s->db));
        goto fail;
    }
    if (strcmp(mode, "wal") != 0) {
        storage_errf(err, errlen, "sqlite: %s: WAL is not available (journal mode %s)",
                     opts->sqlite_path, mode);
        goto fail;
    }
    rc = sqlite3_exec(s->db, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON", NULL, NULL,
                      NULL);
    if (rc != SQLITE_OK) {
        storage_errf(err, errlen, "sqlite: %s: %s", opts->sqlite_path, sqlite3_errmsg(s->db));
        goto fail;
    }
    *out = &s->base;
    return LX_OK;

fail:
    sqlite3_close(s->db);
    free(s);
    return rc == SQLITE_NOMEM ? LX_ENOMEM : LX_EIO;
}

/* In the open write transaction: reads the database's version into
 * *current and applies the next migration newer than it, or sets *is_done
 * when there is none. */
static int sq_migrate_next(storage_sq_conn *s, int64_t *current, int *is_done, char *err,
                           size_t errlen)
{
    size_t n_migrations = sizeof(sq_migrations) / sizeof(sq_migrations[0]);
    char now[STORAGE_TS_LEN + 1];
    char what[32];
    size_t i;
    int src, rc;

    src = sqlite3_exec(s->db,
                       "CREATE TABLE IF NOT EXISTS schema_migrations ("
                       "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
                       NULL, NULL, NULL);
    if (src != SQLITE_OK)
        return storage_sq_error(s, src, "schema_migrations", err, errlen);
    rc = storage_sq_row(s, SQ_MIG_VERSION, "schema version", NULL, storage_sq_int64_row, current,
                        err, errlen, "");
    if (rc != LX_OK)
        return rc;
    if (*current > STORAGE_SCHEMA_VERSION) {
        storage_errf(err, errlen,
                     "database schema version %lld is newer than this lexiaid (%d); "
                     "upgrade lexiaid",
                     (long long)*current, STORAGE_SCHEMA_VERSION);
        return LX_ESTATE;
    }
    for (i = 0; i < n_migrations; i++)
        if (sq_migrations[i].version > *current)
            break;
    if (i == n_migrations) {
        *is_done = 1;
        return LX_OK;
    }
    src = sqlite3_exec(s->db, sq_migrations[i].sql, NULL, NULL, NULL);
    if (src != SQLITE_OK) {
        snprintf(what, sizeof(what), "migration %d", sq_migrations[i].version);
        return storage_sq_error(s, src, what, err, errlen);
    }
    storage_now_iso(now, sizeof(now));
    return storage_sq_run(s, SQ_MIG_RECORD, "schema_migrations", NULL, NULL, err, errlen, "nt",
                          sq_migrations[i].version, now);
}

int storage_sq_migrate(storage_conn *c, int *version, char *err, size_t errlen)
{
    storage_sq_conn *s = storage_sq_of(c);

    /* One migration per transaction; the version is read again each time
     * under the write lock, so processes starting at once apply each
     * migration exactly once. */
    for (;;) {
        int64_t current = 0;
        int is_done = 0;
        int rc = storage_sq_begin(s, 1, err, errlen);

        if (rc != LX_OK)
            return rc;
        rc = sq_migrate_next(s, &current, &is_done, err, errlen);
        rc = storage_sq_finish(s, rc, err, errlen);
        if (rc != LX_OK)
            return rc;
        if (is_done) {
            if (version != NULL)
                *version = (int)current;
            return LX_OK;
        }
    }
}

int storage_sq_ping(storage_conn *c, char *err, size_t errlen)
{
    return storage_sq_run(storage_sq_of(c), SQ_PING, "ping", NULL, NULL, err, errlen, "");
}

/* ------------------------------------------------------------------------ */

const storage_backend storage_sqlite_backend = {
    .name = "sqlite",
    .stores_bytes = 0,
    .connect = sq_connect,
    .disconnect = sq_disconnect,
    .group_begin = sq_group_begin,
    .group_run = sq_group_run,
    .group_end = sq_group_end,
#define STORAGE_OP(name, front, params, args) STORAGE_BACKEND_MEMBER(storage_sq_, name)
#include "store_ops.h"
#undef STORAGE_OP
};
