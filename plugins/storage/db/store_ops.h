/*
 * THE TABLE OF THE STORE'S OPERATIONS: each is declared here once.
 *
 * No include guard: this file is included several times, each time with
 * STORAGE_OP defined to make something else of every line:
 *
 *   store.h          int storage_NAME PARAMS;          the API (its contract
 *                                                      is the comment here)
 *   store_backend.h  int (*NAME) PARAMS;               the backend's member
 *   store.c          storage_NAME PARAMS { return c->be->NAME ARGS; }
 *                                                      (FRONT PLAIN; with
 *                                                      FRONT CHECKED store.c
 *                                                      writes storage_NAME
 *                                                      itself: checks, then
 *                                                      c->be->NAME)
 *   store_sqlite.h   int storage_sq_NAME PARAMS;       and the backend table
 *   store_pg.h       int storage_pg_NAME PARAMS;       of each backend
 *
 *     STORAGE_OP(NAME, FRONT, PARAMS, ARGS)
 *
 * Adding an operation is therefore: one STORAGE_OP line below with its
 * contract, one body storage_sq_NAME (store_sqlite_*.c), one body
 * storage_pg_NAME (store_pg_*.c), and their tests (tests/unit/
 * test_storage_store.c runs on both backends). The compiler refuses a
 * backend that lacks a body (an undefined symbol), and a body whose
 * parameters differ from the line here. To offer it to other plugins as
 * well, add a member at the end of lx_storage_v1 (storage_v1.h, with the
 * minor it arrives in) and one row of svc_ops.c's storage_svc_ops.
 *
 * The rules of every operation (threads, errors, ownership, time) are
 * store.h's header comment: each BLOCKS, runs on a pool thread with a
 * connection used by one thread at a time, returns LX_OK or a negative
 * LX_E* code with a message in err.
 */

/* clang-format off: it reads "storage_conn *c" in a macro's argument as a
 * product. */

/* ------------------------------------------------------------------------ */
/* Schema                                                                   */

/* Applies every migration newer than the database's version, each in its
 * own transaction, and records it; idempotent (a second call does nothing);
 * safe when several processes start at once (SQLite: BEGIN IMMEDIATE;
 * PostgreSQL: an advisory lock). *version (may be NULL) gets the version
 * now in place. LX_ESTATE with "database schema version N is newer than
 * this lexiaid (M); upgrade lexiaid" when the database is ahead. */
STORAGE_OP(migrate, PLAIN, (storage_conn *c, int *version, char *err, size_t errlen),
           (c, version, err, errlen))

/* A cheap round trip (SELECT 1) for /ready. */
STORAGE_OP(ping, PLAIN, (storage_conn *c, char *err, size_t errlen), (c, err, errlen))

/* ------------------------------------------------------------------------ */
/* Users                                                                    */

/* Creates the user's row when absent (*is_created = 1), else updates email
 * (when non-NULL) and last_login (*is_created = 0). display_name may be
 * NULL. `profile_json` is the initial profile of a new row (a JSON object;
 * NULL means "{}"). */
STORAGE_OP(user_init, PLAIN,
           (storage_conn *c, const char *uid, const char *email, const char *display_name,
            const char *profile_json, const char *now, int *is_created, char *err,
            size_t errlen),
           (c, uid, email, display_name, profile_json, now, is_created, err, errlen))

/* Makes the rows of the users in v[0..n) that have none, in ONE
 * transaction: email and display name as given, the empty profile
 * (defaults), created_at = now, no last login. A row that exists is left
 * exactly as it is. created[i] (created may be NULL) is 1 for each row
 * made, 0 for each that was there. */
STORAGE_OP(user_create, PLAIN,
           (storage_conn *c, const storage_user_new *v, size_t n, const char *now, int *created,
            char *err, size_t errlen),
           (c, v, n, now, created, err, errlen))

/* Fills *u; LX_ENOENT when the user has no row. */
STORAGE_OP(user_get, PLAIN,
           (storage_conn *c, const char *uid, storage_user *u, char *err, size_t errlen),
           (c, uid, u, err, errlen))

/* Read-modify-write of one profile, atomic against every other writer (one
 * transaction with the row locked: SQLite BEGIN IMMEDIATE, PostgreSQL
 * SELECT ... FOR UPDATE). Creates the row first when absent (email may be
 * NULL). merge (storage_merge_fn) runs inside the transaction on this
 * thread; it returns LX_OK with the new values malloc'd (NULL display name:
 * unchanged) or an error, which rolls back and is returned as is (its
 * message in err). On success *u (may be NULL) is the row as written. */
STORAGE_OP(user_update, PLAIN,
           (storage_conn *c, const char *uid, const char *email, const char *now,
            storage_merge_fn merge, void *arg, storage_user *u, char *err, size_t errlen),
           (c, uid, email, now, merge, arg, u, err, errlen))

/* Deletes every row of uid in every table (users, documents and their
 * text, passages and chunks, feedback, activity, records) in one
 * transaction. *doc_ids (may be NULL) gets the ids of the documents that
 * were deleted (malloc'd array of malloc'd strings, *n_docs entries; free
 * with storage_strv_free) so the caller can remove their files AFTER the
 * commit. Deleting a user with no rows is LX_OK. */
STORAGE_OP(user_delete, PLAIN,
           (storage_conn *c, const char *uid, char ***doc_ids, size_t *n_docs, char *err,
            size_t errlen),
           (c, uid, doc_ids, n_docs, err, errlen))

/* Users ordered by uid, after `after_uid` ("" or NULL: from the start), at
 * most limit; *has_more when more follow. malloc'd, free each with
 * storage_user_clear then free(). */
STORAGE_OP(user_page, PLAIN,
           (storage_conn *c, const char *after_uid, int limit, storage_user **out, size_t *n,
            int *has_more, char *err, size_t errlen),
           (c, after_uid, limit, out, n, has_more, err, errlen))

/* ------------------------------------------------------------------------ */
/* Documents                                                                */

/* Inserts the document row d (every string set; status "uploaded", or
 * "processing" when its claimant extracts it at once) and, when the backend
 * stores bytes, its bytes in chunks, and the activity `act` (NULL: none),
 * all in one transaction: either everything is there after a crash or
 * nothing is. With SQLite, bytes must be NULL (the caller keeps the file,
 * files.c); with PostgreSQL bytes/len are the file. LX_EEXIST when d->id
 * is taken. */
STORAGE_OP(doc_create, PLAIN,
           (storage_conn *c, const storage_doc *d, const void *bytes, size_t len,
            const storage_activity *act, char *err, size_t errlen),
           (c, d, bytes, len, act, err, errlen))

/* The user's documents, newest first, without text. *docs is malloc'd
 * (free with storage_docs_free), *n entries; zero documents is LX_OK with
 * *docs NULL. */
STORAGE_OP(doc_list, PLAIN,
           (storage_conn *c, const char *uid, storage_doc **docs, size_t *n, char *err,
            size_t errlen),
           (c, uid, docs, n, err, errlen))

/* One document of uid; with_text also loads d->text ("" when none).
 * LX_ENOENT when absent or another user's. */
STORAGE_OP(doc_get, PLAIN,
           (storage_conn *c, const char *uid, const char *id, int with_text, storage_doc *d,
            char *err, size_t errlen),
           (c, uid, id, with_text, d, err, errlen))

/* Deletes the row, its text, passages and chunks. LX_ENOENT when absent or
 * another user's. The caller removes the file after this returns LX_OK. */
STORAGE_OP(doc_delete, PLAIN,
           (storage_conn *c, const char *uid, const char *id, char *err, size_t errlen),
           (c, uid, id, err, errlen))

/* Sets status (and error: NULL means "") and updated_at; a final status
 * (processed, failed) ends the claim. With owner NULL unconditionally;
 * with an owner only while the document is pending (uploaded or
 * processing) and claimed by owner. LX_ENOENT when the row is gone
 * (deleted meanwhile) or, with an owner, not owner's any more: not an
 * error for the caller to report. */
STORAGE_OP(doc_set_status, PLAIN,
           (storage_conn *c, const char *id, const char *owner, const char *status,
            const char *error, const char *now, char *err, size_t errlen),
           (c, id, owner, status, error, now, err, errlen))

/* Stores the extracted text of a document and its passages for search, sets
 * status "processed", content_length, page_count and updated_at and ends
 * the claim: one transaction. passages[i] are the pieces of text that
 * search returns (text.c cuts them), n_passages may be 0 (an empty
 * document). owner as storage_doc_set_status (LX_ENOENT: not stored). */
STORAGE_OP(doc_set_text, PLAIN,
           (storage_conn *c, const char *id, const char *owner, const char *text, size_t text_len,
            int64_t page_count, const char *const *passages, size_t n_passages, const char *now,
            char *err, size_t errlen),
           (c, id, owner, text, text_len, page_count, passages, n_passages, now, err, errlen))

/* Reads up to cap bytes of the stored file from offset (PostgreSQL only:
 * chunks; the caller loops). *n is 0 at the end. LX_ENOENT when absent or
 * another user's. */
STORAGE_OP(doc_read, PLAIN,
           (storage_conn *c, const char *uid, const char *id, int64_t offset, void *buf,
            size_t cap, size_t *n, char *err, size_t errlen),
           (c, uid, id, offset, buf, cap, n, err, errlen))

/* Stores (replaces) the asset `name` (a checked LX_STORAGE_ASSET_* name)
 * of uid's document id (PostgreSQL only: one row of doc_assets, deleted
 * with the document by its foreign key; SQLite keeps assets as files,
 * db/asset_files.c, and answers LX_EINVAL after the owner check).
 * LX_ENOENT when the document is absent or another user's. */
STORAGE_OP(doc_asset_put, PLAIN,
           (storage_conn *c, const char *uid, const char *id, const char *name,
            const void *data, size_t len, char *err, size_t errlen),
           (c, uid, id, name, data, len, err, errlen))

/* Reads up to cap bytes of the asset from offset into buf (PostgreSQL
 * only, as above); *n bytes read (0 past the end), *size the asset's
 * whole size. LX_ENOENT when the document or the asset is absent, or the
 * document is another user's. */
STORAGE_OP(doc_asset_read, PLAIN,
           (storage_conn *c, const char *uid, const char *id, const char *name,
            int64_t offset, void *buf, size_t cap, size_t *n, int64_t *size, char *err,
            size_t errlen),
           (c, uid, id, name, offset, buf, cap, n, size, err, errlen))

/* The making of uid's document id's assets (storage.v1 asset_claim), held
 * by one worker at a time: owner takes it until `until` when the document
 * is processed and nobody holds it, or the holder's lease ended before
 * `now`, or owner holds it already (a renewal). The row's claim columns
 * (claimed_by, lease_until) serve it: they hold the extraction's claim
 * while the document is pending and nothing once it is processed (its
 * final status ends that claim, and a processed document never goes back
 * to pending). until NULL: gives owner's claim back (LX_OK also when it
 * was not held). LX_ENOENT when the document is absent or another user's;
 * LX_EEXIST when it is not processed or another owner holds a live claim. */
STORAGE_OP(doc_assets_claim, PLAIN,
           (storage_conn *c, const char *uid, const char *id, const char *owner, const char *now,
            const char *until, char *err, size_t errlen),
           (c, uid, id, owner, now, until, err, errlen))

/* Every document id with its owner (SQLite start-up check of files, the
 * backup). Parallel malloc'd arrays; free both with storage_strv_free. */
STORAGE_OP(doc_all_ids, PLAIN,
           (storage_conn *c, char ***ids, char ***uids, size_t *n, char *err, size_t errlen),
           (c, ids, uids, n, err, errlen))

/* ------------------------------------------------------------------------ */
/* The extraction queue (store.h, "The extraction queue")                   */

/* Claims at most max (>= 1) pending documents of any user whose lease is
 * before now, oldest lease first, for owner until `until`. A document
 * taken over while "processing" was cut off: its interrupted count grows
 * by one. Exactly one caller gets each document however many workers and
 * processes claim at once (SQLite: one write transaction; PostgreSQL: FOR
 * UPDATE SKIP LOCKED). *out malloc'd (storage_pending_free), *n entries;
 * none is LX_OK with *out NULL. LX_EINVAL without an owner or a count. */
STORAGE_OP(doc_claim, CHECKED,
           (storage_conn *c, const char *owner, const char *now, const char *until, int max,
            storage_pending **out, size_t *n, char *err, size_t errlen),
           (c, owner, now, until, max, out, n, err, errlen))

/* Whether any pending document's lease is before now: a cheap read, so
 * that looking for work takes no write lock when there is none. */
STORAGE_OP(doc_any_claimable, CHECKED,
           (storage_conn *c, const char *now, int *is_any, char *err, size_t errlen),
           (c, now, is_any, err, errlen))

/* Moves the lease of documents ids[0..n) to `until`, those of them still
 * pending and owner's; *n_renewed (may be NULL) gets how many. One
 * transaction (none when n is 0). */
STORAGE_OP(doc_renew, CHECKED,
           (storage_conn *c, const char *owner, const char *const *ids, size_t n,
            const char *until, int64_t *n_renewed, char *err, size_t errlen),
           (c, owner, ids, n, until, n_renewed, err, errlen))

/* The extraction of document id begins: status "processing", error "",
 * updated_at now. LX_ENOENT when it is no longer pending and owner's. */
STORAGE_OP(doc_start, PLAIN,
           (storage_conn *c, const char *id, const char *owner, const char *now, char *err,
            size_t errlen),
           (c, id, owner, now, err, errlen))

/* Gives document id back: status "uploaded", nobody's claim, claimable
 * from not_before ("" or NULL: at once). LX_ENOENT when it is not pending
 * and owner's. */
STORAGE_OP(doc_release, CHECKED,
           (storage_conn *c, const char *id, const char *owner, const char *not_before, char *err,
            size_t errlen),
           (c, id, owner, not_before, err, errlen))

/* Ids of the failed documents whose error is exactly `error` (any user).
 * malloc'd, free with storage_strv_free. */
STORAGE_OP(doc_failed_ids, CHECKED,
           (storage_conn *c, const char *error, char ***ids, size_t *n, char *err,
            size_t errlen),
           (c, error, ids, n, err, errlen))

/* A failed document whose error is exactly `error` is pending again:
 * status "uploaded", error "", nobody's claim, claimable at once.
 * LX_ENOENT when it is not failed with that error. */
STORAGE_OP(doc_retry_failed, PLAIN,
           (storage_conn *c, const char *id, const char *error, const char *now, char *err,
            size_t errlen),
           (c, id, error, now, err, errlen))

/* ------------------------------------------------------------------------ */
/* Passage search                                                           */

/* The passages of one document of uid that best match `query` (free text
 * from a person: the backend takes its words only, never its syntax; no
 * word in it gives zero results), best first, at most `limit`.
 * LX_ENOENT when the document is absent or another user's. */
STORAGE_OP(doc_search, PLAIN,
           (storage_conn *c, const char *uid, const char *id, const char *query, int limit,
            storage_passage **out, size_t *n, char *err, size_t errlen),
           (c, uid, id, query, limit, out, n, err, errlen))

/* The document (as doc_get without its text) and, when it is processed
 * and limit > 0, the passages of it that best match query (as
 * doc_search; *out NULL and *n 0 otherwise): what a chat turn reads about
 * its document, in one trip to the database (PostgreSQL: one pipeline).
 * LX_ENOENT when the document is absent or another user's. */
STORAGE_OP(doc_get_search, PLAIN,
           (storage_conn *c, const char *uid, const char *id, const char *query, int limit,
            storage_doc *d, storage_passage **out, size_t *n, char *err, size_t errlen),
           (c, uid, id, query, limit, d, out, n, err, errlen))

/* Passages seq in [from, from + count) of one document, in order (context
 * around a hit, or the start of a document). */
STORAGE_OP(doc_passages, PLAIN,
           (storage_conn *c, const char *uid, const char *id, int64_t from, int count,
            storage_passage **out, size_t *n, char *err, size_t errlen),
           (c, uid, id, from, count, out, n, err, errlen))

/* ------------------------------------------------------------------------ */
/* Feedback and administration                                              */

/* Inserts f (id chosen by the caller, every string set). */
STORAGE_OP(feedback_create, PLAIN,
           (storage_conn *c, const storage_feedback *f, char *err, size_t errlen),
           (c, f, err, errlen))

/* Newest first; status and type filter when non-NULL; *total is the count
 * matching the filters before limit/offset. */
STORAGE_OP(feedback_list, PLAIN,
           (storage_conn *c, const char *status, const char *type, int limit, int offset,
            storage_feedback **out, size_t *n, int64_t *total, char *err, size_t errlen),
           (c, status, type, limit, offset, out, n, total, err, errlen))

/* The counts of GET /api/admin/stats. */
STORAGE_OP(stats_get, PLAIN, (storage_conn *c, storage_stats *s, char *err, size_t errlen),
           (c, s, err, errlen))

/* ------------------------------------------------------------------------ */
/* Activity and progress                                                    */

/* Records one activity (storage_activity says what each field may be). */
STORAGE_OP(activity_add, PLAIN,
           (storage_conn *c, const storage_activity *a, char *err, size_t errlen),
           (c, a, err, errlen))

/* The user's documents count, points per kind and active days. */
STORAGE_OP(progress_get, PLAIN,
           (storage_conn *c, const char *uid, storage_progress *p, char *err, size_t errlen),
           (c, uid, p, err, errlen))

/* ------------------------------------------------------------------------ */
/* Generic per-user records (storage_rec)                                   */

/* Creates or replaces the record's value (items kept). */
STORAGE_OP(rec_put, PLAIN,
           (storage_conn *c, const char *uid, const char *kind, const char *key,
            const char *json, const char *now, char *err, size_t errlen),
           (c, uid, kind, key, json, now, err, errlen))

/* LX_ENOENT when absent (or another user's). r->seq = number of items. */
STORAGE_OP(rec_get, PLAIN,
           (storage_conn *c, const char *uid, const char *kind, const char *key,
            storage_rec *r, char *err, size_t errlen),
           (c, uid, kind, key, r, err, errlen))

/* Appends one item to an existing record (LX_ENOENT when absent) and
 * touches its updated_at; *seq (may be NULL) gets the item's seq. */
STORAGE_OP(rec_append, PLAIN,
           (storage_conn *c, const char *uid, const char *kind, const char *key,
            const char *json, const char *now, int64_t *seq, char *err, size_t errlen),
           (c, uid, kind, key, json, now, seq, err, errlen))

/* Items of a record in seq order: those with seq > after_seq, and of those
 * only the last `last_n` when last_n > 0. LX_ENOENT when the record is
 * absent. Zero items is LX_OK with *out NULL. */
STORAGE_OP(rec_items, PLAIN,
           (storage_conn *c, const char *uid, const char *kind, const char *key,
            int64_t after_seq, int last_n, storage_rec **out, size_t *n, char *err,
            size_t errlen),
           (c, uid, kind, key, after_seq, last_n, out, n, err, errlen))

/* The record (as rec_get) and its last last_n items in seq order (as
 * rec_items with after_seq 0; last_n <= 0: none read, *out NULL), read
 * together: one trip to the database (PostgreSQL: one pipeline).
 * LX_ENOENT when the record is absent. */
STORAGE_OP(rec_get_items, PLAIN,
           (storage_conn *c, const char *uid, const char *kind, const char *key, int last_n,
            storage_rec *r, storage_rec **out, size_t *n, char *err, size_t errlen),
           (c, uid, kind, key, last_n, r, out, n, err, errlen))

/* Records of one kind for uid, most recently updated first, at most limit;
 * json filled, seq = number of items. */
STORAGE_OP(rec_list, PLAIN,
           (storage_conn *c, const char *uid, const char *kind, int limit, storage_rec **out,
            size_t *n, char *err, size_t errlen),
           (c, uid, kind, limit, out, n, err, errlen))

/* Deletes the record and its items; LX_ENOENT when absent. */
STORAGE_OP(rec_delete, PLAIN,
           (storage_conn *c, const char *uid, const char *kind, const char *key, char *err,
            size_t errlen),
           (c, uid, kind, key, err, errlen))

/* Runs ops[0..n) for uid in order in ONE write transaction: all or
 * nothing. The first failing op's code and message (e.g. LX_ENOENT for an
 * append to an absent record) roll everything back. store.c checks ops
 * before the backend sees them (n >= 1, every type known, every string of
 * a put or append set) and fills each activity's uid, day and now; the
 * backend sets each op's seq (0 but for appends). With rb (may be NULL),
 * the batch then reads record (rb->kind, rb->key)'s last rb->last_n items
 * in the same transaction, as written (storage_batch_read); PostgreSQL
 * sends it with the ops: a chat turn's write and the thread it shows are
 * two trips to the server. */
STORAGE_OP(batch, CHECKED,
           (storage_conn *c, const char *uid, storage_op *ops, size_t n, const char *now,
            storage_batch_read *rb, char *err, size_t errlen),
           (c, uid, ops, n, now, rb, err, errlen))

/* clang-format on */
