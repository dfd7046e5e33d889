/*
 * Environment for the configuration: the `.env` file and `${VAR}`
 * interpolation. Pure functions, no global state; fuzzed by
 * tests/fuzz/fuzz_env.c.
 */
#ifndef LX_CORE_ENV_H
#define LX_CORE_ENV_H

#include <stddef.h>

/* A set of NAME=value pairs read from a .env file. */
typedef struct lx_env lx_env;

/* Parses .env text (not NUL-terminated; `len` bytes). Accepted lines:
 *   blank, "# comment", NAME=value, "export NAME=value", NAME="double
 *   quoted with \n \" \\ escapes", NAME='single quoted, literal';
 *   unquoted values are trimmed and end at " #".
 * NAME is [A-Za-z_][A-Za-z0-9_]*. A later NAME replaces an earlier one.
 * Returns 0 and a new set in *out (free with lx_env_free), or LX_EINVAL
 * with "line N: message" in err, or LX_ENOMEM. */
int lx_env_parse(const char *text, size_t len, lx_env **out, char *err, size_t errlen);

/* Reads and parses a file. LX_ENOENT (and *out = NULL) when it does not
 * exist; other errors as lx_env_parse with "PATH:line N: message". */
int lx_env_load(const char *path, lx_env **out, char *err, size_t errlen);

/* The value of name in the set, borrowed; NULL when absent or env NULL. */
const char *lx_env_get(const lx_env *env, const char *name);
void lx_env_free(lx_env *env);

/* The lookup used by the config: the real environment first, then env. */
const char *lx_env_lookup(const lx_env *env, const char *name);

/* Replaces in s every
 *   ${NAME}           by its value (error if unset: "undefined variable NAME")
 *   ${NAME:-default}  by its value, or default when unset or empty
 *   ${NAME-default}   by its value, or default when unset
 *   $$                by a single '$'
 * Values come from lookup(arg, name) (NULL = unset). Defaults may not nest
 * another ${...}. Any other '$' is kept as is. Returns 0 and a malloc'd
 * string in *out, LX_EINVAL with a message ("unterminated ${", "bad
 * variable name ...") or LX_ENOMEM. */
int lx_env_interpolate(const char *s, const char *(*lookup)(void *arg, const char *name),
                       void *arg, char **out, char *err, size_t errlen);

#endif
