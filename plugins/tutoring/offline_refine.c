/*
 * The offline tutor's clean-up of a dictated transcript
 * (tutor_offline_refine): fillers and repeats out, sentences capitalised
 * and ended. See offline.h for the contract; the word machinery is
 * offline.c's (offline_int.h). Edit commands are offline_edit.c's.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <lexiaid/plugin.h>

#include "offline_int.h"

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
