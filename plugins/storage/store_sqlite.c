/*
 * The SQLite backend of the database layer (store.h, store_backend.h): one
 * file, WAL, foreign keys, synchronous=FULL, a busy timeout. Correct with
 * several threads and several processes writing at once: every write runs
 * in a BEGIN IMMEDIATE transaction, so a writer waits for the lock (up to
 * the busy timeout) before it reads anything, and never fails on a lock
 * upgrade. Every statement is a constant below, prepared once per
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
 */
#define _POSIX_C_SOURCE 200809L

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store_backend.h"

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

/* Every migration, oldest first; a new one is one more entry (and
 * STORAGE_SCHEMA_VERSION in store.h follows). */
static const struct {
    int version;
    const char *sql;
} sq_migrations[] = {
    {1, sq_migration_1},
};

/* ------------------------------------------------------------------------ */
/* Statements                                                               */

#define SQ_DOC_COLS                                                                                \
    "id, user_id, name, original_filename, file_type, mime_type, status, error, sha256, "          \
    "created_at, updated_at, size, content_length, page_count"
#define SQ_USER_COLS "uid, email, display_name, profile_json, created_at, updated_at, last_login"
#define SQ_FB_COLS "id, user_id, email, type, description, browser_info, status, created_at"
#define SQ_FB_FILTER "(?1 IS NULL OR status = ?1) AND (?2 IS NULL OR type = ?2)"

enum sq_id {
    SQ_BEGIN,
    SQ_BEGIN_IMMEDIATE,
    SQ_COMMIT,
    SQ_ROLLBACK,
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
    SQ_PASSAGE_INSERT,
    SQ_DOC_STALE,
    SQ_DOC_ALL,
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

static const char *const sq_sql[SQ_N] = {
    [SQ_BEGIN] = "BEGIN",
    [SQ_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
    [SQ_COMMIT] = "COMMIT",
    [SQ_ROLLBACK] = "ROLLBACK",
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
                      "?12, ?13, ?14)",
    [SQ_DOC_LIST] = "SELECT " SQ_DOC_COLS " FROM documents WHERE user_id = ?1 "
                    "ORDER BY created_at DESC, rowid DESC",
    [SQ_DOC_GET] = "SELECT " SQ_DOC_COLS " FROM documents WHERE id = ?1 AND user_id = ?2",
    [SQ_DOC_TEXT] = "SELECT text FROM doc_texts WHERE doc_id = ?1",
    [SQ_DOC_OWNED] = "SELECT 1 FROM documents WHERE id = ?1 AND user_id = ?2",
    [SQ_DOC_DELETE] = "DELETE FROM documents WHERE id = ?1 AND user_id = ?2",
    [SQ_DOC_STATUS] = "UPDATE documents SET status = ?2, error = coalesce(?3, ''), "
                      "updated_at = ?4 WHERE id = ?1",
    [SQ_DOC_PROCESSED] = "UPDATE documents SET status = 'processed', error = '', "
                         "content_length = ?2, page_count = ?3, updated_at = ?4 WHERE id = ?1",
    [SQ_TEXT_PUT] = "INSERT INTO doc_texts (doc_id, text) VALUES (?1, ?2) "
                    "ON CONFLICT (doc_id) DO UPDATE SET text = excluded.text",
    [SQ_PASSAGES_CLEAR] = "DELETE FROM passages WHERE doc_id = ?1",
    [SQ_PASSAGE_INSERT] = "INSERT INTO passages (doc_id, seq, text) VALUES (?1, ?2, ?3)",
    [SQ_DOC_STALE] = "SELECT id FROM documents WHERE status IN ('uploaded', 'processing') "
                     "AND updated_at < ?1 ORDER BY updated_at, id",
    [SQ_DOC_ALL] = "SELECT id, user_id FROM documents ORDER BY id",
    [SQ_SEARCH] = "SELECT p.seq, -bm25(passages_fts), p.text FROM passages_fts "
                  "JOIN passages p ON p.id = passages_fts.rowid "
                  "JOIN documents d ON d.id = p.doc_id "
                  "WHERE passages_fts MATCH ?1 AND p.doc_id = ?2 AND d.user_id = ?3 "
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

typedef struct sqlite_conn {
    storage_conn base;
    sqlite3 *db;
    sqlite3_stmt *st[SQ_N]; /* prepared on first use */
} sqlite_conn;

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

static void sq_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void sq_errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* The LX_E* code of a failed SQLite call `rc` (extended codes are on),
 * with "sqlite: WHAT: message" in err. */
static int sq_error(sqlite_conn *s, int rc, const char *what, char *err, size_t errlen)
{
    sq_errf(err, errlen, "sqlite: %s: %s", what, sqlite3_errmsg(s->db));
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
        return LX_EEXIST;
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

static int sq_nomem(char *err, size_t errlen)
{
    sq_errf(err, errlen, "sqlite: out of memory");
    return LX_ENOMEM;
}

/* The cached statement `id`, reset and with no bindings, in *out. */
static int sq_prep(sqlite_conn *s, enum sq_id id, sqlite3_stmt **out, char *err, size_t errlen)
{
    if (s->st[id] == NULL) {
        int rc =
            sqlite3_prepare_v3(s->db, sq_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->st[id], NULL);
        if (rc != SQLITE_OK) {
            s->st[id] = NULL;
            return sq_error(s, rc, "prepare", err, errlen);
        }
    }
    *out = s->st[id];
    return LX_OK;
}

/* Resets a statement after use: it holds no read lock and no pointer to
 * the caller's strings once this returns. */
static void sq_end(sqlite3_stmt *st)
{
    if (st != NULL) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}

/* Binds parameters 1.. from a format: 't' const char * (NULL binds NULL),
 * 'i' int64_t, 'n' int, 'd' double. Returns an SQLite code. */
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

static int sq_bind(sqlite3_stmt *st, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = sq_vbind(st, fmt, ap);
    va_end(ap);
    return rc;
}

/* A malloc'd copy of text column i ("" for NULL), or NULL when out of
 * memory. */
static char *sq_col(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return strdup(t != NULL ? (const char *)t : "");
}

/* Prepares `id`, binds, steps once and expects no row (DONE). For writes
 * inside a transaction; *changes (may be NULL) gets the rows changed. */
static int sq_run(sqlite_conn *s, enum sq_id id, const char *what, int *changes, char *err,
                  size_t errlen, const char *fmt, ...)
{
    sqlite3_stmt *st = NULL;
    va_list ap;
    int rc = sq_prep(s, id, &st, err, errlen);
    int src = SQLITE_OK;

    if (rc != LX_OK)
        return rc;
    va_start(ap, fmt);
    src = sq_vbind(st, fmt, ap);
    va_end(ap);
    if (src == SQLITE_OK) {
        src = sqlite3_step(st);
        if (src == SQLITE_ROW || src == SQLITE_DONE)
            src = SQLITE_OK;
    }
    if (src != SQLITE_OK)
        rc = sq_error(s, src, what, err, errlen);
    else if (changes != NULL)
        *changes = sqlite3_changes(s->db);
    sq_end(st);
    return rc;
}

/* BEGIN IMMEDIATE for a write (waits for the write lock up to the busy
 * timeout), BEGIN for a consistent read of several statements. */
static int sq_begin(sqlite_conn *s, int is_write, char *err, size_t errlen)
{
    return sq_run(s, is_write ? SQ_BEGIN_IMMEDIATE : SQ_BEGIN, "begin", NULL, err, errlen, "");
}

static int sq_commit(sqlite_conn *s, char *err, size_t errlen)
{
    return sq_run(s, SQ_COMMIT, "commit", NULL, err, errlen, "");
}

/* Rolls back the open transaction, if any; keeps err as it is. */
static void sq_rollback(sqlite_conn *s)
{
    char ignored[8];

    if (!sqlite3_get_autocommit(s->db))
        sq_run(s, SQ_ROLLBACK, "rollback", NULL, ignored, sizeof(ignored), "");
}

/* Commits, or rolls back when rc already says failure; returns the first
 * failure. */
static int sq_finish(sqlite_conn *s, int rc, char *err, size_t errlen)
{
    if (rc == LX_OK)
        rc = sq_commit(s, err, errlen);
    if (rc != LX_OK)
        sq_rollback(s);
    return rc;
}

/* Makes room for one more element of `elem` bytes in *v (capacity *cap). */
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

/* LIMIT n, where a negative n means no limit (as SQLite reads it). */
static int sq_limit(int limit)
{
    return limit < 0 ? -1 : limit;
}

static sqlite_conn *sq_of(storage_conn *c)
{
    return (sqlite_conn *)c;
}

/* Whether document id is uid's: LX_OK, LX_ENOENT, or a failure. */
static int sq_doc_owned(sqlite_conn *s, const char *uid, const char *id, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sq_prep(s, SQ_DOC_OWNED, &st, err, errlen);
    int src;

    if (rc != LX_OK)
        return rc;
    src = sq_bind(st, "tt", id, uid);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        rc = LX_OK;
    } else if (src == SQLITE_DONE) {
        sq_errf(err, errlen, "no such document");
        rc = LX_ENOENT;
    } else {
        rc = sq_error(s, src, "document", err, errlen);
    }
    sq_end(st);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Connections and schema                                                   */

static void sq_disconnect(storage_conn *c)
{
    sqlite_conn *s = sq_of(c);

    if (s == NULL)
        return;
    for (int i = 0; i < SQ_N; i++)
        sqlite3_finalize(s->st[i]);
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
    sqlite_conn *s;
    char mode[16] = "";
    /* No timeout would make concurrent writers fail at once: 5 s unless set. */
    long timeout = opts->busy_timeout_ms > 0 ? opts->busy_timeout_ms : 5000;
    int rc;

    *out = NULL;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return sq_nomem(err, errlen);
    s->base.be = &storage_sqlite_backend;
    rc = sqlite3_open_v2(opts->sqlite_path, &s->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        sq_errf(err, errlen, "sqlite: cannot open %s: %s", opts->sqlite_path,
                s->db != NULL ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    /* The timeout first: switching to WAL takes a lock another process may
     * hold while it does the same. */
    sqlite3_busy_timeout(s->db, timeout > INT_MAX ? INT_MAX : (int)timeout);
    rc = sqlite3_exec(s->db, "PRAGMA journal_mode = WAL", sq_journal_mode_cb, mode, NULL);
    if (rc != SQLITE_OK) {
        sq_errf(err, errlen, "sqlite: %s: journal_mode: %s", opts->sqlite_path,
                sqlite3_errmsg(s->db));
        goto fail;
    }
    if (strcmp(mode, "wal") != 0) {
        sq_errf(err, errlen, "sqlite: %s: WAL is not available (journal mode %s)",
                opts->sqlite_path, mode);
        goto fail;
    }
    rc = sqlite3_exec(s->db, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON", NULL, NULL,
                      NULL);
    if (rc != SQLITE_OK) {
        sq_errf(err, errlen, "sqlite: %s: %s", opts->sqlite_path, sqlite3_errmsg(s->db));
        goto fail;
    }
    *out = &s->base;
    return LX_OK;

fail:
    sqlite3_close(s->db);
    free(s);
    return rc == SQLITE_NOMEM ? LX_ENOMEM : LX_EIO;
}

static int sq_migrate(storage_conn *c, int *version, char *err, size_t errlen)
{
    sqlite_conn *s = sq_of(c);
    size_t n_migrations = sizeof(sq_migrations) / sizeof(sq_migrations[0]);

    /* One migration per transaction; the version is read again each time
     * under the write lock, so processes starting at once apply each
     * migration exactly once. */
    for (;;) {
        sqlite3_stmt *st = NULL;
        char now[STORAGE_TS_LEN + 1];
        int current = 0, src, rc;
        size_t i;

        rc = sq_begin(s, 1, err, errlen);
        if (rc != LX_OK)
            return rc;
        src = sqlite3_exec(s->db,
                           "CREATE TABLE IF NOT EXISTS schema_migrations ("
                           "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
                           NULL, NULL, NULL);
        if (src != SQLITE_OK) {
            rc = sq_error(s, src, "schema_migrations", err, errlen);
            goto fail;
        }
        rc = sq_prep(s, SQ_MIG_VERSION, &st, err, errlen);
        if (rc != LX_OK)
            goto fail;
        src = sqlite3_step(st);
        if (src == SQLITE_ROW)
            current = sqlite3_column_int(st, 0);
        else
            rc = sq_error(s, src, "schema version", err, errlen);
        sq_end(st);
        if (rc != LX_OK)
            goto fail;
        if (current > STORAGE_SCHEMA_VERSION) {
            sq_errf(err, errlen,
                    "database schema version %d is newer than this lexiaid (%d); "
                    "upgrade lexiaid",
                    current, STORAGE_SCHEMA_VERSION);
            rc = LX_ESTATE;
            goto fail;
        }
        for (i = 0; i < n_migrations; i++)
            if (sq_migrations[i].version > current)
                break;
        if (i == n_migrations) {
            rc = sq_commit(s, err, errlen);
            if (rc != LX_OK)
                goto fail;
            if (version != NULL)
                *version = current;
            return LX_OK;
        }
        src = sqlite3_exec(s->db, sq_migrations[i].sql, NULL, NULL, NULL);
        if (src != SQLITE_OK) {
            char what[32];

            snprintf(what, sizeof(what), "migration %d", sq_migrations[i].version);
            rc = sq_error(s, src, what, err, errlen);
            goto fail;
        }
        storage_now_iso(now, sizeof(now));
        rc = sq_run(s, SQ_MIG_RECORD, "schema_migrations", NULL, err, errlen, "nt",
                    sq_migrations[i].version, now);
        if (rc != LX_OK)
            goto fail;
        rc = sq_commit(s, err, errlen);
        if (rc != LX_OK)
            goto fail;
        continue;

    fail:
        sq_rollback(s);
        return rc;
    }
}

static int sq_ping(storage_conn *c, char *err, size_t errlen)
{
    return sq_run(sq_of(c), SQ_PING, "ping", NULL, err, errlen, "");
}

/* ------------------------------------------------------------------------ */
/* Users                                                                    */

/* Fills *u from a row of SQ_USER_COLS. */
static int sq_user_row(sqlite3_stmt *st, storage_user *u)
{
    u->uid = sq_col(st, 0);
    u->email = sq_col(st, 1);
    u->display_name = sq_col(st, 2);
    u->profile_json = sq_col(st, 3);
    u->created_at = sq_col(st, 4);
    u->updated_at = sq_col(st, 5);
    u->last_login = sq_col(st, 6);
    if (u->uid == NULL || u->email == NULL || u->display_name == NULL || u->profile_json == NULL ||
        u->created_at == NULL || u->updated_at == NULL || u->last_login == NULL) {
        storage_user_clear(u);
        return LX_ENOMEM;
    }
    return LX_OK;
}

/* Reads uid's row into *u: LX_OK, LX_ENOENT or a failure. */
static int sq_user_read(sqlite_conn *s, const char *uid, storage_user *u, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sq_prep(s, SQ_USER_GET, &st, err, errlen);
    int src;

    if (rc != LX_OK)
        return rc;
    src = sq_bind(st, "t", uid);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        rc = sq_user_row(st, u);
        if (rc != LX_OK)
            sq_nomem(err, errlen);
    } else if (src == SQLITE_DONE) {
        sq_errf(err, errlen, "no such user");
        rc = LX_ENOENT;
    } else {
        rc = sq_error(s, src, "user", err, errlen);
    }
    sq_end(st);
    return rc;
}

static int sq_user_init(storage_conn *c, const char *uid, const char *email,
                        const char *display_name, const char *profile_json, const char *now,
                        int *is_created, char *err, size_t errlen)
{
    sqlite_conn *s = sq_of(c);
    int changes = 0;
    int rc = sq_begin(s, 1, err, errlen);

    if (rc != LX_OK)
        return rc;
    rc = sq_run(s, SQ_USER_INSERT, "user", &changes, err, errlen, "tttttt", uid, email,
                display_name, profile_json, now, now);
    if (rc == LX_OK && changes == 0)
        rc = sq_run(s, SQ_USER_LOGIN, "user", NULL, err, errlen, "ttt", uid, email, now);
    rc = sq_finish(s, rc, err, errlen);
    if (rc == LX_OK && is_created != NULL)
        *is_created = changes > 0;
    return rc;
}

static int sq_user_get(storage_conn *c, const char *uid, storage_user *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof(*u));
    return sq_user_read(sq_of(c), uid, u, err, errlen);
}

static int sq_user_update(storage_conn *c, const char *uid, const char *email, const char *now,
                          storage_merge_fn merge, void *arg, storage_user *u, char *err,
                          size_t errlen)
{
    sqlite_conn *s = sq_of(c);
    storage_user old = {0};
    char *new_profile = NULL, *new_name = NULL;
    int rc;

    if (u != NULL)
        memset(u, 0, sizeof(*u));
    rc = sq_begin(s, 1, err, errlen);
    if (rc != LX_OK)
        return rc;
    rc = sq_user_read(s, uid, &old, err, errlen);
    if (rc == LX_ENOENT) {
        rc = sq_run(s, SQ_USER_INSERT, "user", NULL, err, errlen, "tttttt", uid, email, NULL, NULL,
                    now, "");
        if (rc == LX_OK)
            rc = sq_user_read(s, uid, &old, err, errlen);
    }
    if (rc != LX_OK)
        goto done;
    rc = merge(arg, old.profile_json, old.display_name, &new_profile, &new_name, err, errlen);
    if (rc != LX_OK)
        goto done;
    rc = sq_run(s, SQ_USER_SET, "user", NULL, err, errlen, "ttttt", uid,
                new_profile != NULL ? new_profile : old.profile_json, new_name, email, now);
    if (rc == LX_OK && u != NULL)
        rc = sq_user_read(s, uid, u, err, errlen);

done:
    rc = sq_finish(s, rc, err, errlen);
    if (rc != LX_OK && u != NULL)
        storage_user_clear(u);
    storage_user_clear(&old);
    free(new_profile);
    free(new_name);
    return rc;
}

/* Every value of column 0 of a prepared and bound statement, as strings. */
static int sq_strings(sqlite_conn *s, sqlite3_stmt *st, char ***out, size_t *n, char *err,
                      size_t errlen)
{
    char **v = NULL;
    size_t n_v = 0, cap = 0;
    int src, rc = LX_OK;

    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (sq_grow((void **)&v, &cap, n_v, sizeof(char *)) != LX_OK ||
            (v[n_v] = sq_col(st, 0)) == NULL) {
            rc = sq_nomem(err, errlen);
            break;
        }
        n_v++;
    }
    if (rc == LX_OK && src != SQLITE_DONE)
        rc = sq_error(s, src, "read", err, errlen);
    if (rc != LX_OK) {
        storage_strv_free(v, n_v);
        return rc;
    }
    *out = v;
    *n = n_v;
    return LX_OK;
}

static int sq_user_delete(storage_conn *c, const char *uid, char ***doc_ids, size_t *n_docs,
                          char *err, size_t errlen)
{
    static const enum sq_id deletes[] = {SQ_USER_DEL_DOCS,     SQ_USER_DEL_FEEDBACK,
                                         SQ_USER_DEL_ACTIVITY, SQ_USER_DEL_ITEMS,
                                         SQ_USER_DEL_RECORDS,  SQ_USER_DEL};
    sqlite_conn *s = sq_of(c);
    sqlite3_stmt *st = NULL;
    char **ids = NULL;
    size_t n_ids = 0;
    int rc, src;

    if (doc_ids != NULL)
        *doc_ids = NULL;
    if (n_docs != NULL)
        *n_docs = 0;
    rc = sq_begin(s, 1, err, errlen);
    if (rc != LX_OK)
        return rc;
    rc = sq_prep(s, SQ_USER_DOC_IDS, &st, err, errlen);
    if (rc != LX_OK)
        goto done;
    src = sq_bind(st, "t", uid);
    if (src == SQLITE_OK)
        rc = sq_strings(s, st, &ids, &n_ids, err, errlen);
    else
        rc = sq_error(s, src, "user documents", err, errlen);
    sq_end(st);
    /* The documents' text and passages go by ON DELETE CASCADE (and the
     * search index with them, by trigger); record items likewise, but are
     * deleted explicitly all the same. */
    for (size_t i = 0; rc == LX_OK && i < sizeof(deletes) / sizeof(deletes[0]); i++)
        rc = sq_run(s, deletes[i], "delete user", NULL, err, errlen, "t", uid);

done:
    rc = sq_finish(s, rc, err, errlen);
    if (rc != LX_OK || doc_ids == NULL) {
        storage_strv_free(ids, n_ids);
        return rc;
    }
    *doc_ids = ids;
    if (n_docs != NULL)
        *n_docs = n_ids;
    return LX_OK;
}

static int sq_user_page(storage_conn *c, const char *after_uid, int limit, storage_user **out,
                        size_t *n, int *has_more, char *err, size_t errlen)
{
    sqlite_conn *s = sq_of(c);
    sqlite3_stmt *st = NULL;
    storage_user *v = NULL;
    size_t n_v = 0, cap = 0;
    int rc, src, more = 0;

    *out = NULL;
    *n = 0;
    if (has_more != NULL)
        *has_more = 0;
    if (limit <= 0)
        return LX_OK;
    rc = sq_prep(s, SQ_USER_PAGE, &st, err, errlen);
    if (rc != LX_OK)
        return rc;
    /* One row more than asked tells whether more follow. */
    src = sq_bind(st, "tn", after_uid != NULL ? after_uid : "", limit + 1);
    while ((src == SQLITE_OK || src == SQLITE_ROW) && (src = sqlite3_step(st)) == SQLITE_ROW) {
        if (n_v == (size_t)limit) {
            more = 1;
            src = SQLITE_DONE;
            break;
        }
        if (sq_grow((void **)&v, &cap, n_v, sizeof(*v)) != LX_OK ||
            sq_user_row(st, &v[n_v]) != LX_OK) {
            rc = sq_nomem(err, errlen);
            break;
        }
        n_v++;
    }
    if (rc == LX_OK && src != SQLITE_DONE)
        rc = sq_error(s, src, "users", err, errlen);
    sq_end(st);
    if (rc != LX_OK) {
        for (size_t i = 0; i < n_v; i++)
            storage_user_clear(&v[i]);
        free(v);
        return rc;
    }
    *out = v;
    *n = n_v;
    if (has_more != NULL)
        *has_more = more;
    return LX_OK;
}

/* ------------------------------------------------------------------------ */
/* Documents                                                                */

/* Fills *d from a row of SQ_DOC_COLS (text stays NULL). */
static int sq_doc_row(sqlite3_stmt *st, storage_doc *d)
{
    char **strs[] = {&d->id,        &d->user_id,    &d->name,      &d->original_filename,
                     &d->file_type, &d->mime_type,  &d->status,    &d->error,
                     &d->sha256,    &d->created_at, &d->updated_at};
    int is_ok = 1;

    for (int i = 0; i < (int)(sizeof(strs) / sizeof(strs[0])); i++)
        if ((*strs[i] = sq_col(st, i)) == NULL)
            is_ok = 0;
    d->size = sqlite3_column_int64(st, 11);
    d->content_length = sqlite3_column_int64(st, 12);
    d->page_count = sqlite3_column_int64(st, 13);
    if (!is_ok) {
        storage_doc_clear(d);
        return LX_ENOMEM;
    }
    return LX_OK;
}

static int sq_doc_create(storage_conn *c, const storage_doc *d, const void *bytes, size_t len,
                         char *err, size_t errlen)
{
    sqlite_conn *s = sq_of(c);
    int rc;

    if (bytes != NULL || len != 0) {
        sq_errf(err, errlen, "sqlite: file bytes are kept on disk, not in the database");
        return LX_EINVAL;
    }
    rc = sq_begin(s, 1, err, errlen);
    if (rc != LX_OK)
        return rc;
    rc =
        sq_run(s, SQ_DOC_INSERT, "document", NULL, err, errlen, "tttttttttttiii", d->id, d->user_id,
               d->name, d->original_filename, d->file_type, d->mime_type, d->status, d->error,
               d->sha256, d->created_at, d->updated_at, d->size, d->content_length, d->page_count);
    if (rc == LX_EEXIST)
        sq_errf(err, errlen, "document id is taken");
    return sq_finish(s, rc, err, errlen);
}

static int sq_doc_list(storage_conn *c, const char *uid, storage_doc **docs, size_t *n, char *err,
                       size_t errlen)
{
    sqlite_conn *s = sq_of(c);
    sqlite3_stmt *st = NULL;
    storage_doc *v = NULL;
    size_t n_v = 0, cap = 0;
    int rc, src;

    *docs = NULL;
    *n = 0;
    rc = sq_prep(s, SQ_DOC_LIST, &st, err, errlen);
    if (rc != LX_OK)
        return rc;
    src = sq_bind(st, "t", uid);
    while ((src == SQLITE_OK || src == SQLITE_ROW) && (src = sqlite3_step(st)) == SQLITE_ROW) {
        if (sq_grow((void **)&v, &cap, n_v, sizeof(*v)) != LX_OK ||
            sq_doc_row(st, &v[n_v]) != LX_OK) {
            rc = sq_nomem(err, errlen);
            break;
        }
        n_v++;
    }
    if (rc == LX_OK && src != SQLITE_DONE)
        rc = sq_error(s, src, "documents", err, errlen);
    sq_end(st);
    if (rc != LX_OK) {
        storage_docs_free(v, n_v);
        return rc;
    }
    *docs = v;
    *n = n_v;
    return LX_OK;
}

static int sq_doc_get(storage_conn *c, const char *uid, const char *id, int with_text,
                      storage_doc *d, char *err, size_t errlen)
{
    sqlite_conn *s = sq_of(c);
    sqlite3_stmt *st = NULL;
    int rc, src;

    memset(d, 0, sizeof(*d));
    rc = sq_begin(s, 0, err, errlen);
    if (rc != LX_OK)
        return rc;
    rc = sq_prep(s, SQ_DOC_GET, &st, err, errlen);
    if (rc != LX_OK)
        goto done;
    src = sq_bind(st, "tt", id, uid);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        rc = sq_doc_row(st, d);
        if (rc != LX_OK)
            sq_nomem(err, errlen);
    } else if (src == SQLITE_DONE) {
        sq_errf(err, errlen, "no such document");
        rc = LX_ENOENT;
    } else {
        rc = sq_error(s, src, "document", err, errlen);
    }
    sq_end(st);
    if (rc != LX_OK || !with_text)
        goto done;
    rc = sq_prep(s, SQ_DOC_TEXT, &st, err, errlen);
    if (rc != LX_OK)
        goto done;
    src = sq_bind(st, "t", id);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    if (src == SQLITE_ROW || src == SQLITE_DONE) {
        d->text = src == SQLITE_ROW ? sq_col(st, 0) : strdup("");
        if (d->text == NULL)
            rc = sq_nomem(err, errlen);
    } else {
        rc = sq_error(s, src, "document text", err, errlen);
    }
    sq_end(st);

done:
    rc = sq_finish(s, rc, err, errlen);
    if (rc != LX_OK)
        storage_doc_clear(d);
    return rc;
}

static int sq_doc_delete(storage_conn *c, const char *uid, const char *id, char *err, size_t errlen)
{
    sqlite_conn *s = sq_of(c);
    int changes = 0;
    int rc = sq_begin(s, 1, err, errlen);

    if (rc != LX_OK)
        return rc;
    rc = sq_run(s, SQ_DOC_DELETE, "delete document", &changes, err, errlen, "tt", id, uid);
    if (rc == LX_OK && changes == 0) {
        sq_errf(err, errlen, "no such document");
        rc = LX_ENOENT;
    }
    return sq_finish(s, rc, err, errlen);
}

static int sq_doc_set_status(storage_conn *c, const char *id, const char *status, const char *error,
                             const char *now, char *err, size_t errlen)
{
    sqlite_conn *s = sq_of(c);
    int changes = 0;
    int rc = sq_begin(s, 1, err, errlen);

    if (rc != LX_OK)
        return rc;
    rc = sq_run(s, SQ_DOC_STATUS, "document status", &changes, err, errlen, "tttt", id, status,
                error, now);
    if (rc == LX_OK && changes == 0) {
        sq_errf(err, errlen, "no such document");
        rc = LX_ENOENT;
    }
    return sq_finish(s, rc, err, errlen);
}

static int sq_doc_set_text(storage_conn *c, const char *id, const char *text, size_t text_len,
                           int64_t page_count, const char *const *passages, size_t n_passages,
                           const char *now, char *err, size_t errlen)
{
    sqlite_conn *s = sq_of(c);
    sqlite3_stmt *st = NULL;
    int changes = 0, rc, src;

    rc = sq_begin(s, 1, err, errlen);
    if (rc != LX_OK)
        return rc;
    rc = sq_run(s, SQ_DOC_PROCESSED, "document", &changes, err, errlen, "tiit", id,
                (int64_t)text_len, page_count, now);
    if (rc == LX_OK && changes == 0) {
        sq_errf(err, errlen, "no such document");
        rc = LX_ENOENT;
    }
    if (rc != LX_OK)
        goto done;

    rc = sq_prep(s, SQ_TEXT_PUT, &st, err, errlen);
    if (rc != LX_OK)
        goto done;
    src = sq_bind(st, "t", id);
    if (src == SQLITE_OK)
        src = sqlite3_bind_text64(st, 2, text != NULL ? text : "", text != NULL ? text_len : 0,
                                  SQLITE_STATIC, SQLITE_UTF8);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        rc = sq_error(s, src, "document text", err, errlen);
    sq_end(st);
    if (rc != LX_OK)
        goto done;

    rc = sq_run(s, SQ_PASSAGES_CLEAR, "passages", NULL, err, errlen, "t", id);
    for (size_t i = 0; rc == LX_OK && i < n_passages; i++)
        rc = sq_run(s, SQ_PASSAGE_INSERT, "passage", NULL, err, errlen, "tit", id, (int64_t)i,
                    passages[i] != NULL ? passages[i] : "");

done:
    return sq_finish(s, rc, err, errlen);
}

static int sq_doc_read(storage_conn *c, const char *uid, const char *id, int64_t offset, void *buf,
                       size_t cap, size_t *n, char *err, size_t errlen)
{
    int rc;

    *n = 0;
    rc = sq_doc_owned(sq_of(c), uid, id, err, errlen);
    if (rc != LX_OK)
        return rc;
    sq_errf(err, errlen, "sqlite: file bytes are kept on disk, not in the database");
    return LX_EINVAL;
}

static int sq_doc_stale(storage_conn *c, const char *before, char ***ids, size_t *n, char *err,
                        size_t errlen)
{
    sqlite_conn *s = sq_of(c);
    sqlite3_stmt *st = NULL;
    int rc, src;

    *ids = NULL;
    *n = 0;
    rc = sq_prep(s, SQ_DOC_STALE, &st, err, errlen);
    if (rc != LX_OK)
        return rc;
    src = sq_bind(st, "t", before);
    if (src == SQLITE_OK)
        rc = sq_strings(s, st, ids, n, err, errlen);
    else
        rc = sq_error(s, src, "stale documents", err, errlen);
    sq_end(st);
    return rc;
}

static int sq_doc_all_ids(storage_conn *c, char ***ids, char ***uids, size_t *n, char *err,
                          size_t errlen)
{
    sqlite_conn *s = sq_of(c);
    sqlite3_stmt *st = NULL;
    char **vi = NULL, **vu = NULL;
    size_t n_v = 0, cap_i = 0, cap_u = 0;
    int rc, src;

    *ids = NULL;
    *uids = NULL;
    *n = 0;
    rc = sq_prep(s, SQ_DOC_ALL, &st, err, errlen);
    if (rc != LX_OK)
        return rc;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (sq_grow((void **)&vi, &cap_i, n_v, sizeof(char *)) != LX_OK ||
            sq_grow((void **)&vu, &cap_u, n_v, sizeof(char *)) != LX_OK) {
            rc = sq_nomem(err, errlen);
            break;
        }
        vi[n_v] = sq_col(st, 0);
        vu[n_v] = sq_col(st, 1);
        n_v++;
        if (vi[n_v - 1] == NULL || vu[n_v - 1] == NULL) {
            rc = sq_nomem(err, errlen);
            break;
        }
    }
    if (rc == LX_OK && src != SQLITE_DONE)
        rc = sq_error(s, src, "documents", err, errlen);
    sq_end(st);
    if (rc != LX_OK) {
        storage_strv_free(vi, n_v);
        storage_strv_free(vu, n_v);
        return rc;
    }
    *ids = vi;
    *uids = vu;
    *n = n_v;
    return LX_OK;
}

/* ------------------------------------------------------------------------ */
/* Passage search                                                           */

/* Reads passages (seq, [score,] text) until DONE. */
static int sq_passage_rows(sqlite_conn *s, sqlite3_stmt *st, int has_score, storage_passage **out,
                           size_t *n, char *err, size_t errlen)
{
    storage_passage *v = NULL;
    size_t n_v = 0, cap = 0;
    int src, rc = LX_OK;

    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (sq_grow((void **)&v, &cap, n_v, sizeof(*v)) != LX_OK) {
            rc = sq_nomem(err, errlen);
            break;
        }
        v[n_v].seq = sqlite3_column_int64(st, 0);
        v[n_v].score = has_score ? sqlite3_column_double(st, 1) : 0.0;
        v[n_v].text = sq_col(st, has_score ? 2 : 1);
        if (v[n_v].text == NULL) {
            rc = sq_nomem(err, errlen);
            break;
        }
        n_v++;
    }
    if (rc == LX_OK && src != SQLITE_DONE)
        rc = sq_error(s, src, "passages", err, errlen);
    if (rc != LX_OK) {
        storage_passages_free(v, n_v);
        return rc;
    }
    *out = v;
    *n = n_v;
    return LX_OK;
}

/* The FTS5 query of a person's words: "w1" OR "w2" ... (words hold only
 * letters and digits, so the quotes cannot be escaped from). NULL when
 * there are no words (*rc LX_OK) or out of memory (*rc LX_ENOMEM). */
static char *sq_fts_query(const char *query, int *rc)
{
    char **words = NULL;
    size_t n_words = 0, len = 1, at = 0;
    char *q;

    *rc = storage_query_words(query, &words, &n_words);
    if (*rc != LX_OK || n_words == 0)
        return NULL;
    for (size_t i = 0; i < n_words; i++)
        len += strlen(words[i]) + 2 + 4;
    q = malloc(len);
    if (q == NULL) {
        *rc = LX_ENOMEM;
    } else {
        for (size_t i = 0; i < n_words; i++)
            at += (size_t)snprintf(q + at, len - at, "%s\"%s\"", i > 0 ? " OR " : "", words[i]);
    }
    storage_strv_free(words, n_words);
    return q;
}

static int sq_doc_search(storage_conn *c, const char *uid, const char *id, const char *query,
                         int limit, storage_passage **out, size_t *n, char *err, size_t errlen)
{
    sqlite_conn *s = sq_of(c);
    sqlite3_stmt *st = NULL;
    char *fts;
    int rc, src;

    *out = NULL;
    *n = 0;
    fts = sq_fts_query(query, &rc);
    if (rc != LX_OK)
        return sq_nomem(err, errlen);
    rc = sq_begin(s, 0, err, errlen);
    if (rc != LX_OK)
        goto out;
    rc = sq_doc_owned(s, uid, id, err, errlen);
    if (rc != LX_OK || fts == NULL || limit <= 0)
        goto done;
    rc = sq_prep(s, SQ_SEARCH, &st, err, errlen);
    if (rc != LX_OK)
        goto done;
    src = sq_bind(st, "tttn", fts, id, uid, limit);
    if (src == SQLITE_OK)
        rc = sq_passage_rows(s, st, 1, out, n, err, errlen);
    else
        rc = sq_error(s, src, "search", err, errlen);
    sq_end(st);

done:
    rc = sq_finish(s, rc, err, errlen);
    if (rc != LX_OK) {
        storage_passages_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
out:
    free(fts);
    return rc;
}

static int sq_doc_passages(storage_conn *c, const char *uid, const char *id, int64_t from,
                           int count, storage_passage **out, size_t *n, char *err, size_t errlen)
{
    sqlite_conn *s = sq_of(c);
    sqlite3_stmt *st = NULL;
    int rc, src;

    *out = NULL;
    *n = 0;
    rc = sq_begin(s, 0, err, errlen);
    if (rc != LX_OK)
        return rc;
    rc = sq_doc_owned(s, uid, id, err, errlen);
    if (rc != LX_OK || count <= 0)
        goto done;
    rc = sq_prep(s, SQ_PASSAGES, &st, err, errlen);
    if (rc != LX_OK)
        goto done;
    src = sq_bind(st, "ttii", id, uid, from, from + (int64_t)count);
    if (src == SQLITE_OK)
        rc = sq_passage_rows(s, st, 0, out, n, err, errlen);
    else
        rc = sq_error(s, src, "passages", err, errlen);
    sq_end(st);

done:
    rc = sq_finish(s, rc, err, errlen);
    if (rc != LX_OK) {
        storage_passages_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Feedback and administration                                              */

static int sq_feedback_create(storage_conn *c, const storage_feedback *f, char *err, size_t errlen)
{
    sqlite_conn *s = sq_of(c);
    int rc = sq_begin(s, 1, err, errlen);

    if (rc != LX_OK)
        return rc;
    rc = sq_run(s, SQ_FB_INSERT, "feedback", NULL, err, errlen, "tttttttt", f->id, f->user_id,
                f->email, f->type, f->description, f->browser_info, f->status, f->created_at);
    return sq_finish(s, rc, err, errlen);
}

static int sq_feedback_list(storage_conn *c, const char *status, const char *type, int limit,
                            int offset, storage_feedback **out, size_t *n, int64_t *total,
                            char *err, size_t errlen)
{
    sqlite_conn *s = sq_of(c);
    sqlite3_stmt *st = NULL;
    storage_feedback *v = NULL;
    size_t n_v = 0, cap = 0;
    int64_t count = 0;
    int rc, src;

    *out = NULL;
    *n = 0;
    if (total != NULL)
        *total = 0;
    rc = sq_begin(s, 0, err, errlen);
    if (rc != LX_OK)
        return rc;
    rc = sq_prep(s, SQ_FB_COUNT, &st, err, errlen);
    if (rc != LX_OK)
        goto done;
    src = sq_bind(st, "tt", status, type);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        count = sqlite3_column_int64(st, 0);
    else
        rc = sq_error(s, src, "feedback", err, errlen);
    sq_end(st);
    if (rc != LX_OK)
        goto done;

    rc = sq_prep(s, SQ_FB_LIST, &st, err, errlen);
    if (rc != LX_OK)
        goto done;
    src = sq_bind(st, "ttnn", status, type, sq_limit(limit), offset > 0 ? offset : 0);
    while ((src == SQLITE_OK || src == SQLITE_ROW) && (src = sqlite3_step(st)) == SQLITE_ROW) {
        storage_feedback *f;

        if (sq_grow((void **)&v, &cap, n_v, sizeof(*v)) != LX_OK) {
            rc = sq_nomem(err, errlen);
            break;
        }
        f = &v[n_v++];
        f->id = sq_col(st, 0);
        f->user_id = sq_col(st, 1);
        f->email = sq_col(st, 2);
        f->type = sq_col(st, 3);
        f->description = sq_col(st, 4);
        f->browser_info = sq_col(st, 5);
        f->status = sq_col(st, 6);
        f->created_at = sq_col(st, 7);
        if (f->id == NULL || f->user_id == NULL || f->email == NULL || f->type == NULL ||
            f->description == NULL || f->browser_info == NULL || f->status == NULL ||
            f->created_at == NULL) {
            rc = sq_nomem(err, errlen);
            break;
        }
    }
    if (rc == LX_OK && src != SQLITE_DONE)
        rc = sq_error(s, src, "feedback", err, errlen);
    sq_end(st);

done:
    rc = sq_finish(s, rc, err, errlen);
    if (rc != LX_OK) {
        storage_feedback_free(v, n_v);
        return rc;
    }
    *out = v;
    *n = n_v;
    if (total != NULL)
        *total = count;
    return LX_OK;
}

static int sq_stats_get(storage_conn *c, storage_stats *out, char *err, size_t errlen)
{
    sqlite_conn *s = sq_of(c);
    sqlite3_stmt *st = NULL;
    int64_t *fields[] = {&out->users_total,      &out->users_with_documents,
                         &out->docs_total,       &out->docs_processed,
                         &out->docs_processing,  &out->docs_failed,
                         &out->docs_pending,     &out->fb_total,
                         &out->fb_new,           &out->fb_reviewed,
                         &out->fb_resolved,      &out->fb_bug,
                         &out->fb_accessibility, &out->fb_suggestion,
                         &out->fb_other};
    int rc, src;

    memset(out, 0, sizeof(*out));
    rc = sq_prep(s, SQ_STATS, &st, err, errlen);
    if (rc != LX_OK)
        return rc;
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        for (int i = 0; i < (int)(sizeof(fields) / sizeof(fields[0])); i++)
            *fields[i] = sqlite3_column_int64(st, i);
    } else {
        rc = sq_error(s, src, "stats", err, errlen);
    }
    sq_end(st);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Activity and progress                                                    */

static int sq_activity_add(storage_conn *c, const storage_activity *a, char *err, size_t errlen)
{
    sqlite_conn *s = sq_of(c);
    int rc = sq_begin(s, 1, err, errlen);

    if (rc != LX_OK)
        return rc;
    rc = sq_run(s, SQ_ACT_INSERT, "activity", NULL, err, errlen, "ttiddtt", a->uid, a->kind,
                a->points, a->score, a->max_score, a->day, a->now);
    return sq_finish(s, rc, err, errlen);
}

static int sq_progress_get(storage_conn *c, const char *uid, storage_progress *p, char *err,
                           size_t errlen)
{
    sqlite_conn *s = sq_of(c);
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    int rc, src;

    memset(p, 0, sizeof(*p));
    rc = sq_begin(s, 0, err, errlen);
    if (rc != LX_OK)
        return rc;

    rc = sq_prep(s, SQ_PROG_DOCS, &st, err, errlen);
    if (rc != LX_OK)
        goto done;
    src = sq_bind(st, "t", uid);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        p->documents = sqlite3_column_int64(st, 0);
    else
        rc = sq_error(s, src, "progress", err, errlen);
    sq_end(st);
    if (rc != LX_OK)
        goto done;

    rc = sq_prep(s, SQ_PROG_KINDS, &st, err, errlen);
    if (rc != LX_OK)
        goto done;
    src = sq_bind(st, "t", uid);
    while ((src == SQLITE_OK || src == SQLITE_ROW) && (src = sqlite3_step(st)) == SQLITE_ROW) {
        storage_kind_count *k;

        if (sq_grow((void **)&p->kinds, &cap, p->n_kinds, sizeof(*k)) != LX_OK) {
            rc = sq_nomem(err, errlen);
            break;
        }
        k = &p->kinds[p->n_kinds++];
        k->kind = sq_col(st, 0);
        k->count = sqlite3_column_int64(st, 1);
        k->points = sqlite3_column_int64(st, 2);
        k->score = sqlite3_column_double(st, 3);
        k->max_score = sqlite3_column_double(st, 4);
        k->best = sqlite3_column_double(st, 5);
        p->points += k->points;
        if (k->kind == NULL) {
            rc = sq_nomem(err, errlen);
            break;
        }
    }
    if (rc == LX_OK && src != SQLITE_DONE)
        rc = sq_error(s, src, "progress", err, errlen);
    sq_end(st);
    if (rc != LX_OK)
        goto done;

    rc = sq_prep(s, SQ_PROG_DAYS, &st, err, errlen);
    if (rc != LX_OK)
        goto done;
    src = sq_bind(st, "t", uid);
    if (src == SQLITE_OK)
        rc = sq_strings(s, st, &p->days, &p->n_days, err, errlen);
    else
        rc = sq_error(s, src, "progress", err, errlen);
    sq_end(st);

done:
    rc = sq_finish(s, rc, err, errlen);
    if (rc != LX_OK)
        storage_progress_clear(p);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Records                                                                  */

/* Fills *r from a row (key, json, n_items, created_at, updated_at). */
static int sq_rec_row(sqlite3_stmt *st, storage_rec *r)
{
    r->key = sq_col(st, 0);
    r->json = sq_col(st, 1);
    r->seq = sqlite3_column_int64(st, 2);
    r->created_at = sq_col(st, 3);
    r->updated_at = sq_col(st, 4);
    if (r->key == NULL || r->json == NULL || r->created_at == NULL || r->updated_at == NULL) {
        storage_rec_clear(r);
        return LX_ENOMEM;
    }
    return LX_OK;
}

static int sq_rec_read(sqlite_conn *s, const char *uid, const char *kind, const char *key,
                       storage_rec *r, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sq_prep(s, SQ_REC_GET, &st, err, errlen);
    int src;

    if (rc != LX_OK)
        return rc;
    src = sq_bind(st, "ttt", uid, kind, key);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        rc = r != NULL ? sq_rec_row(st, r) : LX_OK;
        if (rc != LX_OK)
            sq_nomem(err, errlen);
    } else if (src == SQLITE_DONE) {
        sq_errf(err, errlen, "no such record");
        rc = LX_ENOENT;
    } else {
        rc = sq_error(s, src, "record", err, errlen);
    }
    sq_end(st);
    return rc;
}

static int sq_rec_put(storage_conn *c, const char *uid, const char *kind, const char *key,
                      const char *json, const char *now, char *err, size_t errlen)
{
    sqlite_conn *s = sq_of(c);
    int rc = sq_begin(s, 1, err, errlen);

    if (rc != LX_OK)
        return rc;
    rc = sq_run(s, SQ_REC_PUT, "record", NULL, err, errlen, "ttttt", uid, kind, key, json, now);
    return sq_finish(s, rc, err, errlen);
}

static int sq_rec_get(storage_conn *c, const char *uid, const char *kind, const char *key,
                      storage_rec *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof(*r));
    return sq_rec_read(sq_of(c), uid, kind, key, r, err, errlen);
}

static int sq_rec_append(storage_conn *c, const char *uid, const char *kind, const char *key,
                         const char *json, const char *now, int64_t *seq, char *err, size_t errlen)
{
    sqlite_conn *s = sq_of(c);
    storage_rec r = {0};
    int changes = 0;
    int rc = sq_begin(s, 1, err, errlen);

    if (rc != LX_OK)
        return rc;
    /* n_items grows by one under the write lock: it is the new item's seq. */
    rc = sq_run(s, SQ_REC_BUMP, "record", &changes, err, errlen, "tttt", uid, kind, key, now);
    if (rc == LX_OK && changes == 0) {
        sq_errf(err, errlen, "no such record");
        rc = LX_ENOENT;
    }
    if (rc == LX_OK)
        rc = sq_rec_read(s, uid, kind, key, &r, err, errlen);
    if (rc == LX_OK)
        rc = sq_run(s, SQ_ITEM_INSERT, "record item", NULL, err, errlen, "tttitt", uid, kind, key,
                    r.seq, json, now);
    rc = sq_finish(s, rc, err, errlen);
    if (rc == LX_OK && seq != NULL)
        *seq = r.seq;
    storage_rec_clear(&r);
    return rc;
}

static int sq_rec_items(storage_conn *c, const char *uid, const char *kind, const char *key,
                        int64_t after_seq, int last_n, storage_rec **out, size_t *n, char *err,
                        size_t errlen)
{
    sqlite_conn *s = sq_of(c);
    sqlite3_stmt *st = NULL;
    storage_rec *v = NULL;
    size_t n_v = 0, cap = 0;
    int rc, src;

    *out = NULL;
    *n = 0;
    rc = sq_begin(s, 0, err, errlen);
    if (rc != LX_OK)
        return rc;
    rc = sq_rec_read(s, uid, kind, key, NULL, err, errlen);
    if (rc != LX_OK)
        goto done;
    rc = sq_prep(s, last_n > 0 ? SQ_ITEMS_LAST : SQ_ITEMS, &st, err, errlen);
    if (rc != LX_OK)
        goto done;
    src = last_n > 0 ? sq_bind(st, "tttin", uid, kind, key, after_seq, last_n)
                     : sq_bind(st, "ttti", uid, kind, key, after_seq);
    while ((src == SQLITE_OK || src == SQLITE_ROW) && (src = sqlite3_step(st)) == SQLITE_ROW) {
        storage_rec *r;

        if (sq_grow((void **)&v, &cap, n_v, sizeof(*v)) != LX_OK) {
            rc = sq_nomem(err, errlen);
            break;
        }
        r = &v[n_v++];
        r->key = strdup(key);
        r->seq = sqlite3_column_int64(st, 0);
        r->json = sq_col(st, 1);
        r->created_at = sq_col(st, 2);
        r->updated_at = sq_col(st, 2);
        if (r->key == NULL || r->json == NULL || r->created_at == NULL || r->updated_at == NULL) {
            rc = sq_nomem(err, errlen);
            break;
        }
    }
    if (rc == LX_OK && src != SQLITE_DONE)
        rc = sq_error(s, src, "record items", err, errlen);
    sq_end(st);

done:
    rc = sq_finish(s, rc, err, errlen);
    if (rc != LX_OK) {
        storage_recs_free(v, n_v);
        return rc;
    }
    *out = v;
    *n = n_v;
    return LX_OK;
}

static int sq_rec_list(storage_conn *c, const char *uid, const char *kind, int limit,
                       storage_rec **out, size_t *n, char *err, size_t errlen)
{
    sqlite_conn *s = sq_of(c);
    sqlite3_stmt *st = NULL;
    storage_rec *v = NULL;
    size_t n_v = 0, cap = 0;
    int rc, src;

    *out = NULL;
    *n = 0;
    rc = sq_prep(s, SQ_REC_LIST, &st, err, errlen);
    if (rc != LX_OK)
        return rc;
    src = sq_bind(st, "ttn", uid, kind, sq_limit(limit));
    while ((src == SQLITE_OK || src == SQLITE_ROW) && (src = sqlite3_step(st)) == SQLITE_ROW) {
        if (sq_grow((void **)&v, &cap, n_v, sizeof(*v)) != LX_OK ||
            sq_rec_row(st, &v[n_v]) != LX_OK) {
            rc = sq_nomem(err, errlen);
            break;
        }
        n_v++;
    }
    if (rc == LX_OK && src != SQLITE_DONE)
        rc = sq_error(s, src, "records", err, errlen);
    sq_end(st);
    if (rc != LX_OK) {
        storage_recs_free(v, n_v);
        return rc;
    }
    *out = v;
    *n = n_v;
    return LX_OK;
}

static int sq_rec_delete(storage_conn *c, const char *uid, const char *kind, const char *key,
                         char *err, size_t errlen)
{
    sqlite_conn *s = sq_of(c);
    int changes = 0;
    int rc = sq_begin(s, 1, err, errlen);

    if (rc != LX_OK)
        return rc;
    rc = sq_run(s, SQ_ITEMS_DELETE, "record items", NULL, err, errlen, "ttt", uid, kind, key);
    if (rc == LX_OK)
        rc = sq_run(s, SQ_REC_DELETE, "record", &changes, err, errlen, "ttt", uid, kind, key);
    if (rc == LX_OK && changes == 0) {
        sq_errf(err, errlen, "no such record");
        rc = LX_ENOENT;
    }
    return sq_finish(s, rc, err, errlen);
}

/* ------------------------------------------------------------------------ */

const storage_backend storage_sqlite_backend = {
    .name = "sqlite",
    .stores_bytes = 0,
    .connect = sq_connect,
    .disconnect = sq_disconnect,
    .migrate = sq_migrate,
    .ping = sq_ping,
    .user_init = sq_user_init,
    .user_get = sq_user_get,
    .user_update = sq_user_update,
    .user_delete = sq_user_delete,
    .user_page = sq_user_page,
    .doc_create = sq_doc_create,
    .doc_list = sq_doc_list,
    .doc_get = sq_doc_get,
    .doc_delete = sq_doc_delete,
    .doc_set_status = sq_doc_set_status,
    .doc_set_text = sq_doc_set_text,
    .doc_read = sq_doc_read,
    .doc_stale = sq_doc_stale,
    .doc_all_ids = sq_doc_all_ids,
    .doc_search = sq_doc_search,
    .doc_passages = sq_doc_passages,
    .feedback_create = sq_feedback_create,
    .feedback_list = sq_feedback_list,
    .stats_get = sq_stats_get,
    .activity_add = sq_activity_add,
    .progress_get = sq_progress_get,
    .rec_put = sq_rec_put,
    .rec_get = sq_rec_get,
    .rec_append = sq_rec_append,
    .rec_items = sq_rec_items,
    .rec_list = sq_rec_list,
    .rec_delete = sq_rec_delete,
};
