#include "config.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"

/* The size of lx_plugin in each minor of ABI 1: a descriptor that declares
 * minor m is read up to lx_plugin_size_of_minor[m] and no further, and must
 * be at least that long (plugin.h, "Versioning"). A minor that adds a
 * member to lx_plugin adds its line here. */
#define LX_PLUGIN_SIZE_UPTO(member) (offsetof(lx_plugin, member) + sizeof(((lx_plugin *)0)->member))
static const size_t lx_plugin_size_of_minor[] = {
    [0] = LX_PLUGIN_SIZE_UPTO(health),
    [1] = LX_PLUGIN_SIZE_UPTO(commands),
    [2] = LX_PLUGIN_SIZE_UPTO(commands), /* 1.2 gave LX_H_HEAD_ONLY a meaning */
    [3] = LX_PLUGIN_SIZE_UPTO(commands), /* 1.3: WebSocket sessions, in lx_host */
    [4] = LX_PLUGIN_SIZE_UPTO(commands), /* 1.4: descriptor watches, in lx_host */
};
_Static_assert(sizeof(lx_plugin_size_of_minor) / sizeof(lx_plugin_size_of_minor[0]) ==
                   LX_ABI_MINOR + 1,
               "each minor of the ABI names the size of lx_plugin it has");
_Static_assert(LX_PLUGIN_SIZE_UPTO(commands) == sizeof(lx_plugin),
               "the last minor's descriptor is the whole of lx_plugin");

/* A command name: [a-z][a-z0-9-]* */
static int lx_is_command_name(const char *s)
{
    if (s == NULL || !(*s >= 'a' && *s <= 'z'))
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
            return 0;
    return 1;
}

const lx_command *lx_plugin_commands(const lx_plugin *p)
{
    if (p == NULL || p->abi_major != LX_ABI_MAJOR || p->abi_minor < 1) /* since 1.1 */
        return NULL;
    return p->commands;
}

static int lx_is_ident(const char *s)
{
    if (s == NULL || *s == '\0')
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return 0;
    return 1;
}

int lx_loader_check(const lx_plugin *p, const char *path, const char *conf_name, char *err,
                    size_t errlen)
{
    if (p == NULL) {
        snprintf(err, errlen, "%s: lx_plugin_entry() returned NULL", path);
        return LX_EINVAL;
    }
    if (p->abi_major != LX_ABI_MAJOR) {
        snprintf(err, errlen,
                 "%s: plugin ABI %u.%u, core ABI %d.%d: the major versions differ; rebuild the "
                 "plugin against this SDK",
                 path, p->abi_major, p->abi_minor, LX_ABI_MAJOR, LX_ABI_MINOR);
        return LX_EINVAL;
    }
    if (p->abi_minor > LX_ABI_MINOR) {
        snprintf(err, errlen, "%s: plugin ABI %u.%u, core ABI %d.%d: the plugin needs a newer core",
                 path, p->abi_major, p->abi_minor, LX_ABI_MAJOR, LX_ABI_MINOR);
        return LX_EINVAL;
    }
    if (p->struct_size < lx_plugin_size_of_minor[p->abi_minor]) {
        snprintf(err, errlen,
                 "%s: plugin ABI %u.%u, core ABI %d.%d: its descriptor is %u bytes, but ABI "
                 "%u.%u's is %zu; it was built with a lexiaid/plugin.h that does not match its "
                 "version",
                 path, p->abi_major, p->abi_minor, LX_ABI_MAJOR, LX_ABI_MINOR, p->struct_size,
                 p->abi_major, p->abi_minor, lx_plugin_size_of_minor[p->abi_minor]);
        return LX_EINVAL;
    }
    if (!lx_is_ident(p->name)) {
        snprintf(err, errlen, "%s: the plugin's name is missing or not [A-Za-z0-9_]+", path);
        return LX_EINVAL;
    }
    if (conf_name != NULL && strcmp(p->name, conf_name) != 0) {
        snprintf(err, errlen, "%s: the plugin calls itself '%s' but the config names it '%s'", path,
                 p->name, conf_name);
        return LX_EINVAL;
    }
    if (p->init == NULL) {
        snprintf(err, errlen, "%s: plugin '%s' has no init hook (mandatory)", path, p->name);
        return LX_EINVAL;
    }
    if (p->handlers == NULL) {
        snprintf(err, errlen, "%s: plugin '%s' has no handler table (mandatory, may be empty)",
                 path, p->name);
        return LX_EINVAL;
    }
    for (const lx_handler *h = p->handlers; h->name != NULL; h++) {
        if (!lx_is_ident(h->name) || h->fn == NULL) {
            snprintf(err, errlen, "%s: plugin '%s' has a handler with a bad name or no function",
                     path, p->name);
            return LX_EINVAL;
        }
        for (const lx_handler *g = p->handlers; g != h; g++)
            if (strcmp(g->name, h->name) == 0) {
                snprintf(err, errlen, "%s: plugin '%s' has two handlers named '%s'", path, p->name,
                         h->name);
                return LX_EINVAL;
            }
    }
    const lx_command *cmds = lx_plugin_commands(p);
    for (const lx_command *c = cmds; c != NULL && c->name != NULL; c++) {
        if (!lx_is_command_name(c->name) || c->run == NULL) {
            snprintf(err, errlen,
                     "%s: plugin '%s' has a command with a bad name (not [a-z][a-z0-9-]*) or no "
                     "run function",
                     path, p->name);
            return LX_EINVAL;
        }
        for (const lx_command *d = cmds; d != c; d++)
            if (strcmp(d->name, c->name) == 0) {
                snprintf(err, errlen, "%s: plugin '%s' has two commands named '%s'", path, p->name,
                         c->name);
                return LX_EINVAL;
            }
    }
    return LX_OK;
}

int lx_loader_check_commands(const lx_loaded *items, size_t n, lx_errs *errs)
{
    int rc = LX_OK;

    for (size_t i = 0; i < n; i++)
        for (const lx_command *c = lx_plugin_commands(items[i].desc); c && c->name; c++)
            for (size_t j = 0; j < i; j++)
                for (const lx_command *d = lx_plugin_commands(items[j].desc); d && d->name; d++)
                    if (strcmp(c->name, d->name) == 0) {
                        const lx_plugin_conf *pc = items[i].pconf;
                        lx_errs_add(errs,
                                    "%s:%d: command '%s' is offered by two plugins: '%s' (%s) "
                                    "and '%s' (%s)",
                                    pc ? pc->file : "?", pc ? pc->line : 0, c->name,
                                    items[j].desc->name, items[j].path ? items[j].path : "?",
                                    items[i].desc->name, items[i].path ? items[i].path : "?");
                        rc = LX_EINVAL;
                    }
    return rc;
}

static int lx_provides(const lx_plugin *p, const char *svc)
{
    if (p->provides == NULL)
        return 0;
    for (const char *const *s = p->provides; *s != NULL; s++)
        if (strcmp(*s, svc) == 0)
            return 1;
    return 0;
}

int lx_loader_order(const lx_loaded *items, size_t n, size_t *order, lx_errs *errs)
{
    int rc = LX_OK;
    unsigned char *placed = calloc(n ? n : 1, 1);

    if (placed == NULL)
        return LX_ENOMEM;

    /* Every requirement must have a provider. */
    for (size_t i = 0; i < n; i++) {
        const lx_plugin *p = items[i].desc;
        if (p->requires == NULL)
            continue;
        for (const char *const *r = p->requires; *r != NULL; r++) {
            size_t j;
            for (j = 0; j < n; j++)
                if (j != i && lx_provides(items[j].desc, *r))
                    break;
            if (j == n) {
                const lx_plugin_conf *pc = items[i].pconf;
                lx_errs_add(errs,
                            "%s:%d: plugin '%s' requires service '%s', which no enabled plugin "
                            "provides",
                            pc ? pc->file : "?", pc ? pc->line : 0, p->name, *r);
                rc = LX_EINVAL;
            }
        }
    }
    if (rc != LX_OK)
        goto out;

    /* Repeatedly place the first plugin (in config order) whose needs are met. */
    for (size_t k = 0; k < n; k++) {
        size_t pick = n;
        for (size_t i = 0; i < n && pick == n; i++) {
            if (placed[i])
                continue;
            int is_ready = 1;
            const lx_plugin *p = items[i].desc;
            for (const char *const *r = p->requires; r && *r && is_ready; r++) {
                for (size_t j = 0; j < n; j++)
                    if (j != i && !placed[j] && lx_provides(items[j].desc, *r))
                        is_ready = 0;
            }
            if (is_ready)
                pick = i;
        }
        if (pick == n) {
            for (size_t i = 0; i < n; i++)
                if (!placed[i]) {
                    const lx_plugin_conf *pc = items[i].pconf;
                    lx_errs_add(errs, "%s:%d: plugin '%s' is part of a dependency cycle",
                                pc ? pc->file : "?", pc ? pc->line : 0, items[i].desc->name);
                }
            rc = LX_EINVAL;
            goto out;
        }
        placed[pick] = 1;
        order[k] = pick;
    }
out:
    free(placed);
    return rc;
}

int lx_plugins_load(const lx_conf *conf, lx_plugins **out, lx_errs *errs)
{
    lx_plugins *ps = calloc(1, sizeof(*ps));
    int rc = LX_OK;

    *out = NULL;
    if (ps == NULL)
        return LX_ENOMEM;
    ps->items = calloc(conf->n_plugins ? conf->n_plugins : 1, sizeof(*ps->items));
    ps->order = calloc(conf->n_plugins ? conf->n_plugins : 1, sizeof(*ps->order));
    if (ps->items == NULL || ps->order == NULL) {
        lx_plugins_free(ps);
        return LX_ENOMEM;
    }

    for (size_t i = 0; i < conf->n_plugins; i++) {
        const lx_plugin_conf *pc = &conf->plugins[i];
        char err[1024];

        if (!pc->is_enabled)
            continue;
        void *dl = dlopen(pc->path, RTLD_NOW | RTLD_LOCAL);
        if (dl == NULL) {
            const char *why = dlerror();
            lx_errs_add(errs, "%s:%d: plugin '%s': cannot load %s: %s", pc->file, pc->line,
                        pc->name, pc->path, why ? why : "unknown error");
            rc = LX_EINVAL;
            continue;
        }
        dlerror();
        void *sym = dlsym(dl, LX_PLUGIN_ENTRY_SYMBOL);
        if (sym == NULL) {
            lx_errs_add(errs,
                        "%s:%d: plugin '%s': %s exports no %s symbol (is it a lexiaid plugin?)",
                        pc->file, pc->line, pc->name, pc->path, LX_PLUGIN_ENTRY_SYMBOL);
            rc = LX_EINVAL;
            continue;
        }
        lx_plugin_entry_fn entry;
        /* POSIX guarantees a function pointer round-trips through void * for dlsym */
        memcpy(&entry, &sym, sizeof(entry));
        const lx_plugin *desc = entry();
        if (lx_loader_check(desc, pc->path, pc->name, err, sizeof(err)) != LX_OK) {
            lx_errs_add(errs, "%s:%d: %s", pc->file, pc->line, err);
            rc = LX_EINVAL;
            continue;
        }
        lx_loaded *it = &ps->items[ps->n++];
        it->pconf = pc;
        it->path = pc->path;
        it->dl = dl;
        it->desc = desc;
    }
    if (rc == LX_OK)
        rc = lx_loader_check_commands(ps->items, ps->n, errs);
    if (rc == LX_OK)
        rc = lx_loader_order(ps->items, ps->n, ps->order, errs);
    if (rc != LX_OK) {
        lx_plugins_free(ps);
        return rc;
    }
    *out = ps;
    return LX_OK;
}

int lx_plugins_init(lx_plugins *ps, const lx_host *host,
                    void (*before_init)(void *arg, lx_loaded *item),
                    int (*after_init)(void *arg, lx_loaded *item, char *err, size_t errlen),
                    void *arg, lx_errs *errs)
{
    for (size_t k = 0; k < ps->n; k++) {
        lx_loaded *it = &ps->items[ps->order[k]];
        const lx_plugin_conf *pc = it->pconf;
        char err[1024] = "";
        void *state = NULL;

        if (before_init != NULL)
            before_init(arg, it);
        int rc = it->desc->init(host, (const lx_cfg *)pc->config, &state, err, sizeof(err));
        if (rc != LX_OK) {
            lx_errs_add(errs, "%s:%d: plugin '%s' failed to initialise: %s", pc->file, pc->line,
                        it->desc->name, err[0] ? err : "init returned an error");
            lx_plugins_shutdown(ps);
            return rc < 0 ? rc : LX_ERROR;
        }
        it->state = state;
        it->is_initialised = 1;
        if (after_init != NULL && (rc = after_init(arg, it, err, sizeof(err))) != LX_OK) {
            lx_errs_add(errs, "%s:%d: plugin '%s': %s", pc->file, pc->line, it->desc->name, err);
            lx_plugins_shutdown(ps);
            return rc;
        }
    }
    return LX_OK;
}

void lx_plugins_shutdown(lx_plugins *ps)
{
    if (ps == NULL)
        return;
    for (size_t k = ps->n; k-- > 0;) {
        lx_loaded *it = &ps->items[ps->order[k]];
        if (!it->is_initialised)
            continue;
        if (it->desc->shutdown != NULL)
            it->desc->shutdown(it->state);
        it->is_initialised = 0;
        it->state = NULL;
    }
}

lx_loaded *lx_plugins_find(const lx_plugins *ps, const char *name, size_t len)
{
    for (size_t i = 0; i < ps->n; i++) {
        const char *pn = ps->items[i].desc->name;
        if (strlen(pn) == len && memcmp(pn, name, len) == 0)
            return &ps->items[i];
    }
    return NULL;
}

const lx_handler *lx_loaded_handler(const lx_loaded *item, const char *name)
{
    for (const lx_handler *h = item->desc->handlers; h->name != NULL; h++)
        if (strcmp(h->name, name) == 0)
            return h;
    return NULL;
}

const lx_command *lx_plugins_command(const lx_plugins *ps, const char *name, lx_loaded **item)
{
    for (size_t i = 0; ps != NULL && i < ps->n; i++)
        for (const lx_command *c = lx_plugin_commands(ps->items[i].desc); c && c->name; c++)
            if (strcmp(c->name, name) == 0) {
                if (item != NULL)
                    *item = &ps->items[i];
                return c;
            }
    return NULL;
}

void lx_plugins_free(lx_plugins *ps)
{
    if (ps == NULL)
        return;
    free(ps->items);
    free(ps->order);
    free(ps);
}
