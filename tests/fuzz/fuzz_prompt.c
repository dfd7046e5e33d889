/*
 * libFuzzer target for plugins/tutoring/prompt.c, the prompts and the
 * parsers of model answers. The whole input, in an allocation of exactly
 * its size (so reads past the end show), goes through:
 *   tutor_prompt_parse_quiz: LX_OK with 1..max_q questions, each with a
 *       non-empty question, 2..4 non-empty options no two equal
 *       (case-insensitively), correct in range, every string at most 500
 *       bytes without control bytes or outer spaces, valid UTF-8 when the
 *       input is; or LX_EINVAL with a message and nothing out;
 *   tutor_prompt_parse_judge: -1 or an index below n_options;
 *   tutor_prompt_clean_answer: no NUL or C0 byte but \n \t, no outer
 *       whitespace, within the cap, valid UTF-8 when the input is;
 * and, as a C string (up to its first NUL), as untrusted data:
 *   tutor_prompt_chat_system as passage 1 (and as the document name):
 *       exactly the two real fences, passage 2 intact, valid UTF-8;
 *   tutor_prompt_quiz as the text: one DOCUMENT fence, within max_chars
 *       when nothing needed escaping;
 *   tutor_prompt_judge as the student's answer, tutor_prompt_refine and
 *   tutor_prompt_edit: every fence opened and closed exactly once.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lexiaid/plugin.h>

#include "prompt.h"

#include "check_utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static size_t fuzz_count(const char *hay, const char *needle)
{
    size_t n = 0, l = strlen(needle);

    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + l, needle))
        n++;
    return n;
}

static int fuzz_ieq(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++) {
        unsigned char x = (unsigned char)*a, y = (unsigned char)*b;

        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y - 'A' + 'a');
        if (x != y)
            return 0;
    }
    return *a == *b;
}

/* A field of a parsed question: short, tidy, no control bytes. */
static void fuzz_field(const char *s, int may_be_empty, int valid)
{
    size_t l;

    fuzz_check(s != NULL);
    l = strlen(s);
    fuzz_check(l <= 500);
    fuzz_check(may_be_empty || l > 0);
    if (l > 0)
        fuzz_check(s[0] != ' ' && s[l - 1] != ' ');
    for (size_t i = 0; i < l; i++)
        fuzz_check((unsigned char)s[i] >= 0x20 && s[i] != 0x7f);
    if (valid)
        fuzz_check(fuzz_str_utf8_ok(s));
}

static void fuzz_parse_quiz(const char *exact, size_t size, int valid)
{
    int max_q = 1 + (int)(size % 10);
    tutor_mcq *v = NULL;
    size_t n = 0;
    char err[128];
    int rc;

    err[0] = '\0';
    rc = tutor_prompt_parse_quiz(exact, size, max_q, &v, &n, err, sizeof err);
    fuzz_check(rc == LX_OK || rc == LX_EINVAL || rc == LX_ENOMEM);
    if (rc != LX_OK) {
        fuzz_check(v == NULL && n == 0);
        if (rc == LX_EINVAL)
            fuzz_check(err[0] != '\0' && strlen(err) < sizeof err);
        return;
    }
    fuzz_check(v != NULL && n >= 1 && n <= (size_t)max_q);
    for (size_t i = 0; i < n; i++) {
        const tutor_mcq *q = &v[i];

        fuzz_check(q->n_options >= 2 && q->n_options <= 4);
        fuzz_check(q->correct >= 0 && q->correct < q->n_options);
        fuzz_field(q->question, 0, valid);
        fuzz_field(q->explanation, 1, valid);
        for (int k = 0; k < 4; k++) {
            if (k >= q->n_options) {
                fuzz_check(q->options[k] == NULL);
                continue;
            }
            fuzz_field(q->options[k], 0, valid);
            for (int j = 0; j < k; j++)
                fuzz_check(!fuzz_ieq(q->options[j], q->options[k]));
        }
        /* The judge's prompt for a parsed question. */
        char *sys = NULL, *user = NULL;

        if (tutor_prompt_judge(q, q->options[q->correct], &sys, &user) == LX_OK) {
            fuzz_check(fuzz_count(user, "\n<<<") + (strncmp(user, "<<<", 3) == 0) == 3);
            fuzz_check(fuzz_count(user, ">>>\n") == 3);
            free(sys);
            free(user);
        }
    }
    tutor_mcqs_free(v, n);
}

static void fuzz_clean(const char *exact, size_t size, int valid)
{
    size_t max = size % 3 == 0 ? 0 : size % 64;
    char *out = tutor_prompt_clean_answer(exact, size, max);
    size_t l;

    if (out == NULL)
        return;
    l = strlen(out);
    if (max > 0)
        fuzz_check(l <= max);
    fuzz_check(l <= size);
    if (l > 0)
        fuzz_check(!fuzz_space((unsigned char)out[0]) && !fuzz_space((unsigned char)out[l - 1]));
    for (size_t i = 0; i < l; i++) {
        unsigned char c = (unsigned char)out[i];

        fuzz_check(c >= 0x20 || c == '\n' || c == '\t');
    }
    if (valid)
        fuzz_check(fuzz_str_utf8_ok(out));
    free(out);
}

/* Whether s holds nothing the fencing has to change. */
static int fuzz_plain(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f || *p == '<' || *p == '>' ||
            *p >= 0x80)
            return 0;
    return 1;
}

static void fuzz_prompts(const char *str, size_t size)
{
    const char *passages[2] = {str, "Roots take up water."};
    char *s, *sys = NULL, *user = NULL;

    s = tutor_prompt_chat_system((double)(size % 20), "Plants", passages, 2);
    if (s != NULL) {
        const char *p2 = strstr(s, "<<<PASSAGE 2\n");

        fuzz_check(fuzz_str_utf8_ok(s));
        fuzz_check(fuzz_count(s, "\n<<<") == 2 && fuzz_count(s, ">>>\n") == 2);
        fuzz_check(fuzz_count(s, "PASSAGE 1>>>") == 1);
        fuzz_check(p2 != NULL &&
                   strcmp(p2, "<<<PASSAGE 2\nRoots take up water.\nPASSAGE 2>>>\n") == 0);
        fuzz_check(strstr(s, "not in the document") != NULL);
        free(s);
    }
    /* The input as the document's name: one line, no fence. */
    s = tutor_prompt_chat_system(5.0, str, passages + 1, 1);
    if (s != NULL) {
        fuzz_check(fuzz_str_utf8_ok(s));
        fuzz_check(fuzz_count(s, "\n<<<") == 1 && fuzz_count(s, ">>>\n") == 1);
        free(s);
    }

    size_t len = strlen(str), max = size % 2 ? 0 : 1 + size % 700;

    if (tutor_prompt_quiz(5.0, str, str, len, max, (int)(size % 12), &sys, &user) == LX_OK) {
        const char *a = strstr(user, "<<<DOCUMENT\n"), *z = strstr(user, "\nDOCUMENT>>>");

        fuzz_check(fuzz_str_utf8_ok(sys) && fuzz_str_utf8_ok(user));
        fuzz_check(fuzz_count(user, "<<<") == 1 && fuzz_count(user, ">>>") == 1);
        fuzz_check(a != NULL && z != NULL && z >= a + 11);
        if (max > 0 && fuzz_plain(str))
            fuzz_check((size_t)(z - (a + 12)) <= max || z == a + 11);
        free(sys);
        free(user);
    }
    if (tutor_prompt_refine(4.0, str, str, &sys, &user) == LX_OK) {
        size_t fences = str[0] != '\0' ? 2 : 1; /* no question: no QUESTION fence */

        fuzz_check(fuzz_count(user, "<<<") == fences && fuzz_count(user, ">>>") == fences);
        free(sys);
        free(user);
    }
    if (tutor_prompt_edit(str, str, &sys, &user) == LX_OK) {
        fuzz_check(fuzz_count(user, "<<<") == 2 && fuzz_count(user, ">>>") == 2);
        free(sys);
        free(user);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *exact = malloc(size ? size : 1), *str = malloc(size + 1);
    int valid = fuzz_utf8_ok(data, size);
    int k;

    if (exact == NULL || str == NULL) {
        free(exact);
        free(str);
        return 0;
    }
    memcpy(exact, data, size);
    memcpy(str, data, size);
    str[size] = '\0';

    fuzz_parse_quiz(exact, size, valid);
    k = tutor_prompt_parse_judge(exact, size, (int)(size % 5));
    fuzz_check(k >= -1 && k < (int)(size % 5));
    fuzz_clean(exact, size, valid);
    fuzz_prompts(str, size);
    free(exact);
    free(str);
    return 0;
}
