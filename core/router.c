#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lexiaid/plugin.h>

#include "router.h"

/*
 * A segment trie. The root stands for "/"; each node below it stands for
 * one more path segment, either a literal (kept sorted by length, then
 * bytes, for a binary search) or the node's single {param} child. A node
 * that ends a pattern has a leaf: one route slot per method.
 *
 * Matching walks the trie depth first, literal before param, and uses the
 * parent pointers to backtrack, so it needs neither recursion nor a heap:
 * every node is entered at most once per lookup.
 */

enum {
    LX_M_GET,
    LX_M_HEAD,
    LX_M_POST,
    LX_M_PUT,
    LX_M_PATCH,
    LX_M_DELETE,
    LX_M_OPTIONS,
    LX_M_COUNT
};

/* In the fixed order the Allow header lists them. */
static const char *const lx_method_names[LX_M_COUNT] = {
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
};

typedef struct lx_route {
    void *data;    /* borrowed from the caller of lx_router_add */
    char *pattern; /* owned; one block that also holds the names */
    size_t n_params;
    const char *names[LX_ROUTER_MAX_PARAMS]; /* point into pattern's block */
} lx_route;

typedef struct lx_rleaf {
    unsigned mask; /* bit i set when routes[i] is used */
    lx_route routes[LX_M_COUNT];
} lx_rleaf;

typedef struct lx_rnode lx_rnode;
struct lx_rnode {
    lx_rnode *parent;
    lx_rnode **kids; /* literal children, sorted by (len, bytes) */
    size_t n_kids;
    size_t cap_kids;
    lx_rnode *param; /* the {param} child, or NULL */
    lx_rleaf *leaf;  /* routes ending here, or NULL */
    int is_param;
    size_t len; /* of seg */
    char seg[]; /* the literal, NUL-terminated; empty for root and params */
};

struct lx_router {
    lx_rnode *root;
};

/* Segment offsets of a parsed path: segment i is buf + off[i], of length
 * off[i + 1] - off[i] - 1 (segments are stored NUL-separated). */
typedef struct lx_segs {
    size_t n;
    uint16_t off[LX_ROUTER_MAX_PATH + 1];
} lx_segs;

static void lx_set_err(char *err, size_t errlen, const char *fmt, ...) LX_PRINTF(3, 4);

static void lx_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* The method's index, or -1 for one we do not route. */
static int lx_method_index(const char *method)
{
    if (method == NULL)
        return -1;
    for (int i = 0; i < LX_M_COUNT; i++)
        if (strcmp(method, lx_method_names[i]) == 0)
            return i;
    return -1;
}

static int lx_hex(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int lx_url_decode(const char *in, size_t len, char *out, size_t *outlen)
{
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '%') {
            int hi, lo;
            if (len - i < 3 || (hi = lx_hex((unsigned char)in[i + 1])) < 0 ||
                (lo = lx_hex((unsigned char)in[i + 2])) < 0)
                return LX_EINVAL;
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        }
        /* A NUL, encoded or not, would cut the value short for C callers. */
        if (c == '\0')
            return LX_EINVAL;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    if (outlen != NULL)
        *outlen = o;
    return LX_OK;
}

static int lx_is_dot_segment(const char *s, size_t len)
{
    return (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.');
}

/* Splits and decodes path into buf (LX_ROUTER_MAX_PATH bytes). "/" has no
 * segments; "/a/" has two, the last one empty. Returns 0 or -1 for a path
 * that is LX_ROUTE_BAD_PATH. */
static int lx_path_parse(const char *path, char *buf, lx_segs *s)
{
    size_t o = 0;

    if (path == NULL || path[0] != '/')
        return -1;
    /* Each raw segment is preceded by a '/' that becomes its NUL, and
     * decoding never grows a segment, so a path that fits fits decoded. */
    if (strnlen(path, LX_ROUTER_MAX_PATH + 1) > LX_ROUTER_MAX_PATH)
        return -1;
    s->n = 0;
    s->off[0] = 0;
    if (path[1] == '\0')
        return 0;

    const char *p = path + 1;
    for (;;) {
        const char *end = strchr(p, '/');
        size_t raw = end ? (size_t)(end - p) : strlen(p);
        size_t len;
        if (lx_url_decode(p, raw, buf + o, &len) != LX_OK)
            return -1;
        if (lx_is_dot_segment(buf + o, len))
            return -1;
        /* An encoded '/' would let "..%2F..%2Fetc" through as one value,
         * which a handler might join into a file path: refuse it, as
         * Apache does by default. */
        if (memchr(buf + o, '/', len) != NULL)
            return -1;
        o += len + 1;
        s->n++;
        s->off[s->n] = (uint16_t)o;
        if (end == NULL)
            return 0;
        p = end + 1;
    }
}

/* Orders literals by length first: cheap to compare, and enough to keep
 * the binary search exact. */
static int lx_seg_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return alen < blen ? -1 : 1;
    return memcmp(a, b, alen);
}

/* Index of the literal child equal to seg, or where it would go (*found
 * says which). */
static size_t lx_kid_search(const lx_rnode *n, const char *seg, size_t len, int *found)
{
    size_t lo = 0, hi = n->n_kids;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const lx_rnode *k = n->kids[mid];
        int c = lx_seg_cmp(k->seg, k->len, seg, len);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

static lx_rnode *lx_node_new(lx_rnode *parent, const char *seg, size_t len, int is_param)
{
    lx_rnode *n = calloc(1, sizeof(*n) + len + 1);

    if (n == NULL)
        return NULL;
    n->parent = parent;
    n->is_param = is_param;
    n->len = len;
    if (len > 0)
        memcpy(n->seg, seg, len);
    n->seg[len] = '\0';
    return n;
}

static void lx_node_free(lx_rnode *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->n_kids; i++)
        lx_node_free(n->kids[i]);
    free(n->kids);
    lx_node_free(n->param);
    if (n->leaf != NULL) {
        for (int m = 0; m < LX_M_COUNT; m++)
            free(n->leaf->routes[m].pattern);
        free(n->leaf);
    }
    free(n);
}

lx_router *lx_router_new(void)
{
    lx_router *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->root = lx_node_new(NULL, "", 0, 0);
    if (r->root == NULL) {
        free(r);
        return NULL;
    }
    return r;
}

void lx_router_free(lx_router *r)
{
    if (r == NULL)
        return;
    lx_node_free(r->root);
    free(r);
}

static int lx_is_name_start(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int lx_is_name_char(unsigned char c)
{
    return lx_is_name_start(c) || (c >= '0' && c <= '9');
}

/* Checks pattern against the grammar of lx_router_add. Returns 0, or -1
 * with a message in err. */
static int lx_pattern_check(const char *pattern, char *err, size_t errlen)
{
    const char *names[LX_ROUTER_MAX_PARAMS];
    size_t name_lens[LX_ROUTER_MAX_PARAMS];
    size_t n_params = 0, i_seg = 0;

    if (pattern[0] != '/') {
        lx_set_err(err, errlen, "route pattern \"%s\" does not start with '/'", pattern);
        return -1;
    }
    if (strlen(pattern) > LX_ROUTER_MAX_PATH) {
        lx_set_err(err, errlen, "route pattern \"%.40s...\" is longer than %d bytes", pattern,
                   LX_ROUTER_MAX_PATH);
        return -1;
    }
    if (pattern[1] == '\0')
        return 0;

    const char *p = pattern + 1;
    for (;;) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        i_seg++;
        if (len == 0) {
            lx_set_err(err, errlen, "route pattern \"%s\": segment %zu is empty", pattern, i_seg);
            return -1;
        }
        if (p[0] == '{') {
            if (p[len - 1] != '}' || len < 2) {
                lx_set_err(err, errlen, "route pattern \"%s\": segment %zu has an unbalanced '{'",
                           pattern, i_seg);
                return -1;
            }
            const char *name = p + 1;
            size_t nlen = len - 2;
            if (nlen == 0) {
                lx_set_err(err, errlen, "route pattern \"%s\": segment %zu has an empty {name}",
                           pattern, i_seg);
                return -1;
            }
            if (!lx_is_name_start((unsigned char)name[0])) {
                lx_set_err(err, errlen,
                           "route pattern \"%s\": segment %zu: a {name} is "
                           "[A-Za-z_][A-Za-z0-9_]*",
                           pattern, i_seg);
                return -1;
            }
            for (size_t k = 1; k < nlen; k++) {
                if (!lx_is_name_char((unsigned char)name[k])) {
                    lx_set_err(err, errlen,
                               "route pattern \"%s\": segment %zu: a {name} is "
                               "[A-Za-z_][A-Za-z0-9_]*",
                               pattern, i_seg);
                    return -1;
                }
            }
            for (size_t k = 0; k < n_params; k++) {
                if (name_lens[k] == nlen && memcmp(names[k], name, nlen) == 0) {
                    lx_set_err(err, errlen, "route pattern \"%s\": {%.*s} appears twice", pattern,
                               (int)nlen, name);
                    return -1;
                }
            }
            if (n_params == LX_ROUTER_MAX_PARAMS) {
                lx_set_err(err, errlen, "route pattern \"%s\" has more than %d {params}", pattern,
                           LX_ROUTER_MAX_PARAMS);
                return -1;
            }
            names[n_params] = name;
            name_lens[n_params] = nlen;
            n_params++;
        } else {
            for (size_t k = 0; k < len; k++) {
                if (p[k] == '{' || p[k] == '}') {
                    lx_set_err(err, errlen,
                               "route pattern \"%s\": segment %zu mixes a literal and a "
                               "brace",
                               pattern, i_seg);
                    return -1;
                }
            }
            /* Such a segment could never match: paths with it are refused. */
            if (lx_is_dot_segment(p, len)) {
                lx_set_err(err, errlen, "route pattern \"%s\": segment %zu is \".\" or \"..\"",
                           pattern, i_seg);
                return -1;
            }
        }
        if (end == NULL)
            return 0;
        p = end + 1;
    }
}

static int lx_kid_insert(lx_rnode *n, size_t at, lx_rnode *kid)
{
    if (n->n_kids == n->cap_kids) {
        size_t cap = n->cap_kids ? n->cap_kids * 2 : 4;
        lx_rnode **kids = realloc(n->kids, cap * sizeof(*kids));
        if (kids == NULL)
            return -1;
        n->kids = kids;
        n->cap_kids = cap;
    }
    memmove(n->kids + at + 1, n->kids + at, (n->n_kids - at) * sizeof(*n->kids));
    n->kids[at] = kid;
    n->n_kids++;
    return 0;
}

/* Removes n and then its ancestors while they hold nothing, so that a
 * failed add leaves no dead branch behind. */
static void lx_node_prune(lx_rnode *n)
{
    while (n->parent != NULL && n->leaf == NULL && n->n_kids == 0 && n->param == NULL) {
        lx_rnode *parent = n->parent;
        if (n->is_param) {
            parent->param = NULL;
        } else {
            int found;
            size_t at = lx_kid_search(parent, n->seg, n->len, &found);
            memmove(parent->kids + at, parent->kids + at + 1,
                    (parent->n_kids - at - 1) * sizeof(*parent->kids));
            parent->n_kids--;
        }
        lx_node_free(n);
        n = parent;
    }
}

/* A route's own copy of its pattern, followed by a second copy whose
 * "{name}" segments are cut into the NUL-terminated names. */
static int lx_route_fill(lx_route *rt, const char *pattern, void *data)
{
    size_t len = strlen(pattern);
    char *block = malloc(2 * (len + 1));

    if (block == NULL)
        return -1;
    memcpy(block, pattern, len + 1);
    char *names = block + len + 1;
    memcpy(names, pattern, len + 1);
    rt->n_params = 0;
    for (char *p = names; *p != '\0'; p++) {
        if (p[0] == '/' && p[1] == '{') {
            char *close = strchr(p, '}');
            *close = '\0';
            rt->names[rt->n_params++] = p + 2;
            p = close;
        }
    }
    rt->pattern = block;
    rt->data = data;
    return 0;
}

int lx_router_add(lx_router *r, const char *method, const char *pattern, void *data, char *err,
                  size_t errlen)
{
    int mi = lx_method_index(method);

    if (mi < 0) {
        lx_set_err(err, errlen,
                   "route method \"%s\" is not one of GET, HEAD, POST, PUT, "
                   "PATCH, DELETE, OPTIONS",
                   method ? method : "(null)");
        return LX_EINVAL;
    }
    if (pattern == NULL) {
        lx_set_err(err, errlen, "route pattern is missing");
        return LX_EINVAL;
    }
    if (lx_pattern_check(pattern, err, errlen) != 0)
        return LX_EINVAL;

    lx_rnode *n = r->root;
    const char *p = pattern[1] == '\0' ? NULL : pattern + 1;
    while (p != NULL) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        lx_rnode *next;
        if (p[0] == '{') {
            if (n->param == NULL) {
                n->param = lx_node_new(n, "", 0, 1);
                if (n->param == NULL)
                    goto nomem;
            }
            next = n->param;
        } else {
            int found;
            size_t at = lx_kid_search(n, p, len, &found);
            if (found) {
                next = n->kids[at];
            } else {
                next = lx_node_new(n, p, len, 0);
                if (next == NULL)
                    goto nomem;
                if (lx_kid_insert(n, at, next) != 0) {
                    lx_node_free(next);
                    goto nomem;
                }
            }
        }
        n = next;
        p = end ? end + 1 : NULL;
    }

    if (n->leaf != NULL && (n->leaf->mask & (1u << mi))) {
        lx_set_err(err, errlen, "route %s \"%s\" has the same shape as %s \"%s\"", method, pattern,
                   method, n->leaf->routes[mi].pattern);
        return LX_EEXIST;
    }
    if (n->leaf == NULL) {
        n->leaf = calloc(1, sizeof(*n->leaf));
        if (n->leaf == NULL)
            goto nomem;
    }
    if (lx_route_fill(&n->leaf->routes[mi], pattern, data) != 0) {
        if (n->leaf->mask == 0) {
            free(n->leaf);
            n->leaf = NULL;
        }
        goto nomem;
    }
    n->leaf->mask |= 1u << mi;
    return LX_OK;

nomem:
    lx_node_prune(n);
    lx_set_err(err, errlen, "out of memory adding route %s \"%s\"", method, pattern);
    return LX_ENOMEM;
}

/* The methods a leaf answers: HEAD rides on GET. */
static unsigned lx_leaf_mask(const lx_rleaf *leaf)
{
    unsigned mask = leaf->mask;

    if (mask & (1u << LX_M_GET))
        mask |= 1u << LX_M_HEAD;
    return mask;
}

/* Walks every node matching the path, most specific first. Returns the
 * first one that answers method mi (-1 for none), or NULL; *all gets the
 * union of the methods of every matching node visited. */
static const lx_rnode *lx_trie_walk(const lx_rnode *root, const char *buf, const lx_segs *s, int mi,
                                    unsigned *all)
{
    const lx_rnode *n = root;
    size_t depth = 0;
    unsigned want = mi >= 0 ? 1u << mi : 0;

    *all = 0;
    for (;;) {
        /* n matches segments [0, depth): go down if we can. */
        if (depth == s->n) {
            if (n->leaf != NULL) {
                unsigned mask = lx_leaf_mask(n->leaf);
                *all |= mask;
                if (mask & want)
                    return n;
            }
        } else {
            const char *seg = buf + s->off[depth];
            size_t len = (size_t)(s->off[depth + 1] - s->off[depth]) - 1;
            if (len > 0) {
                int found;
                size_t at = lx_kid_search(n, seg, len, &found);
                if (found) {
                    n = n->kids[at];
                    depth++;
                    continue;
                }
                if (n->param != NULL) {
                    n = n->param;
                    depth++;
                    continue;
                }
            }
        }
        /* Back up to the nearest literal step whose parent has a param
         * child still to try. */
        for (;;) {
            if (n->parent == NULL)
                return NULL;
            const lx_rnode *parent = n->parent;
            depth--;
            if (!n->is_param && parent->param != NULL) {
                n = parent->param;
                depth++;
                break;
            }
            n = parent;
        }
    }
}

/* Writes "GET, HEAD, POST" for mask into allow (truncated to fit);
 * returns the number of methods. */
static int lx_allow_format(unsigned mask, char *allow, size_t allowlen)
{
    size_t o = 0;
    int count = 0;

    if (allow != NULL && allowlen > 0)
        allow[0] = '\0';
    for (int i = 0; i < LX_M_COUNT; i++) {
        if (!(mask & (1u << i)))
            continue;
        if (allow != NULL && allowlen > 0) {
            int w =
                snprintf(allow + o, allowlen - o, "%s%s", count ? ", " : "", lx_method_names[i]);
            if (w > 0)
                o += (size_t)w;
            if (o >= allowlen)
                o = allowlen - 1;
        }
        count++;
    }
    return count;
}

lx_route_status lx_router_match(const lx_router *r, const char *method, const char *path,
                                lx_route_match *m, char *allow, size_t allowlen)
{
    lx_segs s;
    unsigned all;
    int mi = lx_method_index(method);

    if (allow != NULL && allowlen > 0)
        allow[0] = '\0';
    if (lx_path_parse(path, m->buf, &s) != 0)
        return LX_ROUTE_BAD_PATH;

    const lx_rnode *n = lx_trie_walk(r->root, m->buf, &s, mi, &all);
    if (n == NULL) {
        if (all == 0)
            return LX_ROUTE_NOT_FOUND;
        lx_allow_format(all, allow, allowlen);
        return LX_ROUTE_METHOD_NOT_ALLOWED;
    }

    const lx_route *rt = &n->leaf->routes[mi];
    if (mi == LX_M_HEAD && !(n->leaf->mask & (1u << LX_M_HEAD)))
        rt = &n->leaf->routes[LX_M_GET];
    m->data = rt->data;
    m->pattern = rt->pattern;
    m->n_params = rt->n_params;

    /* The param nodes on the way up give the values, last one first. */
    size_t i = rt->n_params;
    size_t depth = s.n;
    for (const lx_rnode *k = n; k->parent != NULL; k = k->parent) {
        depth--;
        if (k->is_param) {
            i--;
            m->names[i] = rt->names[i];
            m->values[i] = m->buf + s.off[depth];
        }
    }
    return LX_ROUTE_FOUND;
}

int lx_router_allowed(const lx_router *r, const char *path, char *allow, size_t allowlen)
{
    char buf[LX_ROUTER_MAX_PATH];
    lx_segs s;
    unsigned all;

    if (allow != NULL && allowlen > 0)
        allow[0] = '\0';
    if (lx_path_parse(path, buf, &s) != 0)
        return 0;
    lx_trie_walk(r->root, buf, &s, -1, &all);
    return lx_allow_format(all, allow, allowlen);
}
