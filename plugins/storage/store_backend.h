/*
 * What a database backend provides to store.c. Private to the store layer:
 * handlers and the service include store.h only.
 *
 * store.c owns the pool (storage_db: a mutex, a condition variable, idle
 * connections, a count of those out) and forwards every storage_* call of
 * store.h to the backend of the connection: storage_x(c, ...) is
 * c->be->x(c, ...). A backend's connection embeds `storage_conn` as its
 * first member and adds its own handle after it:
 *
 *     typedef struct sqlite_conn { storage_conn base; sqlite3 *db; ... } sqlite_conn;
 *
 * Every member below is mandatory, has exactly the contract of the
 * storage_* function of the same name in store.h, and is called with a
 * connection the backend itself made with `connect`.
 */
#ifndef STORAGE_STORE_BACKEND_H
#define STORAGE_STORE_BACKEND_H

#include "store.h"

typedef struct storage_backend storage_backend;

struct storage_conn {
    const storage_backend *be;
    storage_conn *next_idle; /* the pool's list; the backend leaves it alone */
};

struct storage_backend {
    const char *name;  /* "sqlite", "postgres" */
    int stores_bytes;  /* 1: file bytes live in the database */

    /* A new connection for opts (borrowed for the call); the backend sets
     * (*out)->be. SQLite: WAL, foreign_keys, busy_timeout, synchronous=FULL
     * for durability of acknowledged writes. */
    int (*connect)(const storage_opts *opts, storage_conn **out, char *err, size_t errlen);
    void (*disconnect)(storage_conn *c);

    int (*migrate)(storage_conn *c, int *version, char *err, size_t errlen);
    int (*ping)(storage_conn *c, char *err, size_t errlen);

    int (*user_init)(storage_conn *c, const char *uid, const char *email,
                     const char *display_name, const char *profile_json, const char *now,
                     int *is_created, char *err, size_t errlen);
    int (*user_get)(storage_conn *c, const char *uid, storage_user *u, char *err, size_t errlen);
    int (*user_create)(storage_conn *c, const storage_user_new *v, size_t n, const char *now,
                       int *created, char *err, size_t errlen);
    int (*user_update)(storage_conn *c, const char *uid, const char *email, const char *now,
                       storage_merge_fn merge, void *arg, storage_user *u, char *err,
                       size_t errlen);
    int (*user_delete)(storage_conn *c, const char *uid, char ***doc_ids, size_t *n_docs,
                       char *err, size_t errlen);
    int (*user_page)(storage_conn *c, const char *after_uid, int limit, storage_user **out,
                     size_t *n, int *has_more, char *err, size_t errlen);

    int (*doc_create)(storage_conn *c, const storage_doc *d, const void *bytes, size_t len,
                      char *err, size_t errlen);
    int (*doc_list)(storage_conn *c, const char *uid, storage_doc **docs, size_t *n, char *err,
                    size_t errlen);
    int (*doc_get)(storage_conn *c, const char *uid, const char *id, int with_text,
                   storage_doc *d, char *err, size_t errlen);
    int (*doc_delete)(storage_conn *c, const char *uid, const char *id, char *err,
                      size_t errlen);
    int (*doc_set_status)(storage_conn *c, const char *id, const char *owner, const char *status,
                          const char *error, const char *now, char *err, size_t errlen);
    int (*doc_set_text)(storage_conn *c, const char *id, const char *owner, const char *text,
                        size_t text_len, int64_t page_count, const char *const *passages,
                        size_t n_passages, const char *now, char *err, size_t errlen);
    int (*doc_read)(storage_conn *c, const char *uid, const char *id, int64_t offset,
                    void *buf, size_t cap, size_t *n, char *err, size_t errlen);
    int (*doc_claim)(storage_conn *c, const char *owner, const char *now, const char *until,
                     int max, storage_pending **out, size_t *n, char *err, size_t errlen);
    int (*doc_any_claimable)(storage_conn *c, const char *now, int *is_any, char *err,
                             size_t errlen);
    int (*doc_renew)(storage_conn *c, const char *owner, const char *const *ids, size_t n,
                     const char *until, int64_t *n_renewed, char *err, size_t errlen);
    int (*doc_start)(storage_conn *c, const char *id, const char *owner, const char *now, char *err,
                     size_t errlen);
    int (*doc_release)(storage_conn *c, const char *id, const char *owner, const char *not_before,
                       char *err, size_t errlen);
    int (*doc_failed_ids)(storage_conn *c, const char *error, char ***ids, size_t *n, char *err,
                          size_t errlen);
    int (*doc_retry_failed)(storage_conn *c, const char *id, const char *error, const char *now,
                            char *err, size_t errlen);
    int (*doc_all_ids)(storage_conn *c, char ***ids, char ***uids, size_t *n, char *err,
                       size_t errlen);
    int (*doc_search)(storage_conn *c, const char *uid, const char *id, const char *query,
                      int limit, storage_passage **out, size_t *n, char *err, size_t errlen);
    int (*doc_passages)(storage_conn *c, const char *uid, const char *id, int64_t from,
                        int count, storage_passage **out, size_t *n, char *err,
                        size_t errlen);

    int (*feedback_create)(storage_conn *c, const storage_feedback *f, char *err,
                           size_t errlen);
    int (*feedback_list)(storage_conn *c, const char *status, const char *type, int limit,
                         int offset, storage_feedback **out, size_t *n, int64_t *total,
                         char *err, size_t errlen);
    int (*stats_get)(storage_conn *c, storage_stats *s, char *err, size_t errlen);

    int (*activity_add)(storage_conn *c, const storage_activity *a, char *err, size_t errlen);
    int (*progress_get)(storage_conn *c, const char *uid, storage_progress *p, char *err,
                        size_t errlen);

    int (*rec_put)(storage_conn *c, const char *uid, const char *kind, const char *key,
                   const char *json, const char *now, char *err, size_t errlen);
    int (*rec_get)(storage_conn *c, const char *uid, const char *kind, const char *key,
                   storage_rec *r, char *err, size_t errlen);
    int (*rec_append)(storage_conn *c, const char *uid, const char *kind, const char *key,
                      const char *json, const char *now, int64_t *seq, char *err,
                      size_t errlen);
    int (*rec_items)(storage_conn *c, const char *uid, const char *kind, const char *key,
                     int64_t after_seq, int last_n, storage_rec **out, size_t *n, char *err,
                     size_t errlen);
    int (*rec_list)(storage_conn *c, const char *uid, const char *kind, int limit,
                    storage_rec **out, size_t *n, char *err, size_t errlen);
    int (*rec_delete)(storage_conn *c, const char *uid, const char *kind, const char *key,
                      char *err, size_t errlen);

    /* storage_batch, called by store.c after it checked ops (n >= 1, every
     * type known, every string of a put or append set) and filled each
     * activity's uid, day and now: one write transaction, each op's seq
     * set (0 but for appends), the first failure rolls back. */
    int (*batch)(storage_conn *c, const char *uid, storage_op *ops, size_t n, const char *now,
                 char *err, size_t errlen);
};

extern const storage_backend storage_sqlite_backend; /* store_sqlite.c */
extern const storage_backend storage_pg_backend;     /* store_pg.c */

/* Search words of a person's query for both backends (store.c): lower-case
 * runs of letters and digits (UTF-8 letters kept whole), 2..64 bytes, stop
 * words dropped, duplicates dropped, at most 32; *words malloc'd (free
 * with storage_strv_free). Never fails for want of words: *n may be 0. */
int storage_query_words(const char *query, char ***words, size_t *n);

#endif
