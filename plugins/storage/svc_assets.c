/*
 * storage.v1 minors 3 and 4 (include/lexiaid/svc/storage_v1.h): a document's
 * assets and the events of documents.
 *
 * Assets are what other plugins derive from a document and want deleted
 * with it (the speech plugin's read-aloud audio and timepoints). With
 * SQLite they are files next to the document's (db/asset_files.c), written
 * after the owner check; a document deleted meanwhile is seen by a second
 * check after the rename, which removes the file again (the deletion
 * commits its row before it removes files, so one of the two always
 * removes it). With PostgreSQL they are rows of doc_assets (the owner
 * check in the same statement; ON DELETE CASCADE), so every replica
 * serves them.
 *
 * Claims (minor 4): the making of a document's assets is held by one
 * worker at a time, a lease in the document row's claim columns (free
 * once the document is processed; db/store_ops.h, doc_assets_claim), with
 * this worker's token (st->owner) as the holder, so workers and replicas
 * on one database never make the same document's assets at once.
 *
 * Events: subscribers are set in init (the master) in this generation's
 * state, so every worker has them; storage_emit calls them on the loop.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage.h"

#define ASSET_MAX_PUT (256u * 1024 * 1024)
#define ASSET_MAX_GET (64u * 1024 * 1024)

typedef struct asset_call {
    storage_state *st;
    int is_put;
    int is_claim; /* asset_claim: lease_ms (0: release) */
    int64_t lease_ms;
    char owner[STORAGE_ID_LEN + 1];
    int pre_rc; /* a bad argument: answered later, on the loop */
    char pre_err[128];
    char *uid, *id, *name;
    unsigned char *data; /* put: the copy; get: the buffer read into */
    size_t len, max, got;
    int64_t offset, size;
    lx_storage_done_fn done_put;
    lx_storage_asset_fn done_get;
    void *arg;
} asset_call;

static void asset_call_free(asset_call *k)
{
    free(k->uid);
    free(k->id);
    free(k->name);
    free(k->data);
    free(k);
}

static int asset_job(storage_state *st, storage_conn *c, void *arg, char *err, size_t errlen)
{
    asset_call *k = arg;
    storage_doc d;
    int rc;

    if (k->is_claim) {
        char now[40], until[40];

        storage_now_iso(now, sizeof(now));
        storage_iso_in(until, sizeof(until), k->lease_ms);
        return storage_doc_assets_claim(c, k->uid, k->id, k->owner, now,
                                        k->lease_ms > 0 ? until : NULL, err, errlen);
    }
    if (st->files == NULL) { /* PostgreSQL: the bytes in the database */
        if (k->is_put)
            return storage_doc_asset_put(c, k->uid, k->id, k->name, k->data, k->len, err, errlen);
        return storage_doc_asset_read(c, k->uid, k->id, k->name, k->offset, k->data, k->max,
                                      &k->got, &k->size, err, errlen);
    }
    /* SQLite: the owner in the database, the bytes in a file */
    memset(&d, 0, sizeof(d));
    rc = storage_doc_get(c, k->uid, k->id, 0, &d, err, errlen);
    storage_doc_clear(&d);
    if (rc != LX_OK)
        return rc;
    if (!k->is_put)
        return storage_asset_read(st->files, k->id, k->name, k->offset, k->data, k->max, &k->got,
                                  &k->size, err, errlen);
    rc = storage_asset_write(st->files, k->id, k->name, k->data, k->len, err, errlen);
    if (rc != LX_OK)
        return rc;
    memset(&d, 0, sizeof(d));
    rc = storage_doc_get(c, k->uid, k->id, 0, &d, err, errlen);
    storage_doc_clear(&d);
    if (rc == LX_ENOENT) { /* deleted meanwhile: do not leave the asset behind */
        char e2[256];
        (void)storage_assets_remove(st->files, k->id, e2, sizeof(e2));
    }
    return rc;
}

static void asset_answer(asset_call *k, int rc, const char *err)
{
    const char *msg = rc == LX_OK ? "" : (err != NULL && err[0] != '\0' ? err : "failed");

    if (rc != LX_OK && rc != LX_ENOENT && rc != LX_EINVAL && rc != LX_ECANCELED &&
        rc != LX_ENOMEM && !(k->is_claim && (rc == LX_EEXIST || rc == LX_ESTATE)))
        rc = LX_EIO;
    if (k->is_put || k->is_claim)
        k->done_put(k->arg, rc, msg);
    else
        k->done_get(k->arg, rc, msg, rc == LX_OK && k->got > 0 ? k->data : NULL,
                    rc == LX_OK ? k->got : 0, rc == LX_OK ? k->size : 0);
    asset_call_free(k);
}

static void asset_done(storage_state *st, void *arg, int rc, const char *err)
{
    (void)st;
    asset_answer(arg, rc, err);
}

static void asset_noop(void *arg)
{
    (void)arg;
}

static void asset_rejected(void *arg, int status)
{
    asset_call *k = arg;

    (void)status;
    asset_answer(k, k->pre_rc, k->pre_err);
}

static asset_call *asset_call_new(storage_state *st, const char *uid, const char *doc_id,
                                  const char *name)
{
    asset_call *k = calloc(1, sizeof(*k));

    if (k == NULL)
        return NULL;
    k->st = st;
    if (uid == NULL || uid[0] == '\0' || strlen(uid) > 128)
        k->pre_rc = LX_EINVAL, snprintf(k->pre_err, sizeof(k->pre_err), "uid is missing");
    else if (doc_id == NULL || doc_id[0] == '\0' || strlen(doc_id) > 128)
        k->pre_rc = LX_EINVAL, snprintf(k->pre_err, sizeof(k->pre_err), "doc_id is missing");
    else if (!storage_asset_name_ok(name))
        k->pre_rc = LX_EINVAL, snprintf(k->pre_err, sizeof(k->pre_err), "unknown asset name");
    if (k->pre_rc == LX_OK && ((k->uid = strdup(uid)) == NULL || (k->id = strdup(doc_id)) == NULL ||
                               (k->name = strdup(name)) == NULL)) {
        asset_call_free(k);
        return NULL;
    }
    return k;
}

static int asset_start(asset_call *k, lx_worker *w)
{
    storage_state *st = k->st;
    int rc;

    if (k->pre_rc != LX_OK)
        rc = st->host->offload(w, asset_noop, asset_rejected, k);
    else
        rc = storage_run(st, w, asset_job, asset_done, k);
    if (rc != LX_OK) {
        asset_call_free(k);
        return rc == LX_ESTATE ? LX_ECANCELED : rc;
    }
    return LX_OK;
}

/* A new call on uid's asset name of document doc_id answered through
 * done_put (a put or a claim); a bad argument is kept in pre_rc. NULL:
 * out of memory. On the loop. */
static asset_call *storage_asset_done_call(storage_state *st, const char *uid, const char *doc_id,
                                           const char *name, lx_storage_done_fn done, void *arg)
{
    asset_call *k = asset_call_new(st, uid, doc_id, name);

    if (k == NULL)
        return NULL;
    k->done_put = done;
    k->arg = arg;
    return k;
}

int storage_sv_asset_put(void *state, lx_worker *w, const char *uid, const char *doc_id,
                         const char *name, const void *data, size_t len, lx_storage_done_fn done,
                         void *arg)
{
    asset_call *k = storage_asset_done_call(state, uid, doc_id, name, done, arg);

    if (k == NULL)
        return LX_ENOMEM;
    k->is_put = 1;
    if (k->pre_rc == LX_OK && (len > ASSET_MAX_PUT || (data == NULL && len > 0))) {
        k->pre_rc = LX_EINVAL;
        snprintf(k->pre_err, sizeof(k->pre_err), "the asset is too large");
    }
    if (k->pre_rc == LX_OK) {
        k->data = malloc(len ? len : 1);
        if (k->data == NULL) {
            asset_call_free(k);
            return LX_ENOMEM;
        }
        if (len > 0)
            memcpy(k->data, data, len);
        k->len = len;
    }
    return asset_start(k, w);
}

int storage_sv_asset_get(void *state, lx_worker *w, const char *uid, const char *doc_id,
                         const char *name, int64_t offset, size_t max, lx_storage_asset_fn done,
                         void *arg)
{
    asset_call *k = asset_call_new(state, uid, doc_id, name);

    if (k == NULL)
        return LX_ENOMEM;
    k->done_get = done;
    k->arg = arg;
    if (k->pre_rc == LX_OK && (offset < 0 || max > ASSET_MAX_GET)) {
        k->pre_rc = LX_EINVAL;
        snprintf(k->pre_err, sizeof(k->pre_err), "bad range");
    }
    if (k->pre_rc == LX_OK) {
        k->offset = offset;
        k->max = max;
        k->data = malloc(max ? max : 1);
        if (k->data == NULL) {
            asset_call_free(k);
            return LX_ENOMEM;
        }
    }
    return asset_start(k, w);
}

int storage_sv_asset_claim(void *state, lx_worker *w, const char *uid, const char *doc_id,
                           int64_t lease_ms, lx_storage_done_fn done, void *arg)
{
    storage_state *st = state;
    asset_call *k = storage_asset_done_call(st, uid, doc_id, LX_STORAGE_ASSET_TTS_AUDIO, done, arg);

    if (k == NULL)
        return LX_ENOMEM;
    k->is_claim = 1;
    k->lease_ms = lease_ms;
    snprintf(k->owner, sizeof(k->owner), "%s", st->owner);
    if (k->pre_rc == LX_OK && (lease_ms < 0 || lease_ms > 86400000LL)) {
        k->pre_rc = LX_EINVAL;
        snprintf(k->pre_err, sizeof(k->pre_err), "lease_ms must be 0 to one day");
    } else if (k->pre_rc == LX_OK && k->owner[0] == '\0') {
        k->pre_rc = LX_ESTATE;
        snprintf(k->pre_err, sizeof(k->pre_err), "claims are made in a worker");
    }
    return asset_start(k, w);
}

int storage_sv_subscribe(void *state, lx_storage_event_fn fn, void *arg)
{
    storage_state *st = state;

    if (fn == NULL)
        return LX_EINVAL;
    if (st->n_subs >= STORAGE_MAX_SUBS)
        return LX_ETOOBIG;
    st->subs[st->n_subs].fn = fn;
    st->subs[st->n_subs].arg = arg;
    st->n_subs++;
    return LX_OK;
}

void storage_emit(storage_state *st, lx_worker *w, int event, const char *uid, const char *id)
{
    for (int i = 0; i < st->n_subs; i++)
        st->subs[i].fn(st->subs[i].arg, w, event, uid, id);
}
