/*
 * libFuzzer target for plugins/tutoring/offline.c, the offline tutor. The
 * input is split in two at its first NUL (or in the middle when it has
 * none): A and B. Each input goes through every function:
 *   tutor_sentences (whole input): no sentence empty or padded, no
 *       non-space byte lost, valid UTF-8 stays valid;
 *   tutor_offline_answer (question A, passages B and A): found iff an
 *       answer, the answer valid UTF-8 when the input is;
 *   tutor_offline_quiz (whole input): at most max_q questions, options in
 *       range, the correct one in the explanation and the blank, distractors
 *       different and taken from the input, the same for the same seed;
 *   tutor_mcq_pick (each question, answer A and each option's own text):
 *       an index in range, an option's text picking that option;
 *   tutor_offline_refine (A): output words (runs of ASCII letters and
 *       digits, case folded) a subsequence of the input's;
 *   tutor_offline_edit (text A, command B): LX_OK with output or LX_EINVAL
 *       with a message (needs_model only then), valid UTF-8 in gives
 *       valid UTF-8 out;
 *   tutor_fk_grade (A) within 0..18, tutor_word_count (A) not negative.
 * Copies of exactly the input's size make reads past the end show.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* memmem */
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <lexiaid/plugin.h>

#include "offline.h"

#include "check_utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == 0;
}

static int fuzz_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static unsigned char fuzz_fold(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* The next run of ASCII letters and digits at or after *pos. */
static int fuzz_next_run(const char *s, size_t *pos, size_t *a, size_t *b)
{
    size_t i = *pos;

    while (s[i] != '\0' && !fuzz_alnum((unsigned char)s[i]))
        i++;
    if (s[i] == '\0')
        return 0;
    *a = i;
    while (fuzz_alnum((unsigned char)s[i]))
        i++;
    *b = i;
    *pos = i;
    return 1;
}

static int fuzz_run_eq(const char *x, size_t xa, size_t xb, const char *y, size_t ya, size_t yb)
{
    if (xb - xa != yb - ya)
        return 0;
    for (size_t k = 0; k < xb - xa; k++)
        if (fuzz_fold((unsigned char)x[xa + k]) != fuzz_fold((unsigned char)y[ya + k]))
            return 0;
    return 1;
}

/* Whether the words of out are a subsequence of the words of in. */
static int fuzz_words_subsequence(const char *in, const char *out)
{
    size_t ip = 0, op = 0, ia, ib, oa, ob;

    while (fuzz_next_run(out, &op, &oa, &ob)) {
        int found = 0;

        while (fuzz_next_run(in, &ip, &ia, &ib))
            if (fuzz_run_eq(in, ia, ib, out, oa, ob)) {
                found = 1;
                break;
            }
        if (!found)
            return 0;
    }
    return 1;
}

static char *fuzz_copy(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);

    if (s != NULL) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

static void fuzz_sentences(const uint8_t *data, size_t size, int valid)
{
    char *exact = malloc(size ? size : 1);
    char **v = NULL;
    size_t n = 0, kept = 0, had = 0;

    if (exact == NULL)
        return;
    memcpy(exact, data, size);
    if (tutor_sentences(exact, size, &v, &n) != LX_OK) {
        free(exact);
        return;
    }
    for (size_t i = 0; i < size; i++)
        had += !fuzz_space(data[i]);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(v[i]);

        fuzz_check(l > 0);
        fuzz_check(!fuzz_space((unsigned char)v[i][0]) && !fuzz_space((unsigned char)v[i][l - 1]));
        for (size_t k = 0; k < l; k++)
            kept += !fuzz_space((unsigned char)v[i][k]);
        if (valid)
            fuzz_check(fuzz_str_utf8_ok(v[i]));
    }
    fuzz_check(kept == had);
    tutor_strv_free(v, n);
    free(exact);
}

static void fuzz_answer(const char *a, const char *b, size_t size, int valid)
{
    const char *passages[2] = {b, a};
    char *answer = NULL;
    int found = -1;

    if (tutor_offline_answer(a, passages, 2, 1 + (int)(size % 4), &answer, &found) != LX_OK)
        return;
    fuzz_check(found == 0 || found == 1);
    fuzz_check((found == 1) == (answer != NULL));
    if (answer != NULL) {
        fuzz_check(answer[0] != '\0');
        if (valid)
            fuzz_check(fuzz_str_utf8_ok(answer));
    }
    free(answer);
}

static void fuzz_quiz(const uint8_t *data, size_t size, const char *a, int valid)
{
    char *exact = malloc(size ? size : 1);
    tutor_mcq *v = NULL, *w = NULL;
    size_t n = 0, m = 0;
    int max_q = 1 + (int)(size % 10);

    if (exact == NULL)
        return;
    memcpy(exact, data, size);
    if (tutor_offline_quiz(exact, size, max_q, (unsigned)size, &v, &n) != LX_OK) {
        free(exact);
        return;
    }
    fuzz_check(n <= (size_t)max_q);
    fuzz_check((n == 0) == (v == NULL));
    for (size_t i = 0; i < n; i++) {
        const tutor_mcq *q = &v[i];
        const char *term;
        int pick;

        fuzz_check(q->n_options >= 2 && q->n_options <= 4);
        fuzz_check(q->correct >= 0 && q->correct < q->n_options);
        fuzz_check(q->question != NULL && q->explanation != NULL);
        term = q->options[q->correct];
        fuzz_check(term != NULL && term[0] != '\0');
        fuzz_check(strstr(q->explanation, term) != NULL);
        fuzz_check(strstr(q->question, "____") != NULL);
        for (int k = 0; k < q->n_options; k++) {
            fuzz_check(q->options[k] != NULL && q->options[k][0] != '\0');
            fuzz_check(memmem(data, size, q->options[k], strlen(q->options[k])) != NULL);
            if (k != q->correct)
                fuzz_check(strcasecmp(q->options[k], term) != 0);
            if (valid)
                fuzz_check(fuzz_str_utf8_ok(q->options[k]));
        }
        if (valid)
            fuzz_check(fuzz_str_utf8_ok(q->question) && fuzz_str_utf8_ok(q->explanation));
        for (size_t j = 0; j < i; j++)
            fuzz_check(strcmp(v[j].explanation, q->explanation) != 0);
        pick = tutor_mcq_pick(q, a);
        fuzz_check(pick >= -1 && pick < q->n_options);
        for (int k = 0; k < q->n_options; k++)
            if (!(q->options[k][0] >= '0' && q->options[k][0] <= '9'))
                fuzz_check(tutor_mcq_pick(q, q->options[k]) == k);
    }
    /* The same seed gives the same quiz. */
    if (tutor_offline_quiz(exact, size, max_q, (unsigned)size, &w, &m) == LX_OK) {
        fuzz_check(m == n);
        for (size_t i = 0; i < n; i++) {
            fuzz_check(strcmp(v[i].question, w[i].question) == 0);
            fuzz_check(v[i].correct == w[i].correct && v[i].n_options == w[i].n_options);
            for (int k = 0; k < v[i].n_options; k++)
                fuzz_check(strcmp(v[i].options[k], w[i].options[k]) == 0);
        }
        tutor_mcqs_free(w, m);
    }
    tutor_mcqs_free(v, n);
    free(exact);
}

static void fuzz_refine(const char *a, int valid)
{
    char *out = tutor_offline_refine(a);

    if (out == NULL)
        return;
    fuzz_check(fuzz_words_subsequence(a, out));
    if (valid)
        fuzz_check(fuzz_str_utf8_ok(out));
    free(out);
}

static void fuzz_edit(const char *a, const char *b, int valid)
{
    char err[128], *out = NULL;
    int rc, needs_model = -1;

    err[0] = '\0';
    rc = tutor_offline_edit(a, b, &out, err, sizeof err, &needs_model);
    fuzz_check(rc == LX_OK || rc == LX_EINVAL || rc == LX_ENOMEM);
    fuzz_check(needs_model == 0 || (needs_model == 1 && rc == LX_EINVAL));
    if (rc == LX_OK) {
        fuzz_check(out != NULL);
        if (valid)
            fuzz_check(fuzz_str_utf8_ok(out));
        free(out);
    } else {
        fuzz_check(out == NULL);
        if (rc == LX_EINVAL)
            fuzz_check(err[0] != '\0' && strlen(err) < sizeof err);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t alen = nul != NULL ? (size_t)(nul - data) : size / 2;
    size_t bstart = nul != NULL ? alen + 1 : alen;
    char *a = fuzz_copy(data, alen), *b = fuzz_copy(data + bstart, size - bstart);
    int valid = fuzz_utf8_ok(data, size);
    double g;

    if (a == NULL || b == NULL) {
        free(a);
        free(b);
        return 0;
    }
    /* Halves of valid input can still cut a sequence when split in the middle. */
    int valid_ab = valid && fuzz_str_utf8_ok(a) && fuzz_str_utf8_ok(b);

    fuzz_sentences(data, size, valid);
    fuzz_answer(a, b, size, valid_ab);
    fuzz_quiz(data, size, a, valid);
    fuzz_refine(a, valid_ab);
    fuzz_edit(a, b, valid_ab);
    g = tutor_fk_grade(a);
    fuzz_check(g >= 0.0 && g <= 18.0);
    fuzz_check(tutor_word_count(a) >= 0);
    fuzz_check(tutor_word_count(b) >= 0);
    free(a);
    free(b);
    return 0;
}
