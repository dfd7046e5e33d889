/*
 * Extracted text: normalisation and the passages search works on. See
 * text.h for the contracts. Both run over the whole text of a document
 * once (linear time; the passage cutter looks back at most a target's
 * length from each cut it makes, and each cut moves at least half that).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lexiaid/plugin.h>
#include <lexiaid/utf8.h>

#include "sniff.h"
#include "text.h"

char *storage_text_normalize(const char *text, size_t len, size_t *out_len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0, o = 0, line_start = 0;
    /* LFs in a row at the end of out; starting at 1 keeps at most two
     * blank lines at the top too. */
    int nl_run = 1;
    char *out, *shrunk;

    if (out_len != NULL)
        *out_len = 0;
    /* Each byte of broken UTF-8 may become three (U+FFFD). */
    if (len > (SIZE_MAX - 1) / 3)
        return NULL;
    out = malloc(3 * len + 1);
    if (out == NULL)
        return NULL;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        int ok;

        if (c == '\r' || c == '\n') {
            i += (c == '\r' && i + 1 < len && s[i + 1] == '\n') ? 2 : 1;
            while (o > line_start && (out[o - 1] == ' ' || out[o - 1] == '\t'))
                o--;
            if (nl_run < 3) {
                out[o++] = '\n';
                nl_run++;
            }
            line_start = o;
            continue;
        }
        if (c < 0x20 && c != '\t') {
            i++;
            continue;
        }
        if (c < 0x80) {
            out[o++] = (char)c;
            if (c != ' ' && c != '\t')
                nl_run = 0;
            i++;
            continue;
        }
        n = lx_utf8_next(s + i, len - i, NULL, &ok);
        if (ok) {
            memcpy(out + o, s + i, n);
            o += n;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
        }
        nl_run = 0;
        i += n;
    }
    while (o > line_start && (out[o - 1] == ' ' || out[o - 1] == '\t'))
        o--;
    out[o] = '\0';
    shrunk = realloc(out, o + 1);
    if (shrunk != NULL)
        out = shrunk;
    if (out_len != NULL)
        *out_len = o;
    return out;
}

static int storage_text_is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* The passages made so far and the one being joined. */
typedef struct {
    char **v;
    size_t n, cap;
    char *cur;
    size_t cur_len, cur_cap;
    size_t target;
} storage_text_acc;

static int storage_text_flush(storage_text_acc *a)
{
    char *p;

    if (a->cur_len == 0)
        return LX_OK;
    if (a->n == a->cap) {
        size_t ncap = a->cap * 2;
        char **nv = realloc(a->v, ncap * sizeof(*nv));

        if (nv == NULL)
            return LX_ENOMEM;
        a->v = nv;
        a->cap = ncap;
    }
    p = realloc(a->cur, a->cur_len + 1);
    if (p == NULL)
        p = a->cur;
    p[a->cur_len] = '\0';
    a->v[a->n++] = p;
    a->cur = NULL;
    a->cur_len = a->cur_cap = 0;
    return LX_OK;
}

/* Adds s[0..len) to the passage being joined (after `joiner` when it is
 * not empty), first closing it if the whole would pass the target. */
static int storage_text_add(storage_text_acc *a, const char *s, size_t len, const char *joiner)
{
    size_t jl = strlen(joiner), need;

    while (len > 0 && storage_text_is_space((unsigned char)s[0])) {
        s++;
        len--;
    }
    while (len > 0 && storage_text_is_space((unsigned char)s[len - 1]))
        len--;
    if (len == 0)
        return LX_OK;
    if (a->cur_len > 0 && a->cur_len + jl + len > a->target) {
        if (storage_text_flush(a) != LX_OK)
            return LX_ENOMEM;
    }
    if (a->cur_len == 0)
        jl = 0;
    need = a->cur_len + jl + len + 1;
    if (need > a->cur_cap) {
        size_t ncap = a->cur_cap == 0 ? 256 : a->cur_cap;
        char *p;

        while (ncap < need)
            ncap *= 2;
        p = realloc(a->cur, ncap);
        if (p == NULL)
            return LX_ENOMEM;
        a->cur = p;
        a->cur_cap = ncap;
    }
    memcpy(a->cur + a->cur_len, joiner, jl);
    memcpy(a->cur + a->cur_len + jl, s, len);
    a->cur_len += jl + len;
    return LX_OK;
}

/* Where to end the piece of a long paragraph that starts at t[pos]: an
 * index in (pos, pos + target] when the paragraph runs past it (end > pos
 * + target). The last sentence end in the second half of that window,
 * else its last white space, else the window's end moved off any UTF-8
 * continuation byte. */
static size_t storage_text_cut(const unsigned char *t, size_t pos, size_t end, size_t target)
{
    size_t limit = pos + target, lo = pos + target / 2, k;

    if (lo <= pos)
        lo = pos + 1;
    for (k = limit; k >= lo; k--)
        if (storage_text_is_space(t[k]) && (t[k - 1] == '.' || t[k - 1] == '!' || t[k - 1] == '?'))
            return k;
    for (k = limit; k >= lo; k--)
        if (storage_text_is_space(t[k]))
            return k;
    k = limit;
    while (k > pos + 1 && (t[k] & 0xc0) == 0x80 && limit - k < 3)
        k--;
    if ((t[k] & 0xc0) == 0x80) {
        /* No lead byte within reach behind: go forward past the sequence. */
        k = limit;
        while (k < end && (t[k] & 0xc0) == 0x80 && k - limit < 3)
            k++;
    }
    return k;
}

/* One paragraph, text[s..e): whole, or cut when over twice the target. */
static int storage_text_para(storage_text_acc *a, const char *text, size_t s, size_t e)
{
    const unsigned char *t = (const unsigned char *)text;
    size_t target = a->target;

    while (s < e && storage_text_is_space(t[s]))
        s++;
    while (e > s && storage_text_is_space(t[e - 1]))
        e--;
    if (target > SIZE_MAX / 2 || e - s <= 2 * target)
        return storage_text_add(a, text + s, e - s, "\n\n");
    /* Each piece a passage of its own (joining two would need the white
     * space the cut dropped); the rest may join the next paragraph. */
    while (e - s > target) {
        size_t cut = storage_text_cut(t, s, e, target);

        if (storage_text_flush(a) != LX_OK || storage_text_add(a, text + s, cut - s, "") != LX_OK)
            return LX_ENOMEM;
        s = cut;
        while (s < e && storage_text_is_space(t[s]))
            s++;
    }
    if (storage_text_flush(a) != LX_OK)
        return LX_ENOMEM;
    return storage_text_add(a, text + s, e - s, "\n\n");
}

int storage_text_passages(const char *text, size_t len, size_t target, char ***out, size_t *n)
{
    storage_text_acc a = {NULL, 0, 4, NULL, 0, 0, target == 0 ? 1 : target};
    size_t i = 0, pstart = SIZE_MAX;

    *out = NULL;
    *n = 0;
    a.v = malloc(a.cap * sizeof(*a.v));
    if (a.v == NULL)
        return LX_ENOMEM;
    while (i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t line_end = nl != NULL ? (size_t)(nl - text) : len, k;

        for (k = i; k < line_end && storage_text_is_space((unsigned char)text[k]); k++)
            ;
        if (k == line_end) {
            if (pstart != SIZE_MAX && storage_text_para(&a, text, pstart, i) != LX_OK)
                goto fail;
            pstart = SIZE_MAX;
        } else if (pstart == SIZE_MAX) {
            pstart = i;
        }
        i = line_end + 1;
    }
    if (pstart != SIZE_MAX && storage_text_para(&a, text, pstart, len) != LX_OK)
        goto fail;
    if (storage_text_flush(&a) != LX_OK)
        goto fail;
    *out = a.v;
    *n = a.n;
    return LX_OK;

fail:
    for (size_t k = 0; k < a.n; k++)
        free(a.v[k]);
    free(a.v);
    free(a.cur);
    return LX_ENOMEM;
}
