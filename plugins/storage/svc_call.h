/*
 * The services' calls (svc.c, svc_ops.c), private to those two files: a
 * storage_call holds one call of storage.v1 or userdata.v1 from the
 * moment it is checked (svc.c, on the loop) through its database work
 * (svc_ops.c, on a pool thread) to its answer (svc_ops.c, on the loop).
 * It owns every string in it; storage_call_free frees them and it.
 */
#ifndef STORAGE_SVC_CALL_H
#define STORAGE_SVC_CALL_H

#include <lexiaid/svc/storage_v1.h>
#include <lexiaid/svc/userdata_v1.h>

#include "storage.h"

typedef enum storage_call_op {
    OP_DOC_GET,
    OP_DOC_SEARCH,
    OP_DOC_PASSAGES,
    OP_PROFILE_GET,
    OP_ACTIVITY_ADD,
    OP_REC_PUT,
    OP_REC_GET,
    OP_REC_APPEND,
    OP_REC_ITEMS,
    OP_REC_LIST,
    OP_REC_DELETE,
    OP_USER_PURGE,
    OP_BATCH,
    OP_USER_CREATE,
    OP_REC_GET_ITEMS,
    OP_DOC_GET_SEARCH,
    OP_BATCH_ITEMS,
    OP_N
} storage_call_op;

typedef struct storage_call {
    storage_state *st;
    storage_call_op op;
    int pre_rc; /* a bad argument found before running */
    char pre_err[160];

    /* Input (owned copies) */
    char *uid, *id, *kind, *key, *json, *query;
    char *email, *display_name; /* OP_USER_CREATE */
    int with_text, limit, count, last_n;
    int64_t from, after_seq, points;
    double score, max_score;
    storage_op *ops;              /* OP_BATCH: n_ops of them, their strings owned */
    char now[STORAGE_TS_LEN + 8]; /* OP_BATCH: the time of its writes */
    size_t n_ops;

    /* Output */
    storage_doc doc;
    storage_passage *passages;
    size_t n_passages;
    storage_user user;
    storage_progress prog;
    storage_rec rec;
    storage_rec *recs;
    size_t n_recs;
    int64_t seq;
    int is_created;

    /* The caller's callback: the member of its operation's type */
    void *arg;
    union {
        lx_storage_done_fn plain;
        lx_storage_doc_fn doc;
        lx_storage_passages_fn passages;
        lx_storage_json_fn json;
        lx_storage_record_fn record;
        lx_storage_records_fn records;
        lx_storage_seq_fn seq;
        lx_storage_batch_fn batch;
        lx_storage_record_items_fn record_items;
        lx_storage_doc_passages_fn doc_passages;
        lx_storage_batch_items_fn batch_items;
        void (*purge)(void *arg, int rc, const char *err);
        void (*create)(void *arg, int status, const char *message, int is_created);
    } done;
} storage_call;

/* Frees k and everything it owns (svc_ops.c). */
void storage_call_free(storage_call *k);

/* Pool (storage_run's fn): the call's operation, its output into k. */
int storage_call_job(storage_state *st, storage_conn *c, void *arg, char *err, size_t errlen);

/* Loop: calls the caller's callback with the outcome (rc, err: the job's)
 * in the service's structs, then frees k. */
void storage_call_answer(storage_call *k, int rc, const char *err);

#endif
