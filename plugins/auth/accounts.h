/*
 * The account routes (accounts.c), through the Identity Toolkit admin API:
 *
 *   auth.signup        POST /api/users {email, password (>= 6), display_name?}
 *                      (no token) -> 201 {"status":"success","message","userId"};
 *                      400 VALIDATION_ERROR naming the field; 409 EMAIL_EXISTS
 *   auth.verify_email  POST /api/users/verify-email (after auth.require_user)
 *                      -> {"status":"success","link"}
 *   auth.delete_user   DELETE /api/users (after auth.require_user): the
 *                      "userdata.v1" service deletes the user's data first
 *                      (when some plugin provides it), then the account goes
 *                      -> {"status":"success","message":"User deleted"}
 *
 * Errors are {"status":"error","message":"...","code":"..."} as the original
 * backend answered them. `state` is the plugin's auth_state.
 */
#ifndef AUTH_ACCOUNTS_H
#define AUTH_ACCOUNTS_H

#include <lexiaid/plugin.h>

lx_rc auth_signup(lx_req *req, void *state);
lx_rc auth_verify_email(lx_req *req, void *state);
lx_rc auth_delete_user(lx_req *req, void *state);

#endif
