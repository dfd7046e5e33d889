/*
 * service.c: the service "accounts.v1" (include/lexiaid/svc/accounts_v1.h),
 * the identity provider's accounts for other plugins, made with the same
 * admin calls as the account routes (fetch.c).
 */
#ifndef AUTH_SERVICE_H
#define AUTH_SERVICE_H

#include <stddef.h>

#include "auth.h"

/* Registers accounts.v1 with st as its state (in init, in the master).
 * LX_OK, or LX_EEXIST with a message in err. */
int auth_service_register(auth_state *st, char *err, size_t errlen);

#endif
