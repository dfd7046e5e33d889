/*
 * The plugin loader: dlopen(RTLD_NOW|RTLD_LOCAL) each enabled plugin of the
 * config, check its descriptor against the core's ABI (and, since 1.1, its
 * commands: unique across plugins), order the plugins by
 * the services they provide and require, and run their init hooks in that
 * order. Plugins are never unloaded while the process lives.
 */
#ifndef LX_CORE_LOADER_H
#define LX_CORE_LOADER_H

#include <stddef.h>

#include <lexiaid/plugin.h>
#include "conf.h"
#include "errs.h"

typedef struct lx_loaded {
    const lx_plugin_conf *pconf; /* borrowed from the conf */
    const char *path;            /* borrowed from pconf */
    void *dl;
    const lx_plugin *desc;       /* the plugin's constant descriptor */
    void *state;                 /* what init stored */
    int is_initialised;
} lx_loaded;

typedef struct lx_plugins {
    lx_loaded *items; /* config order */
    size_t n;
    size_t *order;    /* indices into items, dependency order */
} lx_plugins;

/* Checks a descriptor returned by `path`'s entry point for the plugin the
 * config calls `conf_name`: the version rule of plugin.h (same major, a
 * minor no newer than the core's, struct_size at least lx_plugin's size in
 * that minor), then names, hooks and tables. Returns LX_OK, or LX_EINVAL
 * with a message that names the file (and, for version problems, the
 * plugin's and the core's ABI versions). Pure. */
int lx_loader_check(const lx_plugin *p, const char *path, const char *conf_name, char *err,
                    size_t errlen);

/* The commands of a descriptor (NULL-terminated), or NULL when it offers
 * none or declares a minor before 1.1 (which has no such member: it is then
 * never read). Pure. */
const lx_command *lx_plugin_commands(const lx_plugin *p);

/* Refuses two plugins of items offering the same command name: a line in
 * errs per clash, naming both plugins and their files. Returns LX_OK or
 * LX_EINVAL. Pure. */
int lx_loader_check_commands(const lx_loaded *items, size_t n, lx_errs *errs);

/* Orders items so that every plugin comes after the providers of what it
 * requires, keeping config order otherwise. Fills order[n]. Returns LX_OK,
 * or LX_EINVAL with a line in errs per unmet requirement or cycle. Pure. */
int lx_loader_order(const lx_loaded *items, size_t n, size_t *order, lx_errs *errs);

/* Loads every enabled plugin of conf, checks and orders them. On failure
 * returns a negative code with every problem in errs ("FILE:LINE: ...") and
 * *out = NULL. Nothing is initialised yet. */
int lx_plugins_load(const lx_conf *conf, lx_plugins **out, lx_errs *errs);

/* Runs init in dependency order. before_init(arg, item) runs just before
 * each init (the core uses it to know who registers services), and
 * after_init(arg, item) just after a success, returning LX_OK or a negative
 * code with a message (e.g. a declared service never registered). On the
 * first failure the plugins already initialised are shut down in reverse
 * order and the error is added to errs. */
int lx_plugins_init(lx_plugins *ps, const lx_host *host,
                    void (*before_init)(void *arg, lx_loaded *item),
                    int (*after_init)(void *arg, lx_loaded *item, char *err, size_t errlen),
                    void *arg, lx_errs *errs);

/* Calls shutdown of every initialised plugin, in reverse dependency order. */
void lx_plugins_shutdown(lx_plugins *ps);

/* The loaded plugin named `name`, or NULL. */
lx_loaded *lx_plugins_find(const lx_plugins *ps, const char *name, size_t len);

/* The handler `name` of a loaded plugin, or NULL. */
const lx_handler *lx_loaded_handler(const lx_loaded *item, const char *name);

/* The command `name` of the loaded plugins and (if item) the plugin that
 * offers it; NULL when none does. */
const lx_command *lx_plugins_command(const lx_plugins *ps, const char *name, lx_loaded **item);

/* Frees the bookkeeping (the shared objects stay loaded). */
void lx_plugins_free(lx_plugins *ps);

#endif
