/*
 * Service "userdata.v1": the plugin that keeps a user's data (storage)
 * makes the user's profile when the account is made, and deletes all of
 * the data when the account goes away. The auth plugin's POST /api/users
 * creates the profile right after the account (and deletes the account
 * again when that fails); its DELETE /api/users calls delete_user first
 * and deletes the identity-provider account only when it succeeded, so no
 * data outlives its account.
 *
 *     void *st;
 *     const lx_userdata_v1 *ud = host->svc_lookup(LX_USERDATA_V1, &st);
 *     if (ud != NULL) ud->delete_user(st, w, uid, done, arg);
 *
 * Members only grow at the end: check struct_size (LX_USERDATA_V1_HAS)
 * before calling one added later.
 */
#ifndef LEXIAID_SVC_USERDATA_V1_H
#define LEXIAID_SVC_USERDATA_V1_H

#include <stddef.h>

#include <lexiaid/plugin.h>

#define LX_USERDATA_V1 "userdata.v1"

typedef struct lx_userdata_v1 {
    uint32_t struct_size;
    /* Deletes every row and file of uid (copied). done(arg, LX_OK) or a
     * negative code with a message (borrowed for the call) runs once on the
     * worker loop w. */
    int (*delete_user)(void *state, lx_worker *w, const char *uid,
                       void (*done)(void *arg, int status, const char *message), void *arg);

    /* -- Added after the first release (check LX_USERDATA_V1_HAS). */

    /* Makes the profile of a new account: uid, email and display name
     * (either may be NULL; all copied), the default preferences and
     * gamification, createdAt now, no last login. An existing profile is
     * left exactly as it is (is_created 0). done(arg, LX_OK, "",
     * is_created) or a negative code with a message (borrowed for the call)
     * runs once on the worker loop w. */
    int (*create_user)(void *state, lx_worker *w, const char *uid, const char *email,
                       const char *display_name,
                       void (*done)(void *arg, int status, const char *message, int is_created),
                       void *arg);
} lx_userdata_v1;

/* True when the table has `member` (it may come from an older plugin). */
#define LX_USERDATA_V1_HAS(ud, member)                                                             \
    ((ud)->struct_size >= offsetof(lx_userdata_v1, member) + sizeof((ud)->member) &&               \
     (ud)->member != NULL)

#endif
