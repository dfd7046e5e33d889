/*
 * The local provider (provider.h): flite and espeak-ng in lexiaid-speech
 * helpers (pool.c), word times from the engines themselves.
 *
 * A long text is spoken in parts by several helpers at once: its segments
 * are cut into up to `helpers` runs of at least LOCAL_SPLIT_MIN bytes,
 * each run is one request, and the answers are joined (join.c) when the
 * last arrives. A page's wall time is then divided by the helpers (the
 * cores) instead of waiting for one engine to speak it all. A run that
 * ends a paragraph asks its helper for the paragraph pause at its end, so
 * the joined audio pauses where one helper would have.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "join.h"
#include "pool.h"
#include "provider.h"

/* Bytes of text a part has at least: shorter texts go to one helper (a
 * part costs a request, an encoder start and a frame's padding). */
#define LOCAL_SPLIT_MIN 1024
#define LOCAL_MAX_PARTS 16

typedef struct local_call {
    struct local_call *next, **prev; /* the provider's calls in flight */
    speech_provider_done_fn done;
    void *arg;
} local_call;

typedef struct local_split local_split;

/* One part of a split synthesis: the argument of its request's done. */
typedef struct local_part {
    local_split *sp;
    size_t k;
} local_part;

/* A synthesis spoken in parts (see the top): answered when every part is. */
struct local_split {
    local_split *next, **prev; /* the provider's splits in flight */
    local_call *call;          /* the caller's done */
    size_t n, left;            /* parts, parts not answered yet */
    int status;                /* the first failure, LX_OK while none */
    char message[256];         /* its message */
    local_part part[LOCAL_MAX_PARTS];
    uint32_t first_seg[LOCAL_MAX_PARTS];
    speech_audio audio[LOCAL_MAX_PARTS];
};

typedef struct local_provider {
    speech_provider base; /* first: the provider is cast from it */
    speech_state *st;
    speech_pool *pool;
    local_call *calls;   /* freed with the provider: the pool drops their done */
    local_split *splits; /* likewise */
} local_provider;

static local_call *local_call_new(local_provider *lp, speech_provider_done_fn done, void *arg)
{
    local_call *c = malloc(sizeof(*c));

    if (c == NULL)
        return NULL;
    c->done = done;
    c->arg = arg;
    c->next = lp->calls;
    c->prev = &lp->calls;
    if (lp->calls != NULL)
        lp->calls->prev = &c->next;
    lp->calls = c;
    return c;
}

static void local_call_free(local_call *c)
{
    *c->prev = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    free(c);
}

/* The provider's status (provider.h) for the pool's. */
static int local_status(int status, uint32_t helper_code)
{
    if (status != LX_EINVAL)
        return status;
    switch (helper_code) {
    case SPEECH_ERR_VOICE:
        return LX_ENOENT;
    case SPEECH_ERR_TOO_LONG:
        return LX_ETOOBIG;
    default:
        return LX_EIO;
    }
}

static void local_done(void *arg, int status, const char *message, uint32_t helper_code,
                       speech_audio *audio)
{
    local_call *c = arg;
    speech_provider_done_fn done = c->done;
    void *darg = c->arg;

    local_call_free(c);
    done(darg, local_status(status, helper_code), message, audio);
}

/* One request frame (taken over) to the helpers, answered through done.
 * LX_OK, or LX_ENOMEM (the frame freed, done never runs). */
static int local_submit(local_provider *lp, unsigned char *frame, size_t len,
                        speech_provider_done_fn done, void *arg)
{
    local_call *c = local_call_new(lp, done, arg);

    if (c == NULL) {
        free(frame);
        return LX_ENOMEM;
    }
    if (speech_pool_submit(lp->pool, frame, len, lp->st->timeout_ms, local_done, c) != LX_OK) {
        local_call_free(c);
        return LX_ENOMEM; /* the pool freed the frame */
    }
    return LX_OK;
}

static void local_split_free(local_split *sp)
{
    *sp->prev = sp->next;
    if (sp->next != NULL)
        sp->next->prev = sp->prev;
    for (size_t k = 0; k < sp->n; k++)
        speech_audio_free(&sp->audio[k]);
    free(sp);
}

/* A part's answer; the last one joins the parts and answers the caller. */
static void local_part_done(void *arg, int status, const char *message, uint32_t helper_code,
                            speech_audio *audio)
{
    local_part *pt = arg;
    local_split *sp = pt->sp;
    local_call *c = sp->call;
    speech_provider_done_fn done = c->done;
    void *darg = c->arg;
    speech_audio joined;
    char msg[sizeof(sp->message)];

    if (status == LX_OK) {
        sp->audio[pt->k] = *audio;
        memset(audio, 0, sizeof(*audio));
    } else if (sp->status == LX_OK) {
        sp->status = local_status(status, helper_code);
        snprintf(sp->message, sizeof(sp->message), "%s", message ? message : "");
    }
    if (--sp->left > 0)
        return;
    status = sp->status;
    if (status == LX_OK) {
        status = speech_audio_join(sp->audio, sp->first_seg, sp->n, &joined);
        if (status != LX_OK)
            snprintf(sp->message, sizeof(sp->message), "%s",
                     status == LX_ENOMEM ? "out of memory joining the parts"
                                         : "a part of the speech is not MP3");
        if (status == LX_EINVAL)
            status = LX_EIO;
    }
    snprintf(msg, sizeof(msg), "%s", sp->message);
    local_split_free(sp);
    local_call_free(c);
    done(darg, status, status == LX_OK ? NULL : msg, status == LX_OK ? &joined : NULL);
}

/* The 'S' frame for segments [s0, s1) of t (malloc'd, *len), or NULL when
 * out of memory; kbps 0: the times only. pause_end: the last segment ends a paragraph that another
 * part continues, so the helper pauses after it. */
static unsigned char *local_frame(const local_provider *lp, const char *text, const speech_text *t,
                                  const speech_voice *v, double rate, double pitch, uint32_t kbps,
                                  size_t s0, size_t s1, int pause_end, size_t *len)
{
    const speech_state *st = lp->st;
    speech_wbuf b = {0};
    char *seg = NULL;
    size_t cap = 0;

    speech_w_begin(&b, SPEECH_MSG_SPEAK);
    speech_w_u32(&b, SPEECH_PROTO_VERSION);
    speech_w_str(&b, v->name);
    speech_w_u32(&b, (uint32_t)(int32_t)lround(rate * 1000.0));
    speech_w_u32(&b, (uint32_t)(int32_t)lround(pitch * 100.0));
    speech_w_u32(&b, kbps);
    speech_w_u32(&b, st->pause_ms);
    speech_w_u32(&b, (uint32_t)(s1 - s0));
    for (size_t s = s0; s < s1 && !b.failed; s++) {
        unsigned char ends = t->segs[s].ends_para ? SPEECH_SEG_ENDS_PARA : 0;

        if (s + 1 == s1 && pause_end && ends)
            ends |= SPEECH_SEG_PAUSE_AFTER;
        if (t->segs[s].len + 1 > cap) {
            char *q = realloc(seg, t->segs[s].len + 1);

            if (q == NULL) {
                b.failed = LX_ENOMEM;
                break;
            }
            seg = q;
            cap = t->segs[s].len + 1;
        }
        speech_seg_text(text, t, s, seg);
        speech_w_u8(&b, ends);
        speech_w_bytes(&b, seg, t->segs[s].len);
    }
    free(seg);
    return speech_w_take(&b, len);
}

/* How many parts t is spoken in (1: one request), and where each starts:
 * runs of whole segments of about equal bytes, each at least
 * LOCAL_SPLIT_MIN, at most one per helper; the times only (kbps 0) in
 * one part. */
static size_t local_plan(const local_provider *lp, const speech_text *t, uint32_t kbps,
                         uint32_t *first)
{
    size_t total = 0, n, k = 1, acc = 0;

    first[0] = 0;
    if (kbps == 0) /* the times only: no MP3 to place the parts by */
        return 1;
    for (size_t s = 0; s < t->n_segs; s++)
        total += t->segs[s].len;
    n = total / LOCAL_SPLIT_MIN;
    if (n > (size_t)lp->st->n_helpers)
        n = (size_t)lp->st->n_helpers;
    if (n > t->n_segs)
        n = t->n_segs;
    if (n > LOCAL_MAX_PARTS)
        n = LOCAL_MAX_PARTS;
    first[0] = 0;
    if (n <= 1)
        return 1;
    /* a new part starts at the first segment that begins at or past k/n of
     * the text */
    for (size_t s = 0; s < t->n_segs && k < n; s++) {
        if (acc * n >= total * k && s > first[k - 1])
            first[k++] = (uint32_t)s;
        acc += t->segs[s].len;
    }
    return k;
}

/* Speaks t (see the top: in parts when it is long); kbps 0: the times
 * only. The provider's synthesize contract. */
static int local_speak(speech_provider *pv, const char *text, const speech_text *t,
                       const speech_voice *v, double rate, double pitch, uint32_t kbps,
                       speech_provider_done_fn done, void *arg)
{
    local_provider *lp = (local_provider *)pv;
    uint32_t first[LOCAL_MAX_PARTS];
    size_t n = local_plan(lp, t, kbps, first), len;
    local_split *sp;
    local_call *c;
    unsigned char *frame;

    if (n == 1) {
        frame = local_frame(lp, text, t, v, rate, pitch, kbps, 0, t->n_segs, 0, &len);
        return frame != NULL ? local_submit(lp, frame, len, done, arg) : LX_ENOMEM;
    }
    sp = calloc(1, sizeof(*sp));
    if (sp == NULL)
        return LX_ENOMEM;
    c = local_call_new(lp, done, arg);
    if (c == NULL) {
        free(sp);
        return LX_ENOMEM;
    }
    sp->call = c;
    sp->n = n;
    sp->status = LX_OK;
    memcpy(sp->first_seg, first, n * sizeof(*first));
    sp->next = lp->splits;
    sp->prev = &lp->splits;
    if (lp->splits != NULL)
        lp->splits->prev = &sp->next;
    lp->splits = sp;
    /* every frame first, so that a failure submits none */
    unsigned char *frames[LOCAL_MAX_PARTS];
    size_t lens[LOCAL_MAX_PARTS];

    for (size_t k = 0; k < n; k++) {
        size_t s1 = k + 1 < n ? first[k + 1] : t->n_segs;

        frames[k] =
            local_frame(lp, text, t, v, rate, pitch, kbps, first[k], s1, k + 1 < n, &lens[k]);
        if (frames[k] == NULL) {
            while (k-- > 0)
                free(frames[k]);
            local_split_free(sp);
            local_call_free(c);
            return LX_ENOMEM;
        }
    }
    for (size_t k = 0; k < n; k++) {
        sp->part[k].sp = sp;
        sp->part[k].k = k;
        sp->left++;
        if (speech_pool_submit(lp->pool, frames[k], lens[k], lp->st->timeout_ms, local_part_done,
                               &sp->part[k]) != LX_OK) {
            /* the parts submitted already answer later: this one fails */
            sp->left--;
            if (sp->status == LX_OK) {
                sp->status = LX_ENOMEM;
                snprintf(sp->message, sizeof(sp->message), "out of memory");
            }
            for (size_t j = k + 1; j < n; j++)
                free(frames[j]);
            if (sp->left == 0) { /* nothing submitted: the caller hears LX_ENOMEM */
                local_split_free(sp);
                local_call_free(c);
                return LX_ENOMEM;
            }
            break;
        }
    }
    return LX_OK;
}

static int local_synthesize(speech_provider *pv, const char *text, const speech_text *t,
                            const speech_voice *v, double rate, double pitch,
                            speech_provider_done_fn done, void *arg)
{
    return local_speak(pv, text, t, v, rate, pitch, ((local_provider *)pv)->st->kbps, done, arg);
}

int speech_local_times(speech_provider *local, const char *text, const speech_text *t,
                       const speech_voice *v, double rate, double pitch,
                       speech_provider_done_fn done, void *arg)
{
    return local_speak(local, text, t, v, rate, pitch, 0, done, arg);
}

int speech_local_encode(speech_provider *local, const unsigned char *pcm_le, size_t n,
                        uint32_t rate, speech_provider_done_fn done, void *arg)
{
    local_provider *lp = (local_provider *)local;
    size_t len;
    unsigned char *frame = speech_encode_frame(pcm_le, n, rate, lp->st->kbps, &len);

    if (frame == NULL)
        return n > SPEECH_FRAME_MAX / 2 ? LX_ETOOBIG : LX_ENOMEM;
    return local_submit(lp, frame, len, done, arg);
}

static void local_destroy(speech_provider *pv)
{
    local_provider *lp = (local_provider *)pv;

    speech_pool_free(lp->pool);
    while (lp->splits != NULL)
        local_split_free(lp->splits);
    while (lp->calls != NULL)
        local_call_free(lp->calls);
    free(lp);
}

speech_provider *speech_local_new(speech_state *st, lx_worker *w)
{
    local_provider *lp = calloc(1, sizeof(*lp));
    speech_pool_opts o = {
        .program = st->helper,
        .n_helpers = st->n_helpers,
        .max_queue = st->max_queue,
        .max_mem = st->helper_memory,
        .idle_ms = st->idle_ms,
    };

    if (lp == NULL)
        return NULL;
    lp->st = st;
    lp->pool = speech_pool_new(st->host, w, &o);
    if (lp->pool == NULL) {
        free(lp);
        return NULL;
    }
    lp->base.name = "local";
    lp->base.synthesize = local_synthesize;
    lp->base.destroy = local_destroy;
    return &lp->base;
}
