/*
 * Configuration values shared by the loader (conf.c) and the accessors
 * (cfg.c). Internal to the core; the public accessors are declared in
 * conf.h and reach plugins through the host API.
 */
#ifndef LX_CORE_CFG_H
#define LX_CORE_CFG_H

#include <stddef.h>
#include <libconfig.h>

#include <lexiaid/plugin.h>

/*
 * Every setting may carry a hook (libconfig's per-setting user pointer). We
 * use it for three things, all owned by the config_t and released by its
 * destructor (lx_conf_hook_free): the root's hook names the file, a numeric
 * or bool scalar's hook holds its value as text for lx_cfg_value(), and a
 * string whose ${VAR} interpolation failed is marked so that validation
 * does not report it a second time.
 */
typedef struct lx_conf_hook {
    char *text;
    int is_bad;
} lx_conf_hook;

void lx_conf_hook_free(void *p);
lx_conf_hook *lx_conf_hook_get(config_setting_t *s);
const char *lx_conf_setting_file(const config_setting_t *s);
int lx_conf_setting_line(const config_setting_t *s);
int lx_conf_setting_is_bad(const config_setting_t *s);
void lx_conf_setting_path(const config_setting_t *s, char *buf, size_t buflen);
const char *lx_conf_skip_space(const char *s);

/* The scalar kinds the typed readers convert a setting to, with the C type
 * lx_conf_setting_to() stores for each. */
typedef enum lx_conf_kind {
    LX_CONF_INT,  /* long long */
    LX_CONF_BOOL, /* int, 0 or 1 */
    LX_CONF_SIZE, /* size_t */
    LX_CONF_MS    /* long long, milliseconds */
} lx_conf_kind;

int lx_conf_setting_to(const config_setting_t *s, lx_conf_kind kind, void *out);
const char *lx_conf_kind_what(lx_conf_kind kind);
const char *lx_conf_setting_text(const config_setting_t *s);

#endif
