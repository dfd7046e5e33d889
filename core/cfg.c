/*
 * Configuration values: the per-setting hooks, the parsers of sizes,
 * durations and booleans, the CPU count, and the typed accessors behind the
 * host API's cfg_* functions. Loading and validating the file is conf.c.
 */
#include "config.h"

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* sched_getaffinity, CPU_COUNT */
#endif

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cfg.h"
#include "conf.h"

void lx_conf_hook_free(void *p)
{
    lx_conf_hook *h = p;
    free(h->text);
    free(h);
}

lx_conf_hook *lx_conf_hook_get(config_setting_t *s)
{
    lx_conf_hook *h = config_setting_get_hook(s);
    if (h == NULL) {
        h = calloc(1, sizeof(*h));
        if (h == NULL)
            return NULL;
        config_setting_set_hook(s, h);
    }
    return h;
}

/* Where a setting was written. libconfig has no file for settings read
 * from a string: the root's hook names it then. */
const char *lx_conf_setting_file(const config_setting_t *s)
{
    if (s == NULL)
        return "<config>";
    if (config_setting_source_file(s) != NULL)
        return config_setting_source_file(s);
    while (config_setting_parent(s) != NULL)
        s = config_setting_parent(s);
    const lx_conf_hook *h = config_setting_get_hook(s);
    if (h != NULL && h->text != NULL)
        return h->text;
    return "<config>";
}

int lx_conf_setting_line(const config_setting_t *s)
{
    return s != NULL ? (int)config_setting_source_line(s) : 0;
}

int lx_conf_setting_is_bad(const config_setting_t *s)
{
    const lx_conf_hook *h = config_setting_get_hook(s);
    return h != NULL && h->is_bad;
}

/* The dotted path of a setting: "server.listen", "routes[2].before[0]". */
void lx_conf_setting_path(const config_setting_t *s, char *buf, size_t buflen)
{
    const config_setting_t *chain[32];
    size_t n = 0;

    buf[0] = '\0';
    for (const config_setting_t *p = s; p != NULL && config_setting_parent(p) != NULL;
         p = config_setting_parent(p)) {
        if (n == sizeof(chain) / sizeof(chain[0])) {
            snprintf(buf, buflen, "...");
            break;
        }
        chain[n++] = p;
    }
    size_t len = strlen(buf);
    while (n > 0 && len + 1 < buflen) {
        const config_setting_t *p = chain[--n];
        int w;
        if (config_setting_name(p) != NULL)
            w = snprintf(buf + len, buflen - len, "%s%s", len > 0 ? "." : "",
                         config_setting_name(p));
        else
            w = snprintf(buf + len, buflen - len, "[%d]", config_setting_index(p));
        if (w < 0)
            break;
        len += (size_t)w;
        if (len >= buflen)
            len = buflen - 1;
    }
}

/* ------------------------------------------------------------------------ */
/* Parsers                                                                  */

const char *lx_conf_skip_space(const char *s)
{
    while (*s != '\0' && isspace((unsigned char)*s))
        s++;
    return s;
}

static int lx_conf_is_rest_space(const char *s)
{
    return *lx_conf_skip_space(s) == '\0';
}

/* Reads the unsigned decimal at *p (at least one digit); no overflow. */
static int lx_conf_parse_digits(const char **p, unsigned long long *out)
{
    const char *s = *p;
    unsigned long long v = 0;

    if (!isdigit((unsigned char)*s))
        return LX_EINVAL;
    while (isdigit((unsigned char)*s)) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (ULLONG_MAX - d) / 10)
            return LX_EINVAL;
        v = v * 10 + d;
        s++;
    }
    *p = s;
    *out = v;
    return LX_OK;
}

/* Reads the number of a size or a duration at *p: blanks, the digits,
 * blanks; *p is left on what follows (the unit). NULL is LX_EINVAL. */
static int lx_conf_parse_amount(const char **p, unsigned long long *out)
{
    const char *s = *p;

    if (s == NULL)
        return LX_EINVAL;
    s = lx_conf_skip_space(s);
    if (lx_conf_parse_digits(&s, out) != LX_OK)
        return LX_EINVAL;
    *p = lx_conf_skip_space(s);
    return LX_OK;
}

/* A signed decimal integer with optional surrounding blanks. */
static int lx_conf_parse_int(const char *s, long long *out)
{
    unsigned long long v;
    int is_negative = 0;

    if (s == NULL)
        return LX_EINVAL;
    s = lx_conf_skip_space(s);
    if (*s == '-' || *s == '+') {
        is_negative = *s == '-';
        s++;
    }
    if (lx_conf_parse_digits(&s, &v) != LX_OK || !lx_conf_is_rest_space(s))
        return LX_EINVAL;
    if (is_negative) {
        if (v > (unsigned long long)LLONG_MAX + 1)
            return LX_EINVAL;
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > (unsigned long long)LLONG_MAX)
            return LX_EINVAL;
        *out = (long long)v;
    }
    return LX_OK;
}

/* Parses "123", "64K", "25M", "1G", "2T" (binary multiples; an optional
 * trailing B as in "64KB"). Returns LX_OK or LX_EINVAL (also on overflow). */
int lx_conf_parse_size(const char *s, size_t *out)
{
    unsigned long long v;
    unsigned shift = 0;

    if (lx_conf_parse_amount(&s, &v) != LX_OK)
        return LX_EINVAL;
    switch (*s) {
    case 'k':
    case 'K':
        shift = 10;
        s++;
        break;
    case 'm':
    case 'M':
        shift = 20;
        s++;
        break;
    case 'g':
    case 'G':
        shift = 30;
        s++;
        break;
    case 't':
    case 'T':
        shift = 40;
        s++;
        break;
    default:
        break;
    }
    if (*s == 'b' || *s == 'B')
        s++;
    if (!lx_conf_is_rest_space(s))
        return LX_EINVAL;
    if (v > (unsigned long long)SIZE_MAX >> shift)
        return LX_EINVAL;
    *out = (size_t)(v << shift);
    return LX_OK;
}

/* Parses a duration to milliseconds: "250ms", "30s", "5m", "1h", "2d", or a
 * bare number of milliseconds. Returns LX_OK or LX_EINVAL (also on
 * overflow). */
int lx_conf_parse_ms(const char *s, long long *out)
{
    unsigned long long v;
    unsigned long long mult;

    if (lx_conf_parse_amount(&s, &v) != LX_OK)
        return LX_EINVAL;
    if (*s == '\0' || (s[0] == 'm' && s[1] == 's')) {
        mult = 1;
        s += *s == '\0' ? 0 : 2;
    } else if (*s == 's') {
        mult = 1000;
        s++;
    } else if (*s == 'm') {
        mult = 60ULL * 1000;
        s++;
    } else if (*s == 'h') {
        mult = 3600ULL * 1000;
        s++;
    } else if (*s == 'd') {
        mult = 24ULL * 3600 * 1000;
        s++;
    } else {
        return LX_EINVAL;
    }
    if (!lx_conf_is_rest_space(s))
        return LX_EINVAL;
    if (v > (unsigned long long)LLONG_MAX / mult)
        return LX_EINVAL;
    *out = (long long)(v * mult);
    return LX_OK;
}

/* true/false, yes/no, on/off, 1/0, any case, blanks around allowed.
 * Returns LX_OK or LX_EINVAL. */
int lx_conf_parse_bool(const char *s, int *out)
{
    static const char *const truths[] = {"true", "yes", "on", "1"};
    static const char *const lies[] = {"false", "no", "off", "0"};
    char word[8];
    size_t n = 0;

    if (s == NULL)
        return LX_EINVAL;
    s = lx_conf_skip_space(s);
    while (*s != '\0' && !isspace((unsigned char)*s)) {
        if (n + 1 >= sizeof(word))
            return LX_EINVAL;
        word[n++] = *s++;
    }
    word[n] = '\0';
    if (!lx_conf_is_rest_space(s))
        return LX_EINVAL;
    for (size_t i = 0; i < sizeof(truths) / sizeof(truths[0]); i++) {
        if (strcasecmp(word, truths[i]) == 0) {
            *out = 1;
            return LX_OK;
        }
        if (strcasecmp(word, lies[i]) == 0) {
            *out = 0;
            return LX_OK;
        }
    }
    return LX_EINVAL;
}

/* ------------------------------------------------------------------------ */
/* CPU count                                                                */

/* Reads the first line of a small file into buf; LX_OK or LX_ENOENT. */
static int lx_conf_read_line(const char *path, char *buf, size_t buflen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return LX_ENOENT;
    char *line = fgets(buf, (int)buflen, f);
    fclose(f);
    return line != NULL ? LX_OK : LX_ENOENT;
}

/* quota/period rounded up, or 0 when there is no quota. */
static long long lx_conf_quota_cpus(long long quota, long long period)
{
    if (quota <= 0 || period <= 0)
        return 0;
    return quota / period + (quota % period != 0);
}

/* CPUs allowed by the cgroup's CPU quota, or 0 when unlimited/unknown. */
static long long lx_conf_cgroup_cpus(void)
{
    char line[128];
    char a[64], b[64];
    long long quota, period;

    if (lx_conf_read_line("/sys/fs/cgroup/cpu.max", line, sizeof(line)) == LX_OK) {
        if (sscanf(line, "%63s %63s", a, b) != 2 || strcmp(a, "max") == 0)
            return 0;
        if (lx_conf_parse_int(a, &quota) != LX_OK || lx_conf_parse_int(b, &period) != LX_OK)
            return 0;
        return lx_conf_quota_cpus(quota, period);
    }
    if (lx_conf_read_line("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", line, sizeof(line)) != LX_OK ||
        lx_conf_parse_int(line, &quota) != LX_OK)
        return 0;
    if (lx_conf_read_line("/sys/fs/cgroup/cpu/cpu.cfs_period_us", line, sizeof(line)) != LX_OK ||
        lx_conf_parse_int(line, &period) != LX_OK)
        return 0;
    return lx_conf_quota_cpus(quota, period);
}

int lx_cpu_count(void)
{
    long long n = 0;
    cpu_set_t set;

    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        n = CPU_COUNT(&set);
    if (n <= 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        n = online > 0 ? online : 1;
    }
    long long quota = lx_conf_cgroup_cpus();
    if (quota > 0 && quota < n)
        n = quota;
    if (n > INT_MAX)
        n = INT_MAX;
    return n < 1 ? 1 : (int)n;
}

/* ------------------------------------------------------------------------ */
/* Accessors for plugins (the host API's cfg_* functions)                   */

static config_setting_t *lx_cfg_setting(const lx_cfg *cfg)
{
    /* lx_cfg is opaque to plugins; underneath it is a libconfig setting. */
    return (config_setting_t *)(uintptr_t)cfg;
}

static void LX_PRINTF(4, 5)
    lx_cfg_err(char *err, size_t errlen, const config_setting_t *s, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "%s:%d: %s", lx_conf_setting_file(s), lx_conf_setting_line(s), msg);
}

/* The direct child `key` of a group, or NULL. */
static config_setting_t *lx_cfg_member(const lx_cfg *cfg, const char *key)
{
    config_setting_t *s = lx_cfg_setting(cfg);
    if (s == NULL || key == NULL || !config_setting_is_group(s))
        return NULL;
    return config_setting_get_member(s, key);
}

/* Reads s as `kind` into *out, whose C type lx_conf_kind names: an integer
 * setting (not negative for a size or a duration, and not for a boolean), a
 * boolean setting (for a boolean only), or a string in the form
 * lx_conf_parse_int, _ms, _size or _bool reads. *out is untouched on error.
 * LX_OK, or LX_EINVAL when s is not a value of that kind. */
int lx_conf_setting_to(const config_setting_t *s, lx_conf_kind kind, void *out)
{
    long long ll = 0;
    size_t sz = 0;
    int b = 0;
    int rc = LX_EINVAL;
    int type = config_setting_type(s);

    if (type == CONFIG_TYPE_STRING) {
        const char *v = config_setting_get_string(s);
        if (kind == LX_CONF_INT)
            rc = lx_conf_parse_int(v, &ll);
        else if (kind == LX_CONF_MS)
            rc = lx_conf_parse_ms(v, &ll);
        else if (kind == LX_CONF_SIZE)
            rc = lx_conf_parse_size(v, &sz);
        else
            rc = lx_conf_parse_bool(v, &b);
    } else if (type == CONFIG_TYPE_BOOL && kind == LX_CONF_BOOL) {
        b = config_setting_get_bool(s) ? 1 : 0;
        rc = LX_OK;
    } else if ((type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64) && kind != LX_CONF_BOOL) {
        ll = config_setting_get_int64(s);
        sz = (size_t)ll;
        if (kind == LX_CONF_INT ||
            (ll >= 0 && (kind == LX_CONF_MS || (unsigned long long)ll <= SIZE_MAX)))
            rc = LX_OK;
    }
    if (rc != LX_OK)
        return rc;
    if (kind == LX_CONF_SIZE)
        *(size_t *)out = sz;
    else if (kind == LX_CONF_BOOL)
        *(int *)out = b;
    else
        *(long long *)out = ll;
    return LX_OK;
}

/* What a value of `kind` looks like, for "expected ... (got '...')" in the
 * messages of conf.c and of the cfg_* accessors (static text). */
const char *lx_conf_kind_what(lx_conf_kind kind)
{
    switch (kind) {
    case LX_CONF_INT:
        return "an integer";
    case LX_CONF_BOOL:
        return "true or false";
    case LX_CONF_SIZE:
        return "a size like 64K, 25M";
    case LX_CONF_MS:
        return "a duration like 250ms, 30s, 5m";
    }
    return "a value";
}

/* The value as written, for "(got '...')" in messages. */
const char *lx_conf_setting_text(const config_setting_t *s)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_STRING:
        return config_setting_get_string(s);
    case CONFIG_TYPE_GROUP:
        return "a group";
    case CONFIG_TYPE_LIST:
        return "a list";
    case CONFIG_TYPE_ARRAY:
        return "an array";
    default: {
        const lx_conf_hook *h = config_setting_get_hook(s);
        if (h != NULL && h->text != NULL)
            return h->text;
        return config_setting_type(s) == CONFIG_TYPE_BOOL ? "a boolean" : "a number";
    }
    }
}

int lx_cfg_string(const lx_cfg *cfg, const char *key, const char **out, char *err, size_t errlen)
{
    config_setting_t *s = lx_cfg_member(cfg, key);
    if (s == NULL)
        return LX_ENOENT;
    if (config_setting_type(s) != CONFIG_TYPE_STRING) {
        lx_cfg_err(err, errlen, s, "%s: expected a string", key);
        return LX_EINVAL;
    }
    *out = config_setting_get_string(s);
    return LX_OK;
}

/* The member `key` of cfg as `kind` into *out (see lx_conf_setting_to):
 * LX_ENOENT when absent, LX_EINVAL with "FILE:LINE: KEY: expected ... (got
 * '...')" in err when not of that kind (*out untouched), else LX_OK. */
static int lx_cfg_typed(const lx_cfg *cfg, const char *key, lx_conf_kind kind, void *out, char *err,
                        size_t errlen)
{
    config_setting_t *s = lx_cfg_member(cfg, key);
    if (s == NULL)
        return LX_ENOENT;
    if (lx_conf_setting_to(s, kind, out) != LX_OK) {
        lx_cfg_err(err, errlen, s, "%s: expected %s (got '%s')", key, lx_conf_kind_what(kind),
                   lx_conf_setting_text(s));
        return LX_EINVAL;
    }
    return LX_OK;
}

int lx_cfg_int(const lx_cfg *cfg, const char *key, long long *out, char *err, size_t errlen)
{
    return lx_cfg_typed(cfg, key, LX_CONF_INT, out, err, errlen);
}

int lx_cfg_bool(const lx_cfg *cfg, const char *key, int *out, char *err, size_t errlen)
{
    return lx_cfg_typed(cfg, key, LX_CONF_BOOL, out, err, errlen);
}

int lx_cfg_size(const lx_cfg *cfg, const char *key, size_t *out, char *err, size_t errlen)
{
    return lx_cfg_typed(cfg, key, LX_CONF_SIZE, out, err, errlen);
}

int lx_cfg_ms(const lx_cfg *cfg, const char *key, long long *out, char *err, size_t errlen)
{
    return lx_cfg_typed(cfg, key, LX_CONF_MS, out, err, errlen);
}

/* A child group, list or array; NULL when absent or a scalar. */
const lx_cfg *lx_cfg_child(const lx_cfg *cfg, const char *key)
{
    config_setting_t *s = lx_cfg_member(cfg, key);
    if (s == NULL || !config_setting_is_aggregate(s))
        return NULL;
    return (const lx_cfg *)s;
}

/* Elements of a list or array (members of a group, in order); 0 for a
 * scalar or NULL. */
int lx_cfg_count(const lx_cfg *cfg)
{
    config_setting_t *s = lx_cfg_setting(cfg);
    if (s == NULL || !config_setting_is_aggregate(s))
        return 0;
    return config_setting_length(s);
}

const lx_cfg *lx_cfg_elem(const lx_cfg *cfg, int i)
{
    config_setting_t *s = lx_cfg_setting(cfg);
    if (s == NULL || i < 0 || !config_setting_is_aggregate(s))
        return NULL;
    return (const lx_cfg *)config_setting_get_elem(s, (unsigned)i);
}

/* A string's own text; numbers and booleans as text ("42", "true") for
 * trees read by lx_conf_load*; NULL for aggregates. */
const char *lx_cfg_value(const lx_cfg *cfg)
{
    config_setting_t *s = lx_cfg_setting(cfg);
    if (s == NULL || config_setting_is_aggregate(s))
        return NULL;
    if (config_setting_type(s) == CONFIG_TYPE_STRING)
        return config_setting_get_string(s);
    const lx_conf_hook *h = config_setting_get_hook(s);
    return h != NULL ? h->text : NULL;
}

int lx_cfg_check_keys(const lx_cfg *cfg, const char *const *allowed, char *err, size_t errlen)
{
    config_setting_t *s = lx_cfg_setting(cfg);
    if (s == NULL || !config_setting_is_group(s))
        return LX_OK;
    int n = config_setting_length(s);
    for (int i = 0; i < n; i++) {
        config_setting_t *m = config_setting_get_elem(s, (unsigned)i);
        const char *name = config_setting_name(m);
        int is_known = 0;
        for (size_t k = 0; allowed != NULL && allowed[k] != NULL; k++) {
            if (strcmp(allowed[k], name) == 0) {
                is_known = 1;
                break;
            }
        }
        if (!is_known) {
            lx_cfg_err(err, errlen, m, "unknown key '%s'", name);
            return LX_EINVAL;
        }
    }
    return LX_OK;
}

void lx_cfg_where(const lx_cfg *cfg, char *buf, size_t buflen)
{
    const config_setting_t *s = lx_cfg_setting(cfg);
    if (buf == NULL || buflen == 0)
        return;
    snprintf(buf, buflen, "%s:%d", lx_conf_setting_file(s), lx_conf_setting_line(s));
}
