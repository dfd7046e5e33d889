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
 * storage_* function of the same name (store_ops.h), and is called with a
 * connection the backend itself made with `connect`. A backend fills its
 * table from store_ops.h too (STORAGE_BACKEND_TABLE below), so that it
 * cannot miss an operation.
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

    /* Group commit (storage_write), or NULL: no groups. group_begin opens
     * the group's write transaction on c; group_run runs fn inside it in
     * a savepoint of its own, fn's transactions becoming part of it (its
     * code; its changes undone when it fails); group_end commits (rc
     * LX_OK) or rolls back, and returns the commit's code. */
    int (*group_begin)(storage_conn *c, char *err, size_t errlen);
    int (*group_run)(storage_conn *c, storage_write_fn fn, void *arg, char *err, size_t errlen);
    int (*group_end)(storage_conn *c, int rc, char *err, size_t errlen);

    /* One member per operation of store_ops.h, in its order: int
     * (*NAME)(storage_conn *c, ...), with the contract written there. */
#define STORAGE_OP(name, front, params, args) int(*name) params;
#include "store_ops.h"
#undef STORAGE_OP
};

/* The operations' members of a backend's table whose bodies are named
 * PREFIX##NAME (storage_sq_doc_get, storage_pg_doc_get, ...): used inside
 * the initializer of its storage_backend after name, stores_bytes,
 * connect and disconnect. */
#define STORAGE_BACKEND_MEMBER(prefix, name) .name = prefix##name,

extern const storage_backend storage_sqlite_backend; /* store_sqlite.c */
extern const storage_backend storage_pg_backend;     /* store_pg.c */

/* Search words of a person's query for both backends (store.c): lower-case
 * runs of letters and digits (UTF-8 letters kept whole), 2..64 bytes, stop
 * words dropped, duplicates dropped, at most 32; *words malloc'd (free
 * with storage_strv_free). Never fails for want of words: *n may be 0. */
int storage_query_words(const char *query, char ***words, size_t *n);

#endif
