/*
 * fetch.c: everything the auth plugin fetches over HTTP on a worker loop.
 *
 *   key sources   Google's x509 PEM maps (ID tokens, session cookies) or an
 *                 OIDC JWKS: fetched at worker start, cached for the
 *                 response's max-age, refreshed by a timer before expiry,
 *                 one fetch in flight per source; requests that need keys
 *                 while it runs wait in a queue and are re-verified.
 *   OAuth token   the service account's JWT-bearer grant (the assertion is
 *                 signed on the offload pool), cached until expires_in - 60.
 *   admin calls   the Identity Toolkit admin API (accounts:lookup, signUp,
 *                 sendOobCode, delete), against Google or the emulator.
 *
 * The declarations live in auth.h next to the structures they work on;
 * this header names the module for the build and for readers.
 */
#ifndef AUTH_FETCH_H
#define AUTH_FETCH_H

#include "auth.h"

#endif
