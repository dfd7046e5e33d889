/*
 * GET /api/documents/{id}/download: the document's bytes, streamed.
 *
 * The row is read first (ownership: another user's document is answered
 * as an absent one, 404 NOT_FOUND), with SQLite the file opened in the
 * same pool job; then the headers go out and the bytes follow in chunks of
 * STORAGE_CHUNK_SIZE, each read on the offload pool (pread of the file
 * with SQLite, storage_doc_read with PostgreSQL) and sent when read, one
 * chunk in flight at a time. A client that goes away ends the stream at
 * the next chunk.
 *
 * Ownership: the state lives in request memory (storage_doc_req_new) with
 * a cleanup that closes the file and frees the chunk; no request ends
 * while a pool job still reads it.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage.h"

typedef struct storage_dl {
    storage_doc_req r; /* first: storage_doc_req_new */
    int has_fd;        /* fd is open (SQLite) */
    int fd;
    int64_t size, offset;
    char *chunk; /* the chunk being read, or NULL once handed to the host */
    size_t chunk_len;
    int read_rc; /* the pread job's */
    char read_err[256];
} storage_dl;

static void storage_dl_cleanup(void *arg)
{
    storage_dl *o = arg;

    storage_doc_req_clear(&o->r);
    free(o->chunk);
    if (o->has_fd)
        close(o->fd);
}

/* Content-Disposition with an ASCII fallback and the UTF-8 name (RFC 6266,
 * RFC 8187). malloc'd. */
static char *storage_disposition(const char *name)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(name), k = 0;
    char *out = malloc(n * 4 + 64);

    if (out == NULL)
        return NULL;
    k += (size_t)sprintf(out, "attachment; filename=\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        out[k++] = (c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '%' || c == ';')
                       ? '_'
                       : (char)c;
    }
    k += (size_t)sprintf(out + k, "\"; filename*=UTF-8''");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            strchr("!#$&+-.^_`|~", c) != NULL) {
            out[k++] = (char)c;
        } else {
            out[k++] = '%';
            out[k++] = hex[c >> 4];
            out[k++] = hex[c & 15];
        }
    }
    out[k] = '\0';
    return out;
}

static void storage_dl_next(storage_dl *o);

/* Pool, with a connection: the row (ownership), and with SQLite the file:
 * uploads/<id>, or the .part of an upload that died between its commit
 * and its rename, rolled forward now (files.h). A document marked failed
 * for its missing file, whose file is there after all, is extracted
 * anew. */
static int storage_dl_open_job(storage_state *st, storage_conn *c, void *arg, char *err,
                               size_t errlen)
{
    storage_dl *o = arg;
    char now[STORAGE_TS_LEN + 8], e2[256];
    int rc;

    rc = storage_doc_get(c, o->r.uid, o->r.id, 0, &o->r.d, err, errlen);
    if (rc != LX_OK)
        return rc;
    o->size = o->r.d.size;
    if (st->files == NULL)
        return LX_OK;
    rc = storage_file_open_committed(st->files, o->r.id, &o->fd, &o->size, NULL, err, errlen);
    if (rc == LX_ENOENT) {
        snprintf(err, errlen, "the document's file is missing");
        return rc;
    }
    if (rc != LX_OK)
        return rc;
    o->has_fd = 1;
    if (strcmp(o->r.d.status, STORAGE_ST_FAILED) == 0 &&
        strcmp(o->r.d.error, STORAGE_MISSING_FILE) == 0) {
        storage_now_iso(now, sizeof(now));
        if (storage_doc_retry_failed(c, o->r.id, STORAGE_MISSING_FILE, now, e2, sizeof(e2)) ==
            LX_OK)
            st->host->log(LX_LOG_INFO, STORAGE_SRC, NULL,
                          "document %s has its file again: its text is extracted anew", o->r.id);
    }
    return LX_OK;
}

static void storage_dl_end(storage_dl *o)
{
    if (o->has_fd) {
        close(o->fd);
        o->has_fd = 0;
    }
    o->r.st->host->reply_end(o->r.req);
}

static void storage_dl_chunk(storage_dl *o, int rc, const char *err)
{
    const lx_host *host = o->r.st->host;
    char *chunk;

    if (rc != LX_OK) {
        host->log(LX_LOG_ERROR, STORAGE_SRC, o->r.req, "document %s: download cut short: %s",
                  o->r.id, err);
        storage_dl_end(o);
        return;
    }
    if (o->chunk_len == 0 || host->req_is_gone(o->r.req)) {
        storage_dl_end(o);
        return;
    }
    chunk = o->chunk;
    o->chunk = NULL;
    o->offset += (int64_t)o->chunk_len;
    if (host->reply_chunk(o->r.req, chunk, o->chunk_len, free) != LX_OK) {
        storage_dl_end(o);
        return;
    }
    storage_dl_next(o);
}

/* Pool: one chunk of the file (SQLite). */
static void storage_dl_pread(void *arg)
{
    storage_dl *o = arg;
    ssize_t n;

    o->chunk_len = 0;
    o->read_rc = LX_OK;
    do {
        n = pread(o->fd, o->chunk, STORAGE_CHUNK_SIZE, (off_t)o->offset);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        o->read_rc = LX_EIO;
        snprintf(o->read_err, sizeof(o->read_err), "cannot read the file: %s", strerror(errno));
        return;
    }
    o->chunk_len = (size_t)n;
}

static void storage_dl_pread_done(void *arg, int status)
{
    storage_dl *o = arg;

    storage_dl_chunk(o, status != LX_OK ? LX_ECANCELED : o->read_rc,
                     status != LX_OK ? "the worker is stopping" : o->read_err);
}

/* Pool, with a connection: one chunk of the file (PostgreSQL). */
static int storage_dl_read_job(storage_state *st, storage_conn *c, void *arg, char *err,
                               size_t errlen)
{
    storage_dl *o = arg;

    (void)st;
    o->chunk_len = 0;
    return storage_doc_read(c, o->r.uid, o->r.id, o->offset, o->chunk, STORAGE_CHUNK_SIZE,
                            &o->chunk_len, err, errlen);
}

static void storage_dl_read_done(storage_state *st, void *arg, int rc, const char *err)
{
    (void)st;
    storage_dl_chunk(arg, rc, err);
}

/* Queues the read of the next chunk. */
static void storage_dl_next(storage_dl *o)
{
    storage_state *st = o->r.st;
    lx_worker *w = st->host->req_worker(o->r.req);
    int rc;

    if (o->chunk == NULL && (o->chunk = malloc(STORAGE_CHUNK_SIZE)) == NULL) {
        storage_dl_chunk(o, LX_ENOMEM, "out of memory");
        return;
    }
    if (st->files != NULL)
        rc = st->host->offload(w, storage_dl_pread, storage_dl_pread_done, o);
    else
        rc = storage_run(st, w, storage_dl_read_job, storage_dl_read_done, o);
    if (rc != LX_OK)
        storage_dl_chunk(o, rc, "cannot queue the read");
}

static void storage_dl_opened(storage_state *st, void *arg, int rc, const char *err)
{
    storage_dl *o = arg;
    const lx_host *host = st->host;
    lx_req *req = o->r.req;
    const storage_doc *d = &o->r.d;
    char *disp;

    if (rc == LX_ENOENT && d->id != NULL) {
        host->log(LX_LOG_ERROR, STORAGE_SRC, req, "document %s: %s", o->r.id, err);
        host->reply_error(req, 404, "FILE_MISSING", "the document's file is missing");
        return;
    }
    if (rc != LX_OK) {
        storage_reply_store_error(st, req, rc, err, STORAGE_DOC_NOT_FOUND);
        return;
    }
    disp = storage_disposition(d->original_filename[0] != '\0' ? d->original_filename : "document");
    if (disp == NULL) {
        host->reply_error(req, 500, "INTERNAL", "out of memory");
        return;
    }
    host->set_header(req, "Content-Disposition", disp);
    free(disp);
    host->set_header(req, "X-Content-Type-Options", "nosniff");
    host->set_header(req, "Cache-Control", "private, no-store");
    if (host->reply_start(req, 200,
                          d->mime_type[0] != '\0' ? d->mime_type : "application/octet-stream") !=
        LX_OK) {
        host->reply_end(req);
        return;
    }
    storage_dl_next(o);
}

/* GET /api/documents/{id}/download: 200 with the bytes (Content-Type the
 * document's, Content-Disposition its original name), chunked; 404
 * NOT_FOUND for an absent or another user's document, 404 FILE_MISSING
 * when its file is gone. */
lx_rc storage_h_doc_download(lx_req *req, void *state)
{
    storage_state *st = state;
    int is_failed;
    storage_dl *o = storage_doc_req_new(st, req, sizeof(*o), storage_dl_cleanup, &is_failed);

    if (o == NULL)
        return is_failed ? LX_FAIL : LX_DONE;
    return storage_run_or_reply(st, req, storage_dl_open_job, storage_dl_opened, o, NULL);
}
