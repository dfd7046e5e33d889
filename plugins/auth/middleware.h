/*
 * The auth middleware (middleware.c): finds the token, verifies it, checks
 * the user when asked to, and publishes the principal for later handlers
 * (ctx key LX_AUTH_PRINCIPAL, see <lexiaid/auth.h>) before LX_NEXT.
 *
 *   auth.require_user   401 UNAUTHENTICATED without a token
 *   auth.optional_user  no token: LX_NEXT with no principal; a bad one: 401
 *   auth.require_admin  as require_user, then 403 FORBIDDEN unless the user
 *                       is an admin (custom claim "admin": true, or one of
 *                       admin_emails)
 *   auth.websocket_user as require_user; on a WebSocket route (browsers
 *                       cannot set headers there) the token may also come
 *                       in the `token` query parameter, and every refusal
 *                       is an upgrade then a close: 4001 for a missing,
 *                       bad, expired or revoked token (what the LexiAid web
 *                       client shows as "Authentication failed"; a 401
 *                       would reach it only as 1006), 4003 for 403, 1011
 *                       for 5xx. The core logs the query with the token
 *                       redacted. Elsewhere the query is never read.
 *
 * The token is "Authorization: Bearer <token>", or (Firebase mode only,
 * when there is no Authorization header) the session cookie named by
 * session_cookie. Errors go out through host->reply_error:
 * 401 UNAUTHENTICATED, TOKEN_INVALID, TOKEN_EXPIRED, TOKEN_REVOKED;
 * 403 FORBIDDEN, USER_DISABLED; 503 AUTH_NOT_CONFIGURED, AUTH_UNAVAILABLE;
 * 500 INTERNAL. Tokens never reach a log line or a reply.
 *
 * Each returns LX_NEXT, LX_DONE (replied), LX_ASYNC (held while keys are
 * fetched or the user is looked up; resumed later with LX_NEXT or ended by
 * a reply) or LX_FAIL (out of memory). `state` is the plugin's auth_state.
 */
#ifndef AUTH_MIDDLEWARE_H
#define AUTH_MIDDLEWARE_H

#include <lexiaid/plugin.h>

lx_rc auth_require_user(lx_req *req, void *state);
lx_rc auth_optional_user(lx_req *req, void *state);
lx_rc auth_require_admin(lx_req *req, void *state);
lx_rc auth_websocket_user(lx_req *req, void *state);

#endif
