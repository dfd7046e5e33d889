/*
 * The PostgreSQL backend's statements (store_pg.h): every statement with a
 * value from outside, as a constant with $n parameters. One list makes both
 * the statement numbers (PGS_<NAME>, store_pg.h) and store_pg.c's table, so
 * the two cannot drift apart: X(NAME, number of parameters, SQL).
 * Included by store_pg.h only.
 */
#ifndef STORAGE_STORE_PG_SQL_H
#define STORAGE_STORE_PG_SQL_H

/* Column lists of the statements that read whole rows; the fill functions
 * (store_pg_docs.c, store_pg_users.c) read them in this order. */
#define PG_DOC_COLS                                                                                \
    "d.id, d.user_id, d.name, d.original_filename, d.file_type, d.mime_type, d.status, "           \
    "d.error, d.sha256, d.created_at, d.updated_at, d.size, d.content_length, d.page_count, "      \
    "d.claimed_by, d.lease_until, d.interrupted"
#define PG_USER_COLS "uid, email, display_name, profile_json, created_at, updated_at, last_login"
#define PG_FB_COLS "id, user_id, email, type, description, browser_info, status, created_at"
#define PG_REC_COLS "key, json, n_items, created_at, updated_at"

#define PG_STATEMENTS(X)                                                                           \
    X(PING, 0, "SELECT 1")                                                                         \
    X(MIG_VERSION, 0, "SELECT coalesce(max(version), 0) FROM schema_migrations")                   \
    X(MIG_RECORD, 1,                                                                               \
      "INSERT INTO schema_migrations (version, applied_at) VALUES ($1::integer,"                   \
      " to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))")                  \
    X(USER_INSERT, 5,                                                                              \
      "INSERT INTO users (" PG_USER_COLS ") VALUES ($1::text,"                                     \
      " coalesce($2::text, ''), coalesce($3::text, ''),"                                           \
      " coalesce($4::text, '{}'), $5::text, $5::text, $5::text)"                                   \
      " ON CONFLICT (uid) DO NOTHING")                                                             \
    X(USER_LOGIN, 3,                                                                               \
      "UPDATE users SET email = coalesce($2::text, email), last_login = $3::text"                  \
      " WHERE uid = $1::text")                                                                     \
    X(USER_GET, 1, "SELECT " PG_USER_COLS " FROM users WHERE uid = $1::text")                      \
    X(USER_ENSURE, 3,                                                                              \
      "INSERT INTO users (" PG_USER_COLS ") VALUES ($1::text,"                                     \
      " coalesce($2::text, ''), '', '{}', $3::text, $3::text, '')"                                 \
      " ON CONFLICT (uid) DO NOTHING")                                                             \
    X(USER_CREATE, 4,                                                                              \
      "INSERT INTO users (" PG_USER_COLS ") VALUES ($1::text,"                                     \
      " coalesce($2::text, ''), coalesce($3::text, ''), '{}', $4::text, $4::text, '')"             \
      " ON CONFLICT (uid) DO NOTHING")                                                             \
    X(USER_LOCK, 1,                                                                                \
      "SELECT profile_json, display_name FROM users WHERE uid = $1::text"                          \
      " FOR UPDATE")                                                                               \
    /* A NULL profile or display name from the merge: unchanged. */                                \
    X(USER_WRITE, 5,                                                                               \
      "UPDATE users SET profile_json = coalesce($2::text, profile_json),"                          \
      " display_name = coalesce($3::text, display_name),"                                          \
      " updated_at = $4::text, email = coalesce($5::text, email)"                                  \
      " WHERE uid = $1::text RETURNING " PG_USER_COLS)                                             \
    X(USER_DEL_DOCS, 1, "DELETE FROM documents WHERE user_id = $1::text RETURNING id")             \
    X(USER_DEL_USER, 1, "DELETE FROM users WHERE uid = $1::text")                                  \
    X(USER_DEL_FEEDBACK, 1, "DELETE FROM feedback WHERE user_id = $1::text")                       \
    X(USER_DEL_ACTIVITY, 1, "DELETE FROM activity WHERE uid = $1::text")                           \
    /* record_items go with their records (ON DELETE CASCADE) */                                   \
    X(USER_DEL_RECORDS, 1, "DELETE FROM records WHERE uid = $1::text")                             \
    X(USER_PAGE, 2,                                                                                \
      "SELECT " PG_USER_COLS " FROM users WHERE uid > $1::text"                                    \
      " ORDER BY uid LIMIT $2::bigint")                                                            \
    X(DOC_INSERT, 16,                                                                              \
      "INSERT INTO documents (id, user_id, name, original_filename,"                               \
      " file_type, mime_type, status, error, sha256, created_at, updated_at,"                      \
      " size, content_length, page_count, claimed_by, lease_until)"                                \
      " VALUES ($1::text, $2::text,"                                                               \
      " $3::text, $4::text, $5::text, $6::text, coalesce($7::text, 'uploaded'),"                   \
      " coalesce($8::text, ''), coalesce($9::text, ''),"                                           \
      " $10::text, $11::text, $12::bigint, $13::bigint, $14::bigint,"                              \
      " coalesce($15::text, ''), coalesce($16::text, ''))")                                        \
    X(CHUNK_INSERT, 3,                                                                             \
      "INSERT INTO doc_chunks (doc_id, seq, data)"                                                 \
      " VALUES ($1::text, $2::integer, $3::bytea)")                                                \
    X(DOC_LIST, 1,                                                                                 \
      "SELECT " PG_DOC_COLS " FROM documents d WHERE d.user_id = $1::text"                         \
      " ORDER BY d.created_at DESC, d.id DESC")                                                    \
    X(DOC_GET, 2,                                                                                  \
      "SELECT " PG_DOC_COLS " FROM documents d"                                                    \
      " WHERE d.id = $1::text AND d.user_id = $2::text")                                           \
    X(DOC_GET_TEXT, 2,                                                                             \
      "SELECT " PG_DOC_COLS ", coalesce(t.text, '') FROM documents d"                              \
      " LEFT JOIN doc_texts t ON t.doc_id = d.id"                                                  \
      " WHERE d.id = $1::text AND d.user_id = $2::text")                                           \
    X(DOC_DELETE, 2, "DELETE FROM documents WHERE id = $1::text AND user_id = $2::text")           \
    /* $5: the claim's owner, NULL for none; a final status ends the claim */                      \
    X(DOC_STATUS, 5,                                                                               \
      "UPDATE documents SET status = $2::text,"                                                    \
      " error = coalesce($3::text, ''), updated_at = $4::text,"                                    \
      " claimed_by = CASE WHEN $2::text IN ('uploaded', 'processing')"                             \
      " THEN claimed_by ELSE '' END,"                                                              \
      " lease_until = CASE WHEN $2::text IN ('uploaded', 'processing')"                            \
      " THEN lease_until ELSE '' END"                                                              \
      " WHERE id = $1::text AND ($5::text IS NULL OR (claimed_by = $5::text"                       \
      " AND status IN ('uploaded', 'processing')))")                                               \
    X(DOC_PROCESSED, 5,                                                                            \
      "UPDATE documents SET status = 'processed', error = '',"                                     \
      " content_length = $2::bigint, page_count = $3::bigint,"                                     \
      " updated_at = $4::text, claimed_by = '', lease_until = ''"                                  \
      " WHERE id = $1::text AND ($5::text IS NULL OR (claimed_by = $5::text"                       \
      " AND status IN ('uploaded', 'processing')))")                                               \
    X(TEXT_PUT, 2,                                                                                 \
      "INSERT INTO doc_texts (doc_id, text) VALUES ($1::text, $2::text)"                           \
      " ON CONFLICT (doc_id) DO UPDATE SET text = EXCLUDED.text")                                  \
    X(PASSAGES_DEL, 1, "DELETE FROM passages WHERE doc_id = $1::text")                             \
    X(PASSAGES_PUT, 2,                                                                             \
      "INSERT INTO passages (doc_id, seq, text)"                                                   \
      " SELECT $1::text, p.ord - 1, p.text"                                                        \
      " FROM unnest($2::text[]) WITH ORDINALITY AS p(text, ord)")                                  \
    /* One snapshot: the owner check, the size and the chunks in range                             \
     * ($3..$4); a document with no chunk in range gives one row of NULLs. */                      \
    X(DOC_READ, 4,                                                                                 \
      "SELECT d.size, c.seq, c.data FROM documents d"                                              \
      " LEFT JOIN doc_chunks c ON c.doc_id = d.id"                                                 \
      " AND c.seq BETWEEN $3::integer AND $4::integer"                                             \
      " WHERE d.id = $1::text AND d.user_id = $2::text ORDER BY c.seq")                            \
    /* Assets: the owner check in the same statement (no row: absent). */                          \
    X(ASSET_PUT, 4,                                                                                \
      "INSERT INTO doc_assets (doc_id, name, data)"                                                \
      " SELECT d.id, $3::text, $4::bytea FROM documents d"                                         \
      " WHERE d.id = $1::text AND d.user_id = $2::text"                                            \
      " ON CONFLICT (doc_id, name) DO UPDATE SET data = EXCLUDED.data")                            \
    X(ASSET_READ, 5,                                                                               \
      "SELECT octet_length(a.data)::bigint,"                                                       \
      " substring(a.data FROM ($4::bigint + 1)::integer FOR $5::integer)"                          \
      " FROM documents d JOIN doc_assets a ON a.doc_id = d.id AND a.name = $3::text"               \
      " WHERE d.id = $1::text AND d.user_id = $2::text")                                           \
    /* The claims (store.h, "The extraction queue"): the rows are locked                           \
     * by the inner SELECT and skipped by every other claimer, so each                             \
     * document goes to one; a takeover of one still "processing" counts                           \
     * a cut-off run. */                                                                           \
    X(DOC_CLAIM, 4,                                                                                \
      "UPDATE documents d SET claimed_by = $1::text, lease_until = $3::text,"                      \
      " interrupted = d.interrupted"                                                               \
      " + CASE WHEN d.status = 'processing' THEN 1 ELSE 0 END"                                     \
      " FROM (SELECT id FROM documents WHERE status IN ('uploaded', 'processing')"                 \
      " AND lease_until < $2::text ORDER BY lease_until, id LIMIT $4::bigint"                      \
      " FOR UPDATE SKIP LOCKED) p WHERE d.id = p.id"                                               \
      " RETURNING d.id, d.user_id, d.file_type, d.interrupted")                                    \
    X(DOC_CLAIMABLE, 1,                                                                            \
      "SELECT 1 FROM documents WHERE status IN ('uploaded', 'processing')"                         \
      " AND lease_until < $1::text LIMIT 1")                                                       \
    X(DOC_RENEW, 3,                                                                                \
      "UPDATE documents SET lease_until = $3::text WHERE claimed_by = $1::text"                    \
      " AND id = ANY ($2::text[]) AND status IN ('uploaded', 'processing')")                       \
    X(DOC_START, 3,                                                                                \
      "UPDATE documents SET status = 'processing', error = '', updated_at = $3::text"              \
      " WHERE id = $1::text AND claimed_by = $2::text"                                             \
      " AND status IN ('uploaded', 'processing')")                                                 \
    X(DOC_RELEASE, 3,                                                                              \
      "UPDATE documents SET status = 'uploaded', claimed_by = '', lease_until = $3::text"          \
      " WHERE id = $1::text AND claimed_by = $2::text"                                             \
      " AND status IN ('uploaded', 'processing')")                                                 \
    X(DOC_FAILED_IDS, 1,                                                                           \
      "SELECT id FROM documents WHERE status = 'failed' AND error = $1::text ORDER BY id")         \
    X(DOC_RETRY_FAILED, 3,                                                                         \
      "UPDATE documents SET status = 'uploaded', error = '', claimed_by = '',"                     \
      " lease_until = '', updated_at = $3::text"                                                   \
      " WHERE id = $1::text AND status = 'failed' AND error = $2::text")                           \
    X(DOC_ALL, 0, "SELECT id, user_id FROM documents ORDER BY id")                                 \
    X(DOC_OWNED, 2, "SELECT 1 FROM documents WHERE id = $1::text AND user_id = $2::text")          \
    /* The making of a processed document's assets (store_ops.h). */                               \
    X(DOC_ASSETS_CLAIM, 5,                                                                         \
      "UPDATE documents SET claimed_by = $3::text, lease_until = $5::text"                         \
      " WHERE id = $1::text AND user_id = $2::text AND status = 'processed'"                       \
      " AND (claimed_by IN ('', $3::text) OR lease_until < $4::text)")                             \
    X(DOC_ASSETS_RELEASE, 3,                                                                       \
      "UPDATE documents SET claimed_by = '', lease_until = ''"                                     \
      " WHERE id = $1::text AND user_id = $2::text AND status = 'processed'"                       \
      " AND claimed_by = $3::text")                                                                \
    /* The words ($3, a text[]) each through plainto_tsquery, OR'd together                        \
     * through tsquery's own text form; words that are all stop words drop                         \
     * out, and no word left matches nothing. The document's own passages                         \
     * are taken first (MATERIALIZED, by the primary key) and matched one                          \
     * by one: the GIN index would look the words up in every user's                               \
     * passages (a cost that grows with the whole table) to keep a few of                          \
     * one document's, and ranking reads each match anyway. */                                     \
    X(SEARCH, 4,                                                                                   \
      "WITH w AS (SELECT plainto_tsquery('english'::regconfig, x) AS q"                            \
      " FROM unnest($3::text[]) AS x),"                                                            \
      " q AS (SELECT string_agg('(' || w.q::text || ')', ' | ')::tsquery AS q"                     \
      " FROM w WHERE numnode(w.q) > 0),"                                                           \
      " dp AS MATERIALIZED (SELECT p.seq, p.tsv, p.text"                                           \
      " FROM passages p JOIN documents d ON d.id = p.doc_id"                                       \
      " WHERE d.id = $1::text AND d.user_id = $2::text)"                                           \
      " SELECT dp.seq, ts_rank_cd(dp.tsv, q.q) AS score, dp.text FROM q, dp"                       \
      " WHERE q.q IS NOT NULL AND dp.tsv @@ q.q"                                                   \
      " ORDER BY score DESC, dp.seq LIMIT $4::bigint")                                             \
    X(PASSAGES, 4,                                                                                 \
      "SELECT p.seq, p.text FROM passages p JOIN documents d ON d.id = p.doc_id"                   \
      " WHERE d.id = $1::text AND d.user_id = $2::text"                                            \
      " AND p.seq >= $3::bigint AND p.seq < $3::bigint + $4::bigint"                               \
      " ORDER BY p.seq")                                                                           \
    X(FB_INSERT, 8,                                                                                \
      "INSERT INTO feedback (" PG_FB_COLS ") VALUES ($1::text,"                                    \
      " coalesce($2::text, ''), coalesce($3::text, ''), $4::text, $5::text,"                       \
      " coalesce($6::text, ''), coalesce($7::text, 'new'), $8::text)")                             \
    X(FB_COUNT, 2,                                                                                 \
      "SELECT count(*) FROM feedback WHERE ($1::text IS NULL OR status = $1)"                      \
      " AND ($2::text IS NULL OR type = $2)")                                                      \
    X(FB_LIST, 4,                                                                                  \
      "SELECT " PG_FB_COLS " FROM feedback"                                                        \
      " WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR type = $2)"               \
      " ORDER BY created_at DESC, id DESC LIMIT $3::bigint OFFSET $4::bigint")                     \
    X(STATS, 0,                                                                                    \
      "SELECT (SELECT count(*) FROM users),"                                                       \
      " count(DISTINCT user_id),"                                                                  \
      " count(*), count(*) FILTER (WHERE status = 'processed'),"                                   \
      " count(*) FILTER (WHERE status = 'processing'),"                                            \
      " count(*) FILTER (WHERE status = 'failed'),"                                                \
      " count(*) FILTER (WHERE status = 'uploaded'),"                                              \
      " (SELECT count(*) FROM feedback),"                                                          \
      " (SELECT count(*) FROM feedback WHERE status = 'new'),"                                     \
      " (SELECT count(*) FROM feedback WHERE status = 'reviewed'),"                                \
      " (SELECT count(*) FROM feedback WHERE status = 'resolved'),"                                \
      " (SELECT count(*) FROM feedback WHERE type = 'bug'),"                                       \
      " (SELECT count(*) FROM feedback WHERE type = 'accessibility'),"                             \
      " (SELECT count(*) FROM feedback WHERE type = 'suggestion'),"                                \
      " (SELECT count(*) FROM feedback WHERE type = 'other')"                                      \
      " FROM documents")                                                                           \
    X(ACT_INSERT, 7,                                                                               \
      "INSERT INTO activity (uid, kind, points, score, max_score, day,"                            \
      " created_at) VALUES ($1::text, $2::text, $3::bigint,"                                       \
      " $4::double precision, $5::double precision, $6::text, $7::text)")                          \
    X(PROG_DOCS, 1, "SELECT count(*) FROM documents WHERE user_id = $1::text")                     \
    X(PROG_KINDS, 1,                                                                               \
      "SELECT kind, count(*), sum(points), sum(score), sum(max_score),"                            \
      " coalesce(max(score / max_score) FILTER (WHERE max_score > 0), 0)"                          \
      " FROM activity WHERE uid = $1::text GROUP BY kind ORDER BY kind")                           \
    X(PROG_DAYS, 1,                                                                                \
      "SELECT DISTINCT day FROM activity WHERE uid = $1::text"                                     \
      " ORDER BY day DESC LIMIT 400")                                                              \
    X(REC_PUT, 5,                                                                                  \
      "INSERT INTO records (uid, kind, key, json, n_items, created_at,"                            \
      " updated_at) VALUES ($1::text, $2::text, $3::text, $4::text, 0, $5::text,"                  \
      " $5::text) ON CONFLICT (uid, kind, key)"                                                    \
      " DO UPDATE SET json = EXCLUDED.json, updated_at = EXCLUDED.updated_at")                     \
    X(REC_GET, 3,                                                                                  \
      "SELECT " PG_REC_COLS " FROM records"                                                        \
      " WHERE uid = $1::text AND kind = $2::text AND key = $3::text")                              \
    /* One statement: the record's row lock orders concurrent appends. An                          \
     * absent record makes the item's seq NULL, an error (23502 on                                 \
     * record_items.seq, which pg_check reads as "no such record"), so                             \
     * that a batch's pipeline fails there and is undone. */                                       \
    X(REC_APPEND, 5,                                                                               \
      "WITH r AS (UPDATE records SET n_items = n_items + 1,"                                       \
      " updated_at = $5::text"                                                                     \
      " WHERE uid = $1::text AND kind = $2::text AND key = $3::text"                               \
      " RETURNING n_items)"                                                                        \
      " INSERT INTO record_items (uid, kind, key, seq, json, created_at)"                          \
      " VALUES ($1::text, $2::text, $3::text, (SELECT n_items FROM r), $4::text,"                  \
      " $5::text) RETURNING seq")                                                                  \
    /* REC_APPEND of several items ($4, a text[]) at once: one update of                           \
     * the record's row for all of them, the items' seqs in their order                            \
     * (the last is the new n_items). */                                                           \
    X(REC_APPEND_N, 5,                                                                             \
      "WITH r AS (UPDATE records SET n_items = n_items + cardinality($4::text[]),"                 \
      " updated_at = $5::text"                                                                     \
      " WHERE uid = $1::text AND kind = $2::text AND key = $3::text"                               \
      " RETURNING n_items)"                                                                        \
      " INSERT INTO record_items (uid, kind, key, seq, json, created_at)"                          \
      " SELECT $1::text, $2::text, $3::text,"                                                      \
      " (SELECT n_items FROM r) - cardinality($4::text[]) + j.i, j.json, $5::text"                 \
      " FROM unnest($4::text[]) WITH ORDINALITY AS j(json, i) RETURNING seq")                      \
    /* REC_PUT and then REC_APPEND_N of its items ($6) to the same record                          \
     * (a chat turn: the thread's value and its two turns) as one upsert of                        \
     * the record's row: a new record starts with the items, an existing                           \
     * one keeps its created_at and continues its seqs. */                                         \
    X(REC_PUT_APPEND_N, 6,                                                                         \
      "WITH r AS (INSERT INTO records (uid, kind, key, json, n_items, created_at,"                 \
      " updated_at) VALUES ($1::text, $2::text, $3::text, $4::text,"                               \
      " cardinality($6::text[]), $5::text, $5::text) ON CONFLICT (uid, kind, key)"                 \
      " DO UPDATE SET json = EXCLUDED.json, n_items = records.n_items + EXCLUDED.n_items,"         \
      " updated_at = EXCLUDED.updated_at RETURNING n_items)"                                       \
      " INSERT INTO record_items (uid, kind, key, seq, json, created_at)"                          \
      " SELECT $1::text, $2::text, $3::text,"                                                      \
      " (SELECT n_items FROM r) - cardinality($6::text[]) + j.i, j.json, $5::text"                 \
      " FROM unnest($6::text[]) WITH ORDINALITY AS j(json, i) RETURNING seq")                      \
    /* The record's row (none: absent), then its items in PG_REC_COLS'                             \
     * order (an item's time is both its created_at and updated_at); no                            \
     * item gives one row with NULL items. */                                                      \
    X(REC_ITEMS, 5,                                                                                \
      "SELECT r.key, i.json, i.seq, i.created_at, i.created_at FROM records r"                     \
      " LEFT JOIN LATERAL (SELECT it.seq, it.json, it.created_at"                                  \
      " FROM record_items it WHERE it.uid = r.uid AND it.kind = r.kind"                            \
      " AND it.key = r.key AND it.seq > $4::bigint"                                                \
      " ORDER BY it.seq DESC LIMIT $5::bigint) i ON true"                                          \
      " WHERE r.uid = $1::text AND r.kind = $2::text AND r.key = $3::text"                         \
      " ORDER BY i.seq")                                                                           \
    X(REC_LIST, 3,                                                                                 \
      "SELECT " PG_REC_COLS " FROM records"                                                        \
      " WHERE uid = $1::text AND kind = $2::text"                                                  \
      " ORDER BY updated_at DESC, key LIMIT $3::bigint")                                           \
    X(REC_DELETE, 3,                                                                               \
      "DELETE FROM records WHERE uid = $1::text AND kind = $2::text"                               \
      " AND key = $3::text")

#endif
