#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lexiaid/plugin.h>
#include "env.h"

typedef struct lx_env_var {
    char *name;
    char *value;
} lx_env_var;

struct lx_env {
    lx_env_var *vars;
    size_t n_vars;
    size_t cap;
};

/* A growable NUL-terminated byte string. */
typedef struct lx_strbuf {
    char *data;
    size_t len;
    size_t cap;
    int has_failed; /* an allocation failed; data is unusable */
} lx_strbuf;

static void lx_strbuf_append(lx_strbuf *b, const char *s, size_t n)
{
    if (b->has_failed)
        return;
    if (n > (size_t)-1 / 2 - b->len - 1) {
        b->has_failed = 1;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *data = realloc(b->data, cap);
        if (data == NULL) {
            b->has_failed = 1;
            return;
        }
        b->data = data;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static int lx_env_is_name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int lx_env_is_name_char(char c)
{
    return lx_env_is_name_start(c) || (c >= '0' && c <= '9');
}

static int lx_env_is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static void lx_env_set_err(char *err, size_t errlen, size_t line_no, const char *msg)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "line %zu: %s", line_no, msg);
}

/* Stores name=value (both copied), replacing an earlier value of name. */
static int lx_env_put(lx_env *env, const char *name, size_t name_len, const char *value,
                      size_t value_len)
{
    char *v = malloc(value_len + 1);
    if (v == NULL)
        return LX_ENOMEM;
    memcpy(v, value, value_len);
    v[value_len] = '\0';

    for (size_t i = 0; i < env->n_vars; i++) {
        if (strlen(env->vars[i].name) == name_len &&
            memcmp(env->vars[i].name, name, name_len) == 0) {
            free(env->vars[i].value);
            env->vars[i].value = v;
            return LX_OK;
        }
    }

    if (env->n_vars == env->cap) {
        size_t cap = env->cap ? env->cap * 2 : 16;
        lx_env_var *vars = realloc(env->vars, cap * sizeof(*vars));
        if (vars == NULL) {
            free(v);
            return LX_ENOMEM;
        }
        env->vars = vars;
        env->cap = cap;
    }
    char *n = malloc(name_len + 1);
    if (n == NULL) {
        free(v);
        return LX_ENOMEM;
    }
    memcpy(n, name, name_len);
    n[name_len] = '\0';
    env->vars[env->n_vars].name = n;
    env->vars[env->n_vars].value = v;
    env->n_vars++;
    return LX_OK;
}

/* After a closing quote only blanks and a comment may follow. */
static int lx_env_is_rest_empty(const char *p, const char *end)
{
    while (p < end && lx_env_is_blank(*p))
        p++;
    return p == end || *p == '#';
}

/* Parses one line (without its newline). Returns LX_OK, LX_EINVAL with a
 * message in err, or LX_ENOMEM. */
static int lx_env_parse_line(lx_env *env, const char *p, const char *end, size_t line_no,
                             lx_strbuf *tmp, char *err, size_t errlen)
{
    if (p < end && end[-1] == '\r')
        end--;
    while (p < end && lx_env_is_blank(*p))
        p++;
    if (p == end || *p == '#')
        return LX_OK;

    if (end - p > 7 && memcmp(p, "export", 6) == 0 && lx_env_is_blank(p[6])) {
        p += 6;
        while (p < end && lx_env_is_blank(*p))
            p++;
    }

    const char *name = p;
    if (p == end || !lx_env_is_name_start(*p)) {
        lx_env_set_err(err, errlen, line_no, "bad variable name");
        return LX_EINVAL;
    }
    while (p < end && lx_env_is_name_char(*p))
        p++;
    size_t name_len = (size_t)(p - name);
    while (p < end && lx_env_is_blank(*p))
        p++;
    if (p == end || *p != '=') {
        lx_env_set_err(err, errlen, line_no, "expected NAME=value");
        return LX_EINVAL;
    }
    p++;
    while (p < end && lx_env_is_blank(*p))
        p++;

    tmp->len = 0;
    if (p < end && *p == '"') {
        p++;
        for (;;) {
            if (p == end) {
                lx_env_set_err(err, errlen, line_no, "unterminated double quote");
                return LX_EINVAL;
            }
            if (*p == '"')
                break;
            if (*p == '\\' && p + 1 < end) {
                char c = p[1];
                const char *rep = NULL;
                switch (c) {
                case 'n':
                    rep = "\n";
                    break;
                case 't':
                    rep = "\t";
                    break;
                case 'r':
                    rep = "\r";
                    break;
                case '"':
                    rep = "\"";
                    break;
                case '\\':
                    rep = "\\";
                    break;
                default:
                    break;
                }
                if (rep != NULL) {
                    lx_strbuf_append(tmp, rep, 1);
                } else {
                    /* Unknown escapes stay as written, as in shells. */
                    lx_strbuf_append(tmp, p, 2);
                }
                p += 2;
                continue;
            }
            lx_strbuf_append(tmp, p, 1);
            p++;
        }
        if (!lx_env_is_rest_empty(p + 1, end)) {
            lx_env_set_err(err, errlen, line_no, "unexpected text after the closing quote");
            return LX_EINVAL;
        }
    } else if (p < end && *p == '\'') {
        const char *start = ++p;
        while (p < end && *p != '\'')
            p++;
        if (p == end) {
            lx_env_set_err(err, errlen, line_no, "unterminated single quote");
            return LX_EINVAL;
        }
        lx_strbuf_append(tmp, start, (size_t)(p - start));
        if (!lx_env_is_rest_empty(p + 1, end)) {
            lx_env_set_err(err, errlen, line_no, "unexpected text after the closing quote");
            return LX_EINVAL;
        }
    } else {
        /* Unquoted: a comment starts at a '#' after a blank (or at once). */
        const char *start = p;
        const char *stop = p;
        while (stop < end) {
            if (*stop == '#' && (stop == start || lx_env_is_blank(stop[-1])))
                break;
            stop++;
        }
        while (stop > start && lx_env_is_blank(stop[-1]))
            stop--;
        lx_strbuf_append(tmp, start, (size_t)(stop - start));
    }
    if (tmp->has_failed)
        return LX_ENOMEM;
    return lx_env_put(env, name, name_len, tmp->len ? tmp->data : "", tmp->len);
}

int lx_env_parse(const char *text, size_t len, lx_env **out, char *err, size_t errlen)
{
    lx_strbuf tmp = {0};
    int rc = LX_OK;

    *out = NULL;
    lx_env *env = calloc(1, sizeof(*env));
    if (env == NULL)
        return LX_ENOMEM;

    if (len > 0 && memchr(text, '\0', len) != NULL) {
        size_t line_no = 1;
        for (const char *q = text; *q != '\0'; q++)
            line_no += *q == '\n';
        lx_env_set_err(err, errlen, line_no, "NUL byte in file");
        rc = LX_EINVAL;
        goto fail;
    }

    const char *p = text;
    const char *end = text + len;
    size_t line_no = 1;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl != NULL ? nl : end;
        rc = lx_env_parse_line(env, p, line_end, line_no, &tmp, err, errlen);
        if (rc != LX_OK)
            goto fail;
        p = nl != NULL ? nl + 1 : end;
        line_no++;
    }
    free(tmp.data);
    *out = env;
    return LX_OK;

fail:
    if (rc == LX_ENOMEM && err != NULL && errlen > 0)
        snprintf(err, errlen, "out of memory");
    free(tmp.data);
    lx_env_free(env);
    return rc;
}

int lx_env_load(const char *path, lx_env **out, char *err, size_t errlen)
{
    char msg[512];
    lx_strbuf buf = {0};
    int rc;

    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        int saved = errno;
        if (saved == ENOENT)
            return LX_ENOENT;
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "%s: %s", path, strerror(saved));
        return LX_EIO;
    }
    for (;;) {
        char chunk[4096];
        size_t n = fread(chunk, 1, sizeof(chunk), f);
        lx_strbuf_append(&buf, chunk, n);
        if (n < sizeof(chunk))
            break;
    }
    int is_read_error = ferror(f);
    int saved = errno;
    fclose(f);
    if (is_read_error) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "%s: %s", path, strerror(saved));
        free(buf.data);
        return LX_EIO;
    }
    if (buf.has_failed) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "%s: out of memory", path);
        free(buf.data);
        return LX_ENOMEM;
    }

    msg[0] = '\0';
    rc = lx_env_parse(buf.data != NULL ? buf.data : "", buf.len, out, msg, sizeof(msg));
    if (rc != LX_OK && err != NULL && errlen > 0)
        snprintf(err, errlen, "%s:%s", path, msg);
    free(buf.data);
    return rc;
}

const char *lx_env_get(const lx_env *env, const char *name)
{
    if (env == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < env->n_vars; i++) {
        if (strcmp(env->vars[i].name, name) == 0)
            return env->vars[i].value;
    }
    return NULL;
}

void lx_env_free(lx_env *env)
{
    if (env == NULL)
        return;
    for (size_t i = 0; i < env->n_vars; i++) {
        free(env->vars[i].name);
        free(env->vars[i].value);
    }
    free(env->vars);
    free(env);
}

const char *lx_env_lookup(const lx_env *env, const char *name)
{
    const char *v = getenv(name);
    if (v != NULL)
        return v;
    return lx_env_get(env, name);
}

/* Quotes at most 32 bytes of s from p for an error message. */
static void lx_env_interp_err(char *err, size_t errlen, const char *what, const char *p)
{
    if (err == NULL || errlen == 0)
        return;
    size_t n = strnlen(p, 33);
    snprintf(err, errlen, "%s '%.*s%s'", what, (int)(n > 32 ? 32 : n), p, n > 32 ? "..." : "");
}

int lx_env_interpolate(const char *s, const char *(*lookup)(void *arg, const char *name), void *arg,
                       char **out, char *err, size_t errlen)
{
    lx_strbuf b = {0};
    char *name = NULL;
    int rc = LX_OK;
    const char *p = s;

    *out = NULL;
    lx_strbuf_append(&b, "", 0);
    while (*p != '\0') {
        const char *dollar = strchr(p, '$');
        if (dollar == NULL) {
            lx_strbuf_append(&b, p, strlen(p));
            break;
        }
        lx_strbuf_append(&b, p, (size_t)(dollar - p));
        if (dollar[1] == '$') {
            lx_strbuf_append(&b, "$", 1);
            p = dollar + 2;
            continue;
        }
        if (dollar[1] != '{') {
            lx_strbuf_append(&b, "$", 1);
            p = dollar + 1;
            continue;
        }

        const char *q = dollar + 2;
        const char *close = strchr(q, '}');
        if (close == NULL) {
            lx_env_interp_err(err, errlen, "unterminated ${ in", dollar);
            rc = LX_EINVAL;
            goto fail;
        }
        if (!lx_env_is_name_start(*q)) {
            lx_env_interp_err(err, errlen, "bad variable name in", dollar);
            rc = LX_EINVAL;
            goto fail;
        }
        const char *name_start = q;
        while (lx_env_is_name_char(*q))
            q++;
        size_t name_len = (size_t)(q - name_start);

        /* 0: ${NAME}, 1: ${NAME:-default}, 2: ${NAME-default} */
        int kind;
        const char *def = NULL;
        if (*q == '}') {
            kind = 0;
        } else if (q[0] == ':' && q[1] == '-') {
            kind = 1;
            def = q + 2;
        } else if (q[0] == '-') {
            kind = 2;
            def = q + 1;
        } else {
            lx_env_interp_err(err, errlen, "bad variable name in", dollar);
            rc = LX_EINVAL;
            goto fail;
        }
        if (def != NULL) {
            for (const char *d = def; d < close; d++) {
                if (d[0] == '$' && d[1] == '{') {
                    lx_env_interp_err(err, errlen, "nested ${ in the default of", dollar);
                    rc = LX_EINVAL;
                    goto fail;
                }
            }
        }

        free(name);
        name = malloc(name_len + 1);
        if (name == NULL) {
            rc = LX_ENOMEM;
            goto fail;
        }
        memcpy(name, name_start, name_len);
        name[name_len] = '\0';

        const char *val = lookup != NULL ? lookup(arg, name) : NULL;
        if (kind == 0) {
            if (val == NULL) {
                if (err != NULL && errlen > 0)
                    snprintf(err, errlen, "undefined variable %s", name);
                rc = LX_EINVAL;
                goto fail;
            }
            lx_strbuf_append(&b, val, strlen(val));
        } else if (val == NULL || (kind == 1 && val[0] == '\0')) {
            lx_strbuf_append(&b, def, (size_t)(close - def));
        } else {
            lx_strbuf_append(&b, val, strlen(val));
        }
        p = close + 1;
    }
    if (b.has_failed) {
        rc = LX_ENOMEM;
        goto fail;
    }
    free(name);
    *out = b.data;
    return LX_OK;

fail:
    if (rc == LX_ENOMEM && err != NULL && errlen > 0)
        snprintf(err, errlen, "out of memory");
    free(name);
    free(b.data);
    return rc;
}
