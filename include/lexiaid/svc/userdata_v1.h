/*
 * Service "userdata.v1": the plugin that keeps a user's data (storage)
 * deletes all of it when the account goes away. The auth plugin's
 * DELETE /api/users calls it first and deletes the identity-provider
 * account only when it succeeded, so no data outlives its account.
 *
 *     void *st;
 *     const lx_userdata_v1 *ud = host->svc_lookup(LX_USERDATA_V1, &st);
 *     if (ud != NULL) ud->delete_user(st, w, uid, done, arg);
 */
#ifndef LEXIAID_SVC_USERDATA_V1_H
#define LEXIAID_SVC_USERDATA_V1_H

#include <lexiaid/plugin.h>

#define LX_USERDATA_V1 "userdata.v1"

typedef struct lx_userdata_v1 {
    uint32_t struct_size;
    /* Deletes every row and file of uid (copied). done(arg, LX_OK) or a
     * negative code with a message (borrowed for the call) runs once on the
     * worker loop w. */
    int (*delete_user)(void *state, lx_worker *w, const char *uid,
                       void (*done)(void *arg, int status, const char *message), void *arg);
} lx_userdata_v1;

#endif
