/*
 * gtoken.c: service-account keys and the service google_token.v1
 * (include/lexiaid/svc/google_token_v1.h): OAuth access tokens for other
 * plugins' Google API calls, made by the same JWT-bearer exchange as the
 * admin API's token (fetch.c, auth_oauth), one auth_oauth per worker and
 * (account, scopes).
 */
#ifndef AUTH_GTOKEN_H
#define AUTH_GTOKEN_H

#include <stddef.h>

#include "auth.h"

/* Reads a service-account JSON key file into sa (init: may block).
 * LX_OK; or LX_EINVAL / LX_ENOMEM with a message in err that names the
 * path and never quotes the content. On failure sa holds nothing. */
int auth_sa_read(const char *path, auth_sa *sa, char *err, size_t errlen);
/* Frees sa's strings, the private key wiped first. */
void auth_sa_clear(auth_sa *sa);

/* Registers google_token.v1 with st as its state (init, in the master).
 * LX_OK, or LX_EEXIST with a message in err. */
int auth_gtoken_register(auth_state *st, char *err, size_t errlen);
/* Frees the accounts opened through the service (shutdown). */
void auth_gtoken_free_accounts(auth_state *st);
/* worker_stop: fails the calls still waiting (LX_ECANCELED) and frees the
 * worker's tokens. */
void auth_gtoken_worker_stop(auth_worker *aw);

#endif
