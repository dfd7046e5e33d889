/*
 * Held requests: the auth_rq that the middleware (middleware.c), the
 * account routes (accounts.c) and the outbound calls (fetch.c) share while
 * a request waits (LX_ASYNC). This file makes one, registers its abort
 * hook, and ends it after a failure; the contracts are in auth.h.
 *
 * Ownership: an auth_rq lives in request memory (host->req_alloc) and dies
 * with the request, so a late abort callback still finds it; nothing here
 * frees it. The principal it may hold is malloc'd and freed here when the
 * request ends without passing it on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "fetch.h"

auth_rq *auth_rq_new(auth_worker *aw, lx_req *req, auth_role role)
{
    auth_rq *rq = aw->st->host->req_alloc(req, sizeof(*rq));

    if (rq == NULL)
        return NULL;
    memset(rq, 0, sizeof(*rq));
    rq->aw = aw;
    rq->req = req;
    rq->role = role;
    return rq;
}

/* The client went away or the route timed out (the core answered 504). */
static void auth_rq_on_abort(lx_req *req, void *arg)
{
    auth_rq *rq = arg;

    rq->is_aborted = 1;
    if (!rq->is_pending || rq->is_in_svc)
        return; /* not ours to end now (the service's callback will) */
    auth_waitq_remove(rq);
    auth_rq_cancel_call(rq);
    free(rq->principal);
    rq->principal = NULL;
    rq->is_pending = 0;
    rq->aw->st->host->req_resume(req, LX_DONE);
}

int auth_rq_hold(auth_rq *rq)
{
    int rc;

    if (rq->has_abort_hook)
        return LX_OK;
    rc = rq->aw->st->host->req_on_abort(rq->req, auth_rq_on_abort, rq);
    if (rc != LX_OK)
        return rc;
    rq->has_abort_hook = 1;
    return LX_OK;
}

void auth_refuse(const lx_host *host, lx_req *req, int is_ws, int status, const char *code,
                 const char *message)
{
    if (is_ws) {
        int close = status == 401 ? 4001 : status == 403 ? 4003 : LX_WS_INTERNAL;
        char reason[124];
        snprintf(reason, sizeof(reason), "%s", message);
        if (host->ws_reject(req, close, reason) != LX_EINVAL)
            return;
    }
    host->reply_error(req, status, code, message);
}

void auth_rq_end_error(auth_rq *rq, int status, const char *code, const char *message)
{
    free(rq->principal);
    rq->principal = NULL;
    rq->is_pending = 0;
    auth_refuse(rq->aw->st->host, rq->req, rq->is_ws, status, code, message);
}
