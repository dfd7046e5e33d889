/*
 * The offline tutor's editing: cleaning a dictated transcript
 * (tutor_offline_refine) and applying an edit command to a text
 * (tutor_offline_edit). See offline.h for the contracts; the word and
 * sentence machinery is offline.c's (offline_int.h).
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <lexiaid/plugin.h>

#include "offline_int.h"

/* Whether s starts with w, case-insensitively (s may be shorter). */
static int iprefix(const char *s, const char *w)
{
    for (; *w != '\0'; s++, w++)
        if (*s == '\0' || tutor_lower((unsigned char)*s) != tutor_lower((unsigned char)*w))
            return 0;
    return 1;
}

/* ---- refining a transcript ---------------------------------------------- */

typedef struct tutor_rtok {
    const char *chunk; /* the white-space separated chunk */
    size_t lead;       /* punctuation before the word */
    size_t core;       /* the word part (0 for pure punctuation) */
    char trail[16];    /* punctuation after it (possibly moved here) */
    int dropped;
    size_t trail_len; /* original trail length in the chunk */
} tutor_rtok;

static int rtok_is(const tutor_rtok *t, const char *w)
{
    size_t a = t->lead, b = t->lead + t->core;

    while (a < b && (t->chunk[a] == '\'' || t->chunk[a] == '-'))
        a++;
    while (b > a && (t->chunk[b - 1] == '\'' || t->chunk[b - 1] == '-'))
        b--;
    return tutor_ieq(t->chunk + a, b - a, w, strlen(w));
}

static int rtok_same(const tutor_rtok *x, const tutor_rtok *y)
{
    return x->core > 0 && tutor_ieq(x->chunk + x->lead, x->core, y->chunk + y->lead, y->core);
}

static int ends_clause(const tutor_rtok *t)
{
    size_t n = strlen(t->trail);

    return n > 0 && strchr(",.!?;:", t->trail[n - 1]) != NULL;
}

static int ends_sentence(const char *trail)
{
    for (const char *p = trail; *p; p++)
        if (*p == '.' || *p == '!' || *p == '?')
            return 1;
    return 0;
}

/* Moves the sentence end of a dropped token to the kept one before it. */
static void keep_end(tutor_rtok *to, const tutor_rtok *from)
{
    if (to != NULL && ends_sentence(from->trail) && !ends_sentence(to->trail)) {
        const char *p = from->trail;

        while (*p && *p != '.' && *p != '!' && *p != '?')
            p++;
        snprintf(to->trail, sizeof to->trail, "%s", p);
    }
}

static tutor_rtok *prev_kept(tutor_rtok *v, size_t i)
{
    while (i > 0) {
        i--;
        if (!v[i].dropped)
            return &v[i];
    }
    return NULL;
}

/* The cleaned transcript, caller-owned; NULL on ENOMEM (offline.h). */
char *tutor_offline_refine(const char *transcript)
{
    tutor_rtok *v = NULL;
    size_t n = 0, cap = 0, len, i = 0;
    tutor_buf out = {0};
    int changed;

    if (transcript == NULL)
        transcript = "";
    len = strlen(transcript);
    while (i < len) {
        size_t a, b, w0, w1, k;

        while (i < len && tutor_is_space((unsigned char)transcript[i]))
            i++;
        if (i >= len)
            break;
        a = i;
        while (i < len && !tutor_is_space((unsigned char)transcript[i]))
            i++;
        b = i;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 32;
            tutor_rtok *nv = realloc(v, nc * sizeof *nv);

            if (nv == NULL) {
                free(v);
                return NULL;
            }
            v = nv;
            cap = nc;
        }
        w0 = a;
        while (w0 < b && tutor_word_at(transcript, len, w0) == 0)
            w0++;
        w1 = w0;
        for (size_t p = w0; p < b; p += k ? k : 1)
            if ((k = tutor_word_at(transcript, len, p)) > 0)
                w1 = p + k;
        memset(&v[n], 0, sizeof v[n]);
        v[n].chunk = transcript + a;
        v[n].lead = w0 - a;
        v[n].core = w1 - w0;
        if (v[n].core == 0)
            v[n].lead = b - a;
        v[n].trail_len = v[n].core ? b - w1 : 0;
        if (v[n].trail_len < sizeof v[n].trail) {
            memcpy(v[n].trail, transcript + w1, v[n].trail_len);
            v[n].trail[v[n].trail_len] = '\0';
        } else {
            /* A long punctuation tail is kept in the core, verbatim. */
            v[n].core += v[n].trail_len;
            v[n].trail_len = 0;
        }
        n++;
    }
    /* Fillers. */
    for (i = 0; i < n; i++) {
        tutor_rtok *t = &v[i], *pv = prev_kept(v, i);
        int clause_start = pv == NULL || ends_clause(pv);

        if (t->core == 0 || t->lead > 0)
            continue;
        if (rtok_is(t, "um") || rtok_is(t, "uh") || rtok_is(t, "er") || rtok_is(t, "erm") ||
            rtok_is(t, "hmm")) {
            t->dropped = 1;
            keep_end(pv, t);
            continue;
        }
        /* Only as a filler: set off by a comma or ending the clause
         * ("you know, it rains"), never "you know the answer". */
        if (clause_start && i + 1 < n && t->trail[0] == '\0' && v[i + 1].lead == 0 &&
            (ends_clause(&v[i + 1]) || i + 2 == n) &&
            ((rtok_is(t, "you") && rtok_is(&v[i + 1], "know")) ||
             (rtok_is(t, "i") && rtok_is(&v[i + 1], "mean")))) {
            t->dropped = 1;
            v[i + 1].dropped = 1;
            keep_end(pv, &v[i + 1]);
            i++;
            continue;
        }
        if (rtok_is(t, "like") && strcmp(t->trail, ",") == 0 && pv != NULL &&
            strcmp(pv->trail, ",") == 0) {
            t->dropped = 1;
            pv->trail[0] = '\0';
            continue;
        }
    }
    /* Immediate repeats of one word or two words, until none is left. */
    do {
        changed = 0;
        tutor_rtok *k[4] = {NULL, NULL, NULL, NULL};
        size_t nk = 0;

        for (i = 0; i < n; i++) {
            tutor_rtok *t = &v[i];

            if (t->dropped)
                continue;
            if (nk >= 1 && rtok_same(k[nk - 1], t) && k[nk - 1]->trail[0] == '\0' && t->lead == 0 &&
                k[nk - 1]->lead == 0) {
                t->dropped = 1;
                keep_end(k[nk - 1], t);
                changed = 1;
                continue;
            }
            if (nk >= 3 && rtok_same(k[nk - 3], k[nk - 1]) && rtok_same(k[nk - 2], t) &&
                k[nk - 3]->trail[0] == '\0' && k[nk - 2]->trail[0] == '\0' &&
                k[nk - 1]->trail[0] == '\0' && k[nk - 1]->lead == 0 && t->lead == 0 &&
                k[nk - 3]->lead == 0) {
                k[nk - 1]->dropped = 1;
                t->dropped = 1;
                keep_end(k[nk - 2], t);
                nk--;
                changed = 1;
                continue;
            }
            if (nk == 4) {
                memmove(k, k + 1, 3 * sizeof k[0]);
                nk = 3;
            }
            k[nk++] = t;
        }
    } while (changed);
    /* Output: single spaces, "i" → "I", sentences capitalised and ended. */
    int sentence_start = 1;
    tutor_rtok *last = NULL;

    for (i = 0; i < n; i++) {
        tutor_rtok *t = &v[i];
        if (t->dropped)
            continue;
        if (out.len > 0)
            tutor_buf_add(&out, " ", 1);
        tutor_buf_add(&out, t->chunk, t->lead);
        size_t at = out.len;

        tutor_buf_add(&out, t->chunk + t->lead, t->core);
        if (!out.oom && t->core > 0) {
            int is_i = rtok_is(t, "i") || rtok_is(t, "i'm") || rtok_is(t, "i've") ||
                       rtok_is(t, "i'll") || rtok_is(t, "i'd");

            if (is_i || sentence_start) {
                size_t p = at;

                while (p < out.len && !tutor_is_alpha((unsigned char)out.p[p]) &&
                       (unsigned char)out.p[p] < 0x80 && !tutor_is_digit((unsigned char)out.p[p]))
                    p++;
                if (p < out.len)
                    out.p[p] = (char)tutor_upper((unsigned char)out.p[p]);
            }
            sentence_start = 0;
        } else if (t->core == 0) {
            /* A stand-alone "." or "?" ends a sentence too. */
            for (size_t k = 0; k < t->lead; k++)
                if (t->chunk[k] == '.' || t->chunk[k] == '!' || t->chunk[k] == '?')
                    sentence_start = 1;
        }
        tutor_buf_str(&out, t->trail);
        if (t->core > 0 && ends_sentence(t->trail) &&
            !(strcmp(t->trail, ".") == 0 && t->chunk[t->lead + t->core] == '.' &&
              tutor_is_abbreviation(transcript, len,
                                    (size_t)(t->chunk - transcript) + t->lead + t->core)))
            sentence_start = 1;
        last = t;
    }
    if (last != NULL && !out.oom) {
        size_t e = out.len;

        /* A clause mark at the very end becomes the full stop. */
        while (e > 0 && (out.p[e - 1] == ',' || out.p[e - 1] == ';' || out.p[e - 1] == ':' ||
                         out.p[e - 1] == ' '))
            e--;
        if (e > 0 && !sentence_start) {
            size_t p = e;

            while (p > 0 && (out.p[p - 1] == '"' || out.p[p - 1] == '\'' || out.p[p - 1] == ')'))
                p--;
            if (p == 0 || (out.p[p - 1] != '.' && out.p[p - 1] != '!' && out.p[p - 1] != '?')) {
                out.len = e;
                out.p[e] = '\0';
                tutor_buf_add(&out, ".", 1);
            }
        }
    }
    free(v);
    return tutor_buf_take(&out);
}

/* ---- edit commands ------------------------------------------------------ */

/* Whether text[i, i+n) is a whole-word case-insensitive match of x. */
static int match_at(const char *text, size_t tlen, size_t i, const char *x, size_t n)
{
    if (i + n > tlen || !tutor_ieq(text + i, n, x, n))
        return 0;
    if (tutor_word_at(x, n, 0) > 0 && i > 0) {
        /* The byte before must not continue a word (step back over UTF-8). */
        size_t p = i - 1;

        while (p > 0 && ((unsigned char)text[p] & 0xc0) == 0x80)
            p--;
        if (tutor_word_at(text, tlen, p) > 0)
            return 0;
    }
    if (tutor_word_at(x, n, n - 1) > 0 && i + n < tlen && tutor_word_at(text, tlen, i + n) > 0)
        return 0;
    return 1;
}

/* Parses one argument at *p: quoted (straight or curly quotes) or up to
 * `stop` (a lower-case separator such as " with ") or the end. */
static int take_arg(const char **p, const char *stop, const char **a, size_t *alen)
{
    const char *s = *p;

    while (*s == ' ')
        s++;
    if (*s == '"' || *s == '\'') {
        const char *e = strchr(s + 1, *s);

        if (e == NULL || e == s + 1)
            return 0;
        *a = s + 1;
        *alen = (size_t)(e - s - 1);
        *p = e + 1;
        return 1;
    }
    if (strncmp(s, "\xe2\x80\x9c", 3) == 0 || strncmp(s, "\xe2\x80\x98", 3) == 0) {
        const char *close = s[2] == '\x9c' ? "\xe2\x80\x9d" : "\xe2\x80\x99";
        const char *e = strstr(s + 3, close);

        if (e == NULL || e == s + 3)
            return 0;
        *a = s + 3;
        *alen = (size_t)(e - s - 3);
        *p = e + 3;
        return 1;
    }
    const char *e = NULL;

    if (stop != NULL) {
        for (const char *q = s; *q; q++)
            if (iprefix(q, stop)) {
                e = q;
                break;
            }
        if (e == NULL)
            return 0;
    } else {
        e = s + strlen(s);
        /* A dictated command often ends with a full stop. */
        while (e > s && (e[-1] == ' ' || e[-1] == '.' || e[-1] == '!'))
            e--;
    }
    while (e > s && e[-1] == ' ')
        e--;
    if (e == s)
        return 0;
    *a = s;
    *alen = (size_t)(e - s);
    *p = e;
    return 1;
}

static int starts_with_word(const char *s, const char *w, const char **rest)
{
    size_t n = strlen(w);

    if (!iprefix(s, w) || (s[n] != ' ' && s[n] != '\0'))
        return 0;
    *rest = s + n;
    return 1;
}

/* Skips spaces and the words of phrase (case-insensitive) at *p. */
static int take_phrase(const char **p, const char *phrase)
{
    const char *s = *p;
    size_t n = strlen(phrase);

    while (*s == ' ')
        s++;
    if (!iprefix(s, phrase) || tutor_is_alpha((unsigned char)s[n]))
        return 0;
    *p = s + n;
    return 1;
}

/* Whether the rest of the command (after an argument) is only spaces and
 * end punctuation. */
static int at_end(const char *p)
{
    while (*p == ' ' || *p == '.' || *p == '!')
        p++;
    return *p == '\0';
}

static void set_err(char *err, size_t errlen, const char *fmt, const char *x, size_t xlen)
{
    if (err == NULL || errlen == 0)
        return;
    if (x != NULL)
        snprintf(err, errlen, fmt, (int)(xlen > 200 ? 200 : xlen), x);
    else
        snprintf(err, errlen, "%s", fmt);
}

static int ends_with_punct(const char *s, size_t n)
{
    while (n > 0 && (s[n - 1] == '"' || s[n - 1] == '\'' || s[n - 1] == ')'))
        n--;
    return n > 0 && (s[n - 1] == '.' || s[n - 1] == '!' || s[n - 1] == '?');
}

/* X as a sentence: first letter capitalised, full stop if it has none. */
static void add_sentence(tutor_buf *b, const char *x, size_t xl)
{
    size_t at = b->len;

    tutor_buf_add(b, x, xl);
    if (!b->oom && xl > 0)
        b->p[at] = (char)tutor_upper((unsigned char)b->p[at]);
    if (!ends_with_punct(x, xl))
        tutor_buf_add(b, ".", 1);
}

/* Applies command to text into *out (caller-owned); LX_EINVAL with err
 * for the student (offline.h). */
int tutor_offline_edit(const char *text, const char *command, char **out, char *err, size_t errlen)
{
    const char *c, *x = NULL, *y = NULL, *rest;
    size_t xl = 0, yl = 0, tl;
    enum { ED_REPLACE, ED_DELETE, ED_APPEND, ED_PREPEND } op;
    tutor_buf b = {0};

    if (out != NULL)
        *out = NULL;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (text == NULL || command == NULL || out == NULL) {
        set_err(err, errlen, "Nothing to edit.", NULL, 0);
        return LX_EINVAL;
    }
    tl = strlen(text);
    c = command;
    while (*c == ' ' || *c == '\t' || *c == '\n')
        c++;
    if ((starts_with_word(c, "replace", &rest) && take_arg(&rest, " with ", &x, &xl) &&
         take_phrase(&rest, "with")) ||
        (starts_with_word(c, "change", &rest) && take_arg(&rest, " to ", &x, &xl) &&
         take_phrase(&rest, "to"))) {
        if (!take_arg(&rest, NULL, &y, &yl) || !at_end(rest))
            goto unknown;
        op = ED_REPLACE;
    } else if ((starts_with_word(c, "delete", &rest) || starts_with_word(c, "remove", &rest)) &&
               take_arg(&rest, NULL, &x, &xl) && at_end(rest)) {
        op = ED_DELETE;
    } else if (starts_with_word(c, "append", &rest) && take_arg(&rest, NULL, &x, &xl) &&
               at_end(rest)) {
        op = ED_APPEND;
    } else if (starts_with_word(c, "prepend", &rest) && take_arg(&rest, NULL, &x, &xl) &&
               at_end(rest)) {
        op = ED_PREPEND;
    } else if (starts_with_word(c, "add", &rest)) {
        const char *r2 = rest;

        if (take_arg(&r2, " at the end", &x, &xl) && take_phrase(&r2, "at the end") && at_end(r2))
            op = ED_APPEND;
        else if ((r2 = rest, take_arg(&r2, " at the start", &x, &xl)) &&
                 take_phrase(&r2, "at the start") && at_end(r2))
            op = ED_PREPEND;
        else if ((r2 = rest, take_arg(&r2, " at the beginning", &x, &xl)) &&
                 take_phrase(&r2, "at the beginning") && at_end(r2))
            op = ED_PREPEND;
        else if ((r2 = rest, take_arg(&r2, NULL, &x, &xl)) && at_end(r2))
            op = ED_APPEND;
        else
            goto unknown;
    } else {
        goto unknown;
    }
    if (op == ED_APPEND) {
        size_t e = tl;

        while (e > 0 && tutor_is_space((unsigned char)text[e - 1]))
            e--;
        tutor_buf_add(&b, text, e);
        if (e > 0 && !ends_with_punct(text, e))
            tutor_buf_add(&b, ".", 1);
        if (e > 0)
            tutor_buf_add(&b, " ", 1);
        add_sentence(&b, x, xl);
    } else if (op == ED_PREPEND) {
        size_t s = 0;

        while (s < tl && tutor_is_space((unsigned char)text[s]))
            s++;
        add_sentence(&b, x, xl);
        if (s < tl) {
            tutor_buf_add(&b, " ", 1);
            tutor_buf_add(&b, text + s, tl - s);
        }
    } else {
        size_t i = 0, last = 0;
        int found = 0;

        while (i < tl) {
            if (!match_at(text, tl, i, x, xl)) {
                i++;
                continue;
            }
            found = 1;
            if (op == ED_REPLACE) {
                size_t at;

                tutor_buf_add(&b, text + last, i - last);
                at = b.len;
                tutor_buf_add(&b, y, yl);
                /* "Cat" replaced by "dog" at a sentence start stays capitalised. */
                if (!b.oom && yl > 0 && tutor_is_upper((unsigned char)text[i]) &&
                    tutor_is_lower((unsigned char)x[0]))
                    b.p[at] = (char)tutor_upper((unsigned char)b.p[at]);
                last = i + xl;
            } else {
                size_t from = i, to = i + xl;

                /* Take one neighbouring space with the deleted words. */
                if (from > last && text[from - 1] == ' ')
                    from--;
                else if (to < tl && text[to] == ' ')
                    to++;
                tutor_buf_add(&b, text + last, from - last);
                last = to;
            }
            i += xl;
        }
        if (!found) {
            set_err(err, errlen, "I could not find \"%.*s\" in your text.", x, xl);
            free(b.p);
            return LX_EINVAL;
        }
        tutor_buf_add(&b, text + last, tl - last);
    }
    *out = tutor_buf_take(&b);
    return *out != NULL ? LX_OK : LX_ENOMEM;
unknown:
    set_err(err, errlen,
            "I did not understand that edit. Try \"replace X with Y\", \"delete X\", "
            "\"add X at the end\" or \"add X at the start\".",
            NULL, 0);
    return LX_EINVAL;
}
