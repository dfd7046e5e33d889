/*
 * The read-aloud assets' pure pieces (assets_parse.h): the Range header,
 * the chunk planner and the MP3 frame counter.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <lexiaid/plugin.h>

#include "assets_parse.h"

/* ------------------------------------------------------------------------ */
/* Range                                                                    */

static int range_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* The digits at *pp (at least one) as an int64_t saturated at INT64_MAX;
 * *pp moved past them. 0 when there is no digit. */
static int range_num(const char **pp, int64_t *v)
{
    const char *p = *pp;
    int64_t n = 0;

    if (!range_digit(*p))
        return 0;
    for (; range_digit(*p); p++) {
        int d = *p - '0';
        n = n > (INT64_MAX - d) / 10 ? INT64_MAX : n * 10 + d;
    }
    *pp = p;
    *v = n;
    return 1;
}

static const char *range_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

int speech_range(const char *h, int64_t size, int64_t *from, int64_t *to)
{
    const char *p;
    int64_t a, b = -1;

    if (h == NULL || strncasecmp(h, "bytes=", 6) != 0 || strchr(h, ',') != NULL)
        return 0;
    p = range_ows(h + 6);
    if (*p == '-') { /* the last b bytes */
        p++;
        if (!range_num(&p, &b) || *range_ows(p) != '\0' || size <= 0)
            return 0;
        if (b == 0)
            return -1;
        *from = b >= size ? 0 : size - b;
        *to = size - 1;
        return 1;
    }
    if (!range_num(&p, &a) || *p++ != '-')
        return 0;
    if (range_digit(*p) && (!range_num(&p, &b) || b < a))
        return 0;
    if (*range_ows(p) != '\0' || size <= 0)
        return 0;
    if (a >= size)
        return -1;
    *from = a;
    *to = b < 0 || b >= size ? size - 1 : b;
    return 1;
}

/* ------------------------------------------------------------------------ */
/* The chunk planner                                                        */

static int plan_is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Whether the whitespace run [a, b) separates paragraphs (words.h: a blank
 * line; a form feed counts two newlines). */
static int plan_is_break(const char *t, size_t a, size_t b)
{
    int nl = 0;

    for (size_t i = a; i < b && nl < 2; i++)
        nl += t[i] == '\n' ? 1 : t[i] == '\f' ? 2 : 0;
    return nl >= 2;
}

/* Where to cut [s, pe) (longer than max) of one paragraph: at the last
 * space at most max bytes in (t[s + max] exists: s + max < pe), else at a
 * UTF-8 boundary (max >= 4: one is always there). */
static size_t plan_cut(const char *t, size_t s, size_t max)
{
    size_t lim = s + max;

    for (size_t i = lim + 1; i > s + 1; i--)
        if (plan_is_space((unsigned char)t[i - 1])) {
            i--; /* the run of spaces stays out of both chunks (t[s] is not one) */
            while (plan_is_space((unsigned char)t[i - 1]))
                i--;
            return i;
        }
    while (lim > s + 1 && ((unsigned char)t[lim] & 0xc0) == 0x80)
        lim--;
    return lim;
}

static int plan_push(speech_chunk **v, size_t *n, size_t *cap, size_t s, size_t e, int para_after)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        speech_chunk *nv = realloc(*v, nc * sizeof(*nv));
        if (nv == NULL)
            return LX_ENOMEM;
        *v = nv;
        *cap = nc;
    }
    (*v)[*n].start = s;
    (*v)[*n].end = e;
    (*v)[*n].para_after = para_after;
    (*n)++;
    return LX_OK;
}

int speech_chunk_plan(const char *t, size_t len, size_t max, speech_chunk **out, size_t *n_out)
{
    speech_chunk *v = NULL;
    size_t n = 0, cap = 0, pos = 0, cs, ce;
    int rc = LX_OK;

    *out = NULL;
    *n_out = 0;
    if (max < 4) /* a UTF-8 character must fit */
        return LX_EINVAL;
    while (pos < len && plan_is_space((unsigned char)t[pos]))
        pos++;
    cs = ce = pos;
    while (pos < len && rc == LX_OK) {
        size_t pe = pos, ws;

        /* the paragraph [pos, pe) and the run of white space after it */
        for (;;) {
            while (pe < len && !plan_is_space((unsigned char)t[pe]))
                pe++;
            ws = pe;
            while (ws < len && plan_is_space((unsigned char)t[ws]))
                ws++;
            if (ws >= len || plan_is_break(t, pe, ws))
                break;
            pe = ws;
        }
        if (ce > cs && pe - cs > max) { /* the chunk is full: it ends a paragraph */
            rc = plan_push(&v, &n, &cap, cs, ce, 1);
            cs = pos;
        }
        while (rc == LX_OK && pe - cs > max) { /* a paragraph longer than a chunk */
            size_t cut = plan_cut(t, cs, max);
            rc = plan_push(&v, &n, &cap, cs, cut, 0);
            cs = cut;
            while (cs < pe && plan_is_space((unsigned char)t[cs]))
                cs++;
        }
        ce = pe;
        pos = ws;
    }
    if (rc == LX_OK && ce > cs)
        rc = plan_push(&v, &n, &cap, cs, ce, 0);
    if (rc != LX_OK) {
        free(v);
        return rc;
    }
    *out = v;
    *n_out = n;
    return LX_OK;
}

/* ------------------------------------------------------------------------ */
/* MP3 frames                                                               */

typedef struct mp3_hdr {
    unsigned ver, layer, bri, sri, pad, mono, crc;
    unsigned rate, spf, flen; /* flen 0: free format */
} mp3_hdr;

/* The layer III frame header at p[0..4), or 0. */
static int mp3_hdr_read(const unsigned char *p, mp3_hdr *h)
{
    static const unsigned short br1[16] = {0,   32,  40,  48,  56,  64,  80,  96,
                                           112, 128, 160, 192, 224, 256, 320, 0};
    static const unsigned short br2[16] = {0,  8,  16, 24,  32,  40,  48,  56,
                                           64, 80, 96, 112, 128, 144, 160, 0};
    static const unsigned sr1[3] = {44100, 48000, 32000};
    unsigned kbps;

    if (p[0] != 0xff || (p[1] & 0xe0) != 0xe0)
        return 0;
    h->ver = (p[1] >> 3) & 3; /* 3: MPEG 1, 2: MPEG 2, 0: MPEG 2.5, 1: reserved */
    h->layer = (p[1] >> 1) & 3;
    h->crc = !(p[1] & 1);
    h->bri = p[2] >> 4;
    h->sri = (p[2] >> 2) & 3;
    h->pad = (p[2] >> 1) & 1;
    h->mono = (p[3] >> 6) == 3;
    if (h->ver == 1 || h->layer != 1 || h->bri == 15 || h->sri == 3)
        return 0;
    h->rate = sr1[h->sri] / (h->ver == 3 ? 1 : h->ver == 2 ? 2 : 4);
    h->spf = h->ver == 3 ? 1152 : 576;
    kbps = h->ver == 3 ? br1[h->bri] : br2[h->bri];
    h->flen = kbps == 0 ? 0 : (h->spf / 8) * kbps * 1000 / h->rate + h->pad;
    return 1;
}

/* Whether the frame at p (len bytes there) is a Xing/Info/VBRI header. */
static int mp3_is_meta(const unsigned char *p, size_t len, const mp3_hdr *h)
{
    size_t side = h->ver == 3 ? (h->mono ? 17 : 32) : (h->mono ? 9 : 17);
    size_t x = 4 + (h->crc ? 2 : 0) + side;

    if (x + 4 <= len && (memcmp(p + x, "Xing", 4) == 0 || memcmp(p + x, "Info", 4) == 0))
        return 1;
    return 36 + 4 <= len && memcmp(p + 36, "VBRI", 4) == 0;
}

/* Where the free-format frame at i ends: the next header of the same
 * stream (version, layer, rate, free format), or 0. */
static size_t mp3_free_end(const unsigned char *p, size_t len, size_t i)
{
    for (size_t k = i + 4; k + 4 <= len; k++)
        if (p[k] == 0xff && (p[k + 1] & 0xfe) == (p[i + 1] & 0xfe) && (p[k + 2] >> 4) == 0 &&
            ((p[k + 2] >> 2) & 3) == ((p[i + 2] >> 2) & 3))
            return k;
    return 0;
}

double speech_mp3_seconds(const unsigned char *p, size_t len)
{
    double secs = 0;
    size_t i = 0, free_len = 0;
    int first = 1;

    /* an ID3v2 tag: "ID3", version, flags, a 28-bit syncsafe size */
    if (len >= 10 && memcmp(p, "ID3", 3) == 0 && p[3] != 0xff && p[4] != 0xff &&
        ((p[6] | p[7] | p[8] | p[9]) & 0x80) == 0) {
        size_t tag = ((size_t)p[6] << 21 | (size_t)p[7] << 14 | (size_t)p[8] << 7 | p[9]) + 10;
        if (p[5] & 0x10)
            tag += 10; /* a footer */
        i = tag < len ? tag : len;
    }
    while (i + 4 <= len) {
        mp3_hdr h;
        size_t flen;

        if (!mp3_hdr_read(p + i, &h)) {
            i++; /* not a frame: look further */
            continue;
        }
        flen = h.flen;
        if (flen == 0) { /* free format: to the next header, or the length seen before */
            size_t end = mp3_free_end(p, len, i);
            if (end != 0)
                flen = end - i;
            else if (free_len != 0)
                flen = free_len + h.pad;
            else
                break;
            if (free_len == 0)
                free_len = flen - h.pad;
        }
        if (flen > len - i)
            break; /* truncated: a decoder cannot play it */
        if (!(first && mp3_is_meta(p + i, flen, &h)))
            secs += (double)h.spf / h.rate;
        first = 0;
        i += flen;
    }
    return secs;
}

/* ------------------------------------------------------------------------ */
/* Backoff                                                                  */

int64_t speech_backoff_ms(int fails, int64_t min_ms, int64_t max_ms)
{
    int64_t d = min_ms;

    if (fails <= 0 || min_ms <= 0)
        return 0;
    for (int i = 1; i < fails && d < max_ms; i++)
        d = d > max_ms / 2 ? max_ms : d * 2;
    return d < max_ms ? d : max_ms;
}
