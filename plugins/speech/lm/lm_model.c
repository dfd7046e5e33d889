/*
 * The model in memory: indexes, look-ups, back-off probabilities, ARPA text
 * in and out, the dictionary cut (lm.h).
 */
#include "config.h"

#include "lm.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void lm_free(lm_model *m)
{
    if (m == NULL)
        return;
    if (m->words != NULL)
        for (uint32_t i = 0; i < m->nw; i++)
            free(m->words[i]);
    free(m->words);
    free(m->p1);
    free(m->bo1);
    free(m->bi);
    free(m->bi_start);
    free(m->tri);
    free(m->by_name);
    free(m);
}

static int cmp_bigram(const void *x, const void *y)
{
    const lm_bigram *a = x, *b = y;
    if (a->w1 != b->w1)
        return a->w1 < b->w1 ? -1 : 1;
    return a->w2 < b->w2 ? -1 : a->w2 > b->w2;
}

static int cmp_trigram(const void *x, const void *y)
{
    const lm_trigram *a = x, *b = y;
    if (a->w1 != b->w1)
        return a->w1 < b->w1 ? -1 : 1;
    if (a->w2 != b->w2)
        return a->w2 < b->w2 ? -1 : 1;
    return a->w3 < b->w3 ? -1 : a->w3 > b->w3;
}

/* qsort has no context argument: the model whose names are sorted. */
static const lm_model *sorting;

static int cmp_name(const void *x, const void *y)
{
    return strcmp(sorting->words[*(const uint32_t *)x], sorting->words[*(const uint32_t *)y]);
}

int lm_index(lm_model *m, char *err, size_t errlen)
{
    if (m->n2 > 0)
        qsort(m->bi, m->n2, sizeof(*m->bi), cmp_bigram);
    if (m->n3 > 0)
        qsort(m->tri, m->n3, sizeof(*m->tri), cmp_trigram);
    free(m->bi_start);
    free(m->by_name);
    m->bi_start = calloc((size_t)m->nw + 1, sizeof(*m->bi_start));
    m->by_name = malloc(((size_t)m->nw + 1) * sizeof(*m->by_name));
    if (m->bi_start == NULL || m->by_name == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < m->n2; i++)
        m->bi_start[m->bi[i].w1 + 1]++;
    for (uint32_t a = 0; a < m->nw; a++)
        m->bi_start[a + 1] += m->bi_start[a];
    for (uint32_t i = 0; i < m->nw; i++)
        m->by_name[i] = i;
    sorting = m;
    qsort(m->by_name, m->nw, sizeof(*m->by_name), cmp_name);
    sorting = NULL;
    return 0;
}

long lm_word_id(const lm_model *m, const char *word)
{
    size_t lo = 0, hi = m->nw;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m->words[m->by_name[mid]], word);
        if (c == 0)
            return m->by_name[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

long lm_find_bigram(const lm_model *m, uint32_t a, uint32_t b)
{
    size_t lo = m->bi_start[a], hi = m->bi_start[a + 1];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->bi[mid].w2 == b)
            return (long)mid;
        if (m->bi[mid].w2 < b)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static long find_trigram(const lm_model *m, uint32_t a, uint32_t b, uint32_t c)
{
    lm_trigram key = {a, b, c, 0};
    const lm_trigram *t = bsearch(&key, m->tri, m->n3, sizeof(*m->tri), cmp_trigram);
    return t != NULL ? t - m->tri : -1;
}

double lm_logprob(const lm_model *m, const uint32_t *hist, int n, uint32_t w)
{
    if (n >= 2 && m->order >= 3) {
        uint32_t a = hist[n - 2], b = hist[n - 1];
        long t = find_trigram(m, a, b, w);
        if (t >= 0)
            return m->tri[t].p;
        long h = lm_find_bigram(m, a, b);
        return (h >= 0 ? m->bi[h].bo : 0.0) + lm_logprob(m, hist + n - 1, 1, w);
    }
    if (n >= 1) {
        uint32_t a = hist[n - 1];
        long i = lm_find_bigram(m, a, w);
        if (i >= 0)
            return m->bi[i].p;
        return m->bo1[a] + m->p1[w];
    }
    return m->p1[w];
}

/* ---------------------------------------------------------------- ARPA in */

/* Splits line into at most max whitespace-separated fields (in place). */
static int fields(char *line, char **f, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, " \t\r\n", &save); t != NULL && n < max;
         t = strtok_r(NULL, " \t\r\n", &save))
        f[n++] = t;
    return n;
}

int lm_read_arpa(const char *path, lm_model **out, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    lm_model *m = calloc(1, sizeof(*m));
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    size_t counts[4] = {0, 0, 0, 0}, got[4] = {0, 0, 0, 0};
    int section = -1; /* -1 before \data\, 0 in it, N in \N-grams: */
    int rc = -1;
    if (m == NULL)
        goto oom;
    while (getline(&line, &cap, fp) >= 0) {
        lineno++;
        char *f[5];
        size_t len = strcspn(line, "\r\n");
        line[len] = '\0';
        if (strcmp(line, "\\data\\") == 0) {
            section = 0;
            continue;
        }
        if (strcmp(line, "\\end\\") == 0)
            break;
        int n;
        if (sscanf(line, "\\%d-grams:", &n) == 1) {
            if (n < 1 || n > 3 || n > m->order) {
                snprintf(err, errlen, "%s:%zu: \\%d-grams: (orders 1 to 3 only)", path, lineno, n);
                goto out;
            }
            if (n == 1) {
                m->nw = (uint32_t)counts[1];
                m->words = calloc(m->nw, sizeof(*m->words));
                m->p1 = calloc(m->nw, sizeof(*m->p1));
                m->bo1 = calloc(m->nw, sizeof(*m->bo1));
                m->bi = calloc(counts[2] + 1, sizeof(*m->bi));
                m->tri = calloc(counts[3] + 1, sizeof(*m->tri));
                if (m->words == NULL || m->p1 == NULL || m->bo1 == NULL || m->bi == NULL ||
                    m->tri == NULL)
                    goto oom;
            } else if (n == 2 && m->by_name == NULL) {
                /* the unigrams are in: index them for the look-ups below */
                if (got[1] != counts[1]) {
                    snprintf(err, errlen, "%s: %zu unigrams, the header says %zu", path, got[1],
                             counts[1]);
                    goto out;
                }
                if (lm_index(m, err, errlen) < 0)
                    goto out;
            }
            section = n;
            continue;
        }
        if (section == 0) {
            size_t c;
            if (sscanf(line, "ngram %d=%zu", &n, &c) == 2) {
                if (n < 1 || n > 3) {
                    snprintf(err, errlen, "%s:%zu: order %d (orders 1 to 3 only)", path, lineno, n);
                    goto out;
                }
                counts[n] = c;
                if (n > m->order)
                    m->order = n;
            }
            continue;
        }
        if (section < 1)
            continue;
        int k = fields(line, f, 5);
        if (k == 0)
            continue;
        if (k < section + 1 || got[section] >= counts[section]) {
            snprintf(err, errlen, "%s:%zu: not a %d-gram line, or more than the header says", path,
                     lineno, section);
            goto out;
        }
        float p = strtof(f[0], NULL);
        float bo = k > section + 1 ? strtof(f[section + 1], NULL) : 0.0f;
        if (section == 1) {
            uint32_t i = (uint32_t)got[1]++;
            if ((m->words[i] = strdup(f[1])) == NULL)
                goto oom;
            m->p1[i] = p;
            m->bo1[i] = bo;
            continue;
        }
        long id[3];
        for (int j = 0; j < section; j++)
            if ((id[j] = lm_word_id(m, f[1 + j])) < 0) {
                snprintf(err, errlen, "%s:%zu: \"%s\" is not a unigram", path, lineno, f[1 + j]);
                goto out;
            }
        if (section == 2)
            m->bi[got[2]++] = (lm_bigram){(uint32_t)id[0], (uint32_t)id[1], p, bo};
        else
            m->tri[got[3]++] = (lm_trigram){(uint32_t)id[0], (uint32_t)id[1], (uint32_t)id[2], p};
    }
    if (m->order < 2 || got[1] != counts[1] || got[2] != counts[2] || got[3] != counts[3]) {
        snprintf(err, errlen, "%s: not a complete ARPA model of order 2 or 3", path);
        goto out;
    }
    m->n2 = got[2];
    m->n3 = got[3];
    for (int i = 1; i <= 3; i++)
        m->header_counts[i - 1] = (uint32_t)counts[i];
    if (lm_index(m, err, errlen) < 0)
        goto out;
    *out = m;
    m = NULL;
    rc = 0;
    goto out;
oom:
    snprintf(err, errlen, "out of memory");
out:
    free(line);
    fclose(fp);
    lm_free(m);
    return rc;
}

int lm_read(const char *path, lm_model **out, char *err, size_t errlen)
{
    static const char trie[] = "Trie Language Model";
    char head[sizeof(trie)] = {0};
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    size_t n = fread(head, 1, sizeof(trie) - 1, fp);
    fclose(fp);
    if (n == sizeof(trie) - 1 && memcmp(head, trie, n) == 0)
        return lm_read_trie(path, out, err, errlen);
    return lm_read_arpa(path, out, err, errlen);
}

/* ---------------------------------------------------------------- ARPA out */

static int tmp_next_to(const char *path, char *tmp, size_t len, FILE **fp, char *err, size_t errlen)
{
    snprintf(tmp, len, "%s.XXXXXX", path);
    int fd = mkstemp(tmp);
    /* mkstemp makes it 0600: the recognizer runs as another user */
    if (fd < 0 || fchmod(fd, 0644) < 0 || (*fp = fdopen(fd, "w")) == NULL) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        return -1;
    }
    return 0;
}

/* Writes the model to fp (ARPA). */
static int arpa_to(const lm_model *m, FILE *fp)
{
    int order = m->order >= 3 && m->n3 > 0 ? 3 : 2;
    fprintf(fp, "\\data\\\nngram 1=%u\nngram 2=%zu\n", m->nw, m->n2);
    if (order == 3)
        fprintf(fp, "ngram 3=%zu\n", m->n3);
    fprintf(fp, "\n\\1-grams:\n");
    for (uint32_t i = 0; i < m->nw; i++)
        fprintf(fp, "%.6f\t%s\t%.6f\n", m->p1[i], m->words[i], m->bo1[i]);
    fprintf(fp, "\n\\2-grams:\n");
    for (size_t i = 0; i < m->n2; i++) {
        const lm_bigram *b = &m->bi[i];
        if (order == 3)
            fprintf(fp, "%.6f\t%s %s\t%.6f\n", b->p, m->words[b->w1], m->words[b->w2], b->bo);
        else
            fprintf(fp, "%.6f\t%s %s\n", b->p, m->words[b->w1], m->words[b->w2]);
    }
    if (order == 3) {
        fprintf(fp, "\n\\3-grams:\n");
        for (size_t i = 0; i < m->n3; i++) {
            const lm_trigram *t = &m->tri[i];
            fprintf(fp, "%.6f\t%s %s %s\n", t->p, m->words[t->w1], m->words[t->w2],
                    m->words[t->w3]);
        }
    }
    fprintf(fp, "\n\\end\\\n");
    return ferror(fp) ? -1 : 0;
}

/* Ends a file begun by tmp_next_to: closes fp and renames tmp over path,
 * or (bad, or the close or rename failed) removes tmp. 0 or -1 with err. */
static int tmp_commit(const char *tmp, FILE *fp, int bad, const char *path, char *err,
                      size_t errlen)
{
    if (fclose(fp) != 0 || bad) {
        snprintf(err, errlen, "%s: write failed", tmp);
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, path) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int lm_write_arpa(const lm_model *m, const char *path, char *err, size_t errlen)
{
    char tmp[4096];
    FILE *fp;
    if (tmp_next_to(path, tmp, sizeof(tmp), &fp, err, errlen) < 0)
        return -1;
    int bad = arpa_to(m, fp);
    return tmp_commit(tmp, fp, bad, path, err, errlen);
}

/* ---------------------------------------------------------------- dictionary */

int lm_cut_dict(const lm_model *m, const char *in_path, const char *out_path, size_t *kept,
                size_t *dropped, char *err, size_t errlen)
{
    FILE *in = fopen(in_path, "r");
    if (in == NULL) {
        snprintf(err, errlen, "%s: %s", in_path, strerror(errno));
        return -1;
    }
    char tmp[4096];
    FILE *out;
    if (tmp_next_to(out_path, tmp, sizeof(tmp), &out, err, errlen) < 0) {
        fclose(in);
        return -1;
    }
    char *line = NULL, *word = NULL;
    size_t cap = 0, wcap = 0;
    *kept = *dropped = 0;
    int rc = 0;
    while (getline(&line, &cap, in) >= 0) {
        size_t n = strcspn(line, " \t\r\n");
        if (n + 1 > wcap) {
            char *w = realloc(word, n + 1);
            if (w == NULL) {
                rc = -1;
                break;
            }
            word = w;
            wcap = n + 1;
        }
        memcpy(word, line, n);
        word[n] = '\0';
        /* "word(2)": an alternative pronunciation of "word" */
        char *paren = strchr(word, '(');
        if (paren != NULL && paren != word && word[n - 1] == ')')
            *paren = '\0';
        if (n == 0 || lm_word_id(m, word) < 0) {
            ++*dropped;
            continue;
        }
        ++*kept;
        fputs(line, out);
    }
    free(line);
    free(word);
    fclose(in);
    return tmp_commit(tmp, out, rc < 0, out_path, err, errlen);
}

int lm_arpa_temp(const lm_model *m, const char *path, char *tmp, size_t len, char *err,
                 size_t errlen)
{
    FILE *fp;
    if (tmp_next_to(path, tmp, len, &fp, err, errlen) < 0)
        return -1;
    int bad = arpa_to(m, fp);
    if (fclose(fp) != 0 || bad) {
        snprintf(err, errlen, "%s: write failed", tmp);
        unlink(tmp);
        return -1;
    }
    return 0;
}
