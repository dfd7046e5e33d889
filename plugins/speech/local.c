/*
 * The local provider (provider.h): flite and espeak-ng in lexiaid-speech
 * helpers (pool.c), word times from the engines themselves.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "provider.h"

typedef struct local_call {
    struct local_call *next, **prev; /* the provider's calls in flight */
    speech_provider_done_fn done;
    void *arg;
} local_call;

typedef struct local_provider {
    speech_provider base; /* first: the provider is cast from it */
    speech_state *st;
    speech_pool *pool;
    local_call *calls; /* freed with the provider: the pool drops their done */
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

static void local_done(void *arg, int status, const char *message, uint32_t helper_code,
                       speech_audio *audio)
{
    local_call *c = arg;
    speech_provider_done_fn done = c->done;
    void *darg = c->arg;

    local_call_free(c);
    if (status == LX_EINVAL) {
        switch (helper_code) {
        case SPEECH_ERR_VOICE:
            status = LX_ENOENT;
            break;
        case SPEECH_ERR_TOO_LONG:
            status = LX_ETOOBIG;
            break;
        default:
            status = LX_EIO;
            break;
        }
    }
    done(darg, status, message, audio);
}

/* A speak frame to the helpers; kbps 0: the times only. */
static int local_speak(speech_provider *pv, const char *text, const speech_text *t,
                       const speech_voice *v, double rate, double pitch, uint32_t kbps,
                       speech_provider_done_fn done, void *arg)
{
    local_provider *lp = (local_provider *)pv;
    speech_state *st = lp->st;
    speech_wbuf b = {0};
    local_call *c;
    char *seg = NULL;
    size_t cap = 0;

    speech_w_begin(&b, SPEECH_MSG_SPEAK);
    speech_w_u32(&b, SPEECH_PROTO_VERSION);
    speech_w_str(&b, v->name);
    speech_w_u32(&b, (uint32_t)(int32_t)lround(rate * 1000.0));
    speech_w_u32(&b, (uint32_t)(int32_t)lround(pitch * 100.0));
    speech_w_u32(&b, kbps);
    speech_w_u32(&b, st->pause_ms);
    speech_w_u32(&b, (uint32_t)t->n_segs);
    for (size_t s = 0; s < t->n_segs && !b.failed; s++) {
        unsigned char ends = (unsigned char)t->segs[s].ends_para;

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
    if (speech_w_end(&b) != LX_OK) {
        speech_wbuf_free(&b);
        return LX_ENOMEM;
    }
    c = local_call_new(lp, done, arg);
    if (c == NULL) {
        speech_wbuf_free(&b);
        return LX_ENOMEM;
    }
    if (speech_pool_submit(lp->pool, b.p, b.len, st->timeout_ms, local_done, c) != LX_OK) {
        local_call_free(c);
        return LX_ENOMEM; /* the pool freed the frame */
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
    local_call *c;

    if (frame == NULL)
        return n > SPEECH_FRAME_MAX / 2 ? LX_ETOOBIG : LX_ENOMEM;
    c = local_call_new(lp, done, arg);
    if (c == NULL) {
        free(frame);
        return LX_ENOMEM;
    }
    if (speech_pool_submit(lp->pool, frame, len, lp->st->timeout_ms, local_done, c) != LX_OK) {
        local_call_free(c);
        return LX_ENOMEM;
    }
    return LX_OK;
}

static void local_destroy(speech_provider *pv)
{
    local_provider *lp = (local_provider *)pv;

    speech_pool_free(lp->pool);
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
