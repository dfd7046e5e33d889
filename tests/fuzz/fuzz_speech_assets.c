/*
 * libFuzzer target for the read-aloud assets' pure pieces
 * (plugins/speech/assets_parse.c): the Range header any client sends, the
 * chunk planner over any document text, and the MP3 frame counter over
 * any bytes an engine or a cloud service returns. Each runs on a copy of
 * exactly the input's size, so a read past the end shows, and the results
 * are checked against the functions' promises.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lexiaid/plugin.h>

#include "assets_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static void check_range(const uint8_t *data, size_t size)
{
    char *h = malloc(size + 1);
    int64_t sizes[] = {0, 1, 2, 1000, INT64_MAX}, from, to;

    if (h == NULL)
        return;
    memcpy(h, data, size);
    h[size] = '\0';
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        int r = speech_range(h, sizes[k], &from, &to);
        if (r < -1 || r > 1 || (r == 1 && (from < 0 || from > to || to >= sizes[k])) ||
            (r != 0 && sizes[k] == 0))
            abort();
    }
    free(h);
}

static void check_plan(const uint8_t *data, size_t size)
{
    size_t max = 4 + (size > 0 ? data[0] : 0), n, prev = 0;
    char *t = malloc(size ? size : 1);
    speech_chunk *c;

    if (t == NULL)
        return;
    if (size > 0)
        memcpy(t, data, size);
    if (speech_chunk_plan(t, size, max, &c, &n) != LX_OK) {
        free(t);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (c[i].start >= c[i].end || c[i].end > size || c[i].end - c[i].start > max ||
            c[i].start < prev || is_space((unsigned char)t[c[i].start]) ||
            is_space((unsigned char)t[c[i].end - 1]))
            abort();
        for (size_t k = prev; k < c[i].start; k++)
            if (!is_space((unsigned char)t[k]))
                abort(); /* a word dropped */
        prev = c[i].end;
    }
    for (size_t k = prev; k < size; k++)
        if (!is_space((unsigned char)t[k]))
            abort();
    if (n > 0 && c[n - 1].para_after)
        abort();
    free(c);
    free(t);
}

static void check_mp3(const uint8_t *data, size_t size)
{
    unsigned char *p = malloc(size ? size : 1);
    double s;

    if (p == NULL)
        return;
    if (size > 0)
        memcpy(p, data, size);
    s = speech_mp3_seconds(p, size);
    /* no frame plays longer than 1152 samples at 8 kHz in 4 bytes */
    if (!isfinite(s) || s < 0 || s > (double)size * (1152.0 / 8000.0 / 4.0) + 1e-9)
        abort();
    free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_range(data, size);
    check_plan(data, size);
    check_mp3(data, size);
    return 0;
}
