/*
 * The read-aloud assets' maker (assets.h): one worker's queue of documents
 * whose audio and timepoints are to be made.
 *
 *   storage.v1 profile_get (the owner's voice, speed and pitch, resolved
 *   once: assets_params.c) -> doc_get (the text) -> chunks of whole
 *   paragraphs of at most assets.chunk bytes (a longer paragraph is cut
 *   between words) -> each chunk through speech_synthesize (synth.c: those
 *   parameters, the cache, the helpers), one after another -> the MP3s
 *   joined (CBR frames without a Xing header: a concatenation is one
 *   stream) and the timepoints shifted by the audio before them, a
 *   PARAGRAPH_BREAK where a chunk ended a paragraph -> storage.v1
 *   asset_put: the audio, the parameters, then the timepoints (their
 *   presence says the others are there).
 *
 * One maker per document across workers and replicas: a job claims the
 * making first (storage.v1 minor 4, asset_claim: a lease of 2 minutes,
 * renewed between chunks once a third of it has passed, given back at the
 * end, lapsing when its worker dies); a document another worker holds is
 * left to it (the route answers "being made" meanwhile). Without minor 4
 * each worker knows only its own queue.
 *
 * At most assets.concurrency documents at once per worker (1), each one
 * chunk at a time, so a long document holds one helper and ordinary
 * read-aloud requests keep the others. Everything runs on the loop; the
 * engines in the helpers, the bytes in storage's offload jobs. A job for a
 * document deleted meanwhile ends at its next step (storage answers
 * LX_ENOENT); a job whose worker stops ends without storing.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "assets.h"
#include "assets_parse.h"
#include "speech.h"
#include "synth.h"

#define MAKE_MAX_QUEUED 256
#define MAKE_MAX_FAILED 1024               /* documents remembered as failed, per worker */
#define MAKE_LEASE_MS 120000               /* the claim on making a document's assets, renewed */
#define MAKE_MAX_AUDIO (64u * 1024 * 1024) /* what asset_get serves at once */

struct speech_make_job {
    speech_make_job *next;
    speech_state *st;
    char *uid, *id;
    char *text;
    speech_chunk *chunks;
    size_t n_chunks, i;
    unsigned char *mp3;
    size_t mp3_len, mp3_cap;
    json_object *tps; /* the timepoints so far */
    double offset;    /* seconds of audio so far */
    speech_waiter *waiter;
    int storage_out; /* a storage.v1 call is out: its callback ends the job */
    int dead;        /* forgotten or stopping: end at the next callback */
    int claimed;     /* this worker holds the making (storage.v1 asset_claim) */
    int64_t claimed_at_ms;
    int has_params; /* spoken with `params`, stored beside the assets (minor 4) */
    speech_asset_params params;
};

/* ------------------------------------------------------------------------ */
/* Failures: each one in a row doubles the wait (assets.retry_min, at most
 * assets.retry_max) before the document is tried again, so a document the
 * engine or storage cannot take is not made again on every request.       */

static int64_t make_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static speech_make_failure *make_failure_find(speech_maker *m, const char *id)
{
    for (size_t i = 0; i < m->n_failed; i++)
        if (strcmp(m->failed[i].id, id) == 0)
            return &m->failed[i];
    return NULL;
}

void speech_make_clear(speech_state *st, const char *id)
{
    speech_maker *m = &st->maker;
    speech_make_failure *f = make_failure_find(m, id);

    if (f == NULL)
        return;
    free(f->id);
    *f = m->failed[--m->n_failed];
}

int64_t speech_make_backoff(speech_state *st, const char *id)
{
    speech_make_failure *f = make_failure_find(&st->maker, id);
    int64_t now = make_now_ms();

    return f != NULL && f->next_ms > now ? f->next_ms - now : 0;
}

/* One more failure of the document in a row. When the table is full, the
 * entry due soonest makes room (it would be tried again first anyway). */
static void make_failure_note(speech_state *st, const char *id)
{
    speech_maker *m = &st->maker;
    speech_make_failure *f = make_failure_find(m, id);

    if (m->stopping)
        return;
    if (f == NULL) {
        if (m->failed == NULL && (m->failed = calloc(MAKE_MAX_FAILED, sizeof(*m->failed))) == NULL)
            return;
        if (m->n_failed == MAKE_MAX_FAILED) {
            size_t soonest = 0;
            for (size_t i = 1; i < m->n_failed; i++)
                if (m->failed[i].next_ms < m->failed[soonest].next_ms)
                    soonest = i;
            free(m->failed[soonest].id);
            m->failed[soonest] = m->failed[--m->n_failed];
        }
        f = &m->failed[m->n_failed];
        memset(f, 0, sizeof(*f));
        if ((f->id = strdup(id)) == NULL)
            return;
        m->n_failed++;
    }
    f->fails++;
    f->next_ms = make_now_ms() +
                 speech_backoff_ms(f->fails, st->assets.retry_min_ms, st->assets.retry_max_ms);
}

static void make_failures_free(speech_maker *m)
{
    for (size_t i = 0; i < m->n_failed; i++)
        free(m->failed[i].id);
    free(m->failed);
    m->failed = NULL;
    m->n_failed = 0;
}

/* ------------------------------------------------------------------------ */
/* The queue                                                                */

static void make_pump(speech_state *st);

static void make_free(speech_make_job *j)
{
    free(j->uid);
    free(j->id);
    free(j->text);
    free(j->chunks);
    free(j->mp3);
    json_object_put(j->tps);
    free(j);
}

static void make_unlink(speech_make_job **head, speech_make_job *j)
{
    for (speech_make_job **pp = head; *pp != NULL; pp = &(*pp)->next)
        if (*pp == j) {
            *pp = j->next;
            return;
        }
}

/* The end of a running job, made or not. */
static void make_released(void *arg, int status, const char *message)
{
    (void)arg;
    (void)status;
    (void)message; /* not given back: the lease lapses */
}

static void make_finish(speech_make_job *j)
{
    speech_state *st = j->st;

    if (j->claimed)
        (void)st->sv->asset_claim(st->sv_state, st->w, j->uid, j->id, 0, make_released, NULL);
    make_unlink(&st->maker.running, j);
    st->maker.n_running--;
    make_free(j);
    make_pump(st);
}

static void make_fail(speech_make_job *j, const char *what, const char *why)
{
    speech_state *st = j->st;

    make_failure_note(st, j->id);
    st->host->log(LX_LOG_WARN, SPEECH_SRC, NULL,
                  "document %s: read-aloud assets not made: %s: %s (tried again in %lld s at "
                  "the earliest)",
                  j->id, what, why, (long long)(speech_make_backoff(st, j->id) + 999) / 1000);
    make_finish(j);
}

static void make_put_tps_done(void *arg, int status, const char *message)
{
    speech_make_job *j = arg;

    j->storage_out = 0;
    if (status == LX_OK)
        speech_make_clear(j->st, j->id);
    if (status == LX_OK && !j->dead)
        j->st->host->log(LX_LOG_INFO, SPEECH_SRC, NULL,
                         "document %s: read-aloud assets made (%zu chunks, %.1f s of audio, %zu "
                         "bytes)",
                         j->id, j->n_chunks, j->offset, j->mp3_len);
    if (status != LX_OK && status != LX_ENOENT && status != LX_ECANCELED)
        make_fail(j, "storing the timepoints", message);
    else
        make_finish(j);
}

static void make_put_tps(speech_make_job *j)
{
    speech_state *st = j->st;
    const char *json;

    json = json_object_to_json_string_ext(j->tps,
                                          JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    j->storage_out = 1;
    if (st->sv->asset_put(st->sv_state, st->w, j->uid, j->id, LX_STORAGE_ASSET_TTS_TIMEPOINTS, json,
                          strlen(json), make_put_tps_done, j) != LX_OK) {
        j->storage_out = 0;
        make_fail(j, "storing the timepoints", "out of memory");
    }
}

static void make_put_params_done(void *arg, int status, const char *message)
{
    speech_make_job *j = arg;

    j->storage_out = 0;
    if (j->dead || status == LX_ENOENT || status == LX_ECANCELED)
        make_finish(j);
    else if (status != LX_OK)
        make_fail(j, "storing the parameters", message);
    else
        make_put_tps(j);
}

/* The audio stored: the parameters (when known), then the timepoints,
 * whose presence says the others are there. */
static void make_put_audio_done(void *arg, int status, const char *message)
{
    speech_make_job *j = arg;
    speech_state *st = j->st;

    j->storage_out = 0;
    if (j->dead || status == LX_ENOENT || status == LX_ECANCELED) {
        make_finish(j); /* deleted, or stopping */
        return;
    }
    if (status != LX_OK) {
        make_fail(j, "storing the audio", message);
        return;
    }
    if (!j->has_params) {
        make_put_tps(j);
        return;
    }
    j->storage_out = 1;
    if (st->sv->asset_put(st->sv_state, st->w, j->uid, j->id, LX_STORAGE_ASSET_TTS_PARAMS,
                          j->params.json, strlen(j->params.json), make_put_params_done,
                          j) != LX_OK) {
        j->storage_out = 0;
        make_fail(j, "storing the parameters", "out of memory");
    }
}

static void make_store(speech_make_job *j)
{
    speech_state *st = j->st;

    if (j->mp3_len > MAKE_MAX_AUDIO) {
        make_fail(j, "the audio", "more than 64 MiB");
        return;
    }
    j->storage_out = 1;
    if (st->sv->asset_put(st->sv_state, st->w, j->uid, j->id, LX_STORAGE_ASSET_TTS_AUDIO, j->mp3,
                          j->mp3_len, make_put_audio_done, j) != LX_OK) {
        j->storage_out = 0;
        make_fail(j, "storing the audio", "out of memory");
    }
}

/* One timepoint {mark_name, time_seconds} at the end of j->tps. */
static int make_add_tp(speech_make_job *j, const char *mark, double t)
{
    char num[32];
    json_object *o = json_object_new_object();

    snprintf(num, sizeof(num), "%.3f", t);
    if (o == NULL || json_object_object_add(o, "mark_name", json_object_new_string(mark)) != 0 ||
        json_object_object_add(o, "time_seconds", json_object_new_double_s(t, num)) != 0 ||
        json_object_array_add(j->tps, o) != 0) {
        json_object_put(o);
        return LX_ENOMEM;
    }
    return LX_OK;
}

/* The chunk's MP3 and timepoints appended to the job's. */
static int make_append(speech_make_job *j, const speech_body *b, const char **why)
{
    const char *tp = b->data + b->tp_off;
    size_t need = b->audio_len / 4 * 3 + 3, n;
    struct json_tokener *tok;
    json_object *arr;
    int dec, pad = 0, rc = LX_OK;

    *why = "out of memory";
    if (j->mp3_len + need > j->mp3_cap) {
        size_t nc = (j->mp3_len + need) * 2;
        unsigned char *nm = realloc(j->mp3, nc);
        if (nm == NULL)
            return LX_ENOMEM;
        j->mp3 = nm;
        j->mp3_cap = nc;
    }
    dec = EVP_DecodeBlock(j->mp3 + j->mp3_len, (const unsigned char *)b->data + b->audio_off,
                          (int)b->audio_len);
    if (dec < 0) {
        *why = "the audio is not base64";
        return LX_EINVAL;
    }
    for (size_t k = b->audio_len; k > 0 && b->data[b->audio_off + k - 1] == '=' && pad < 2; k--)
        pad++;
    j->mp3_len += (size_t)dec - (size_t)pad;

    tok = json_tokener_new();
    if (tok == NULL)
        return LX_ENOMEM;
    arr = json_tokener_parse_ex(tok, tp, (int)b->tp_len);
    json_tokener_free(tok);
    if (arr == NULL || !json_object_is_type(arr, json_type_array)) {
        json_object_put(arr);
        *why = "the timepoints do not parse";
        return LX_EINVAL;
    }
    n = json_object_array_length(arr);
    for (size_t k = 0; k < n && rc == LX_OK; k++) {
        json_object *e = json_object_array_get_idx(arr, k), *m, *t;
        if (!json_object_object_get_ex(e, "mark_name", &m) ||
            !json_object_object_get_ex(e, "time_seconds", &t))
            continue;
        rc = make_add_tp(j, json_object_get_string(m), j->offset + json_object_get_double(t));
    }
    json_object_put(arr);
    return rc;
}

static void make_next_chunk(speech_make_job *j);
static void make_renew_or_next(speech_make_job *j);

static void make_chunk_done(void *arg, const speech_fail *fail, speech_body *body, int from)
{
    speech_make_job *j = arg;
    const speech_chunk *c = &j->chunks[j->i];
    size_t before = j->mp3_len;
    const char *why;

    (void)from;
    j->waiter = NULL;
    if (fail != NULL) {
        make_fail(j, "speaking a chunk", fail->message);
        return;
    }
    if (make_append(j, body, &why) != LX_OK) {
        make_fail(j, "joining a chunk", why);
        return;
    }
    j->offset += speech_mp3_seconds(j->mp3 + before, j->mp3_len - before);
    if (c->para_after && j->i + 1 < j->n_chunks && make_add_tp(j, "PARAGRAPH_BREAK", j->offset)) {
        make_fail(j, "joining a chunk", "out of memory");
        return;
    }
    j->i++;
    if (j->i < j->n_chunks)
        make_renew_or_next(j);
    else
        make_store(j);
}

static void make_next_chunk(speech_make_job *j)
{
    const speech_chunk *c = &j->chunks[j->i];
    speech_request rq;
    speech_fail fail;

    memset(&rq, 0, sizeof(rq));
    rq.uid = j->uid;     /* the owner's voice, speed and pitch */
    if (j->has_params) { /* the same for every chunk, as stored */
        rq.voice = j->params.voice;
        rq.has_rate = rq.has_pitch = 1;
        rq.rate = j->params.rate;
        rq.pitch = j->params.pitch;
    }
    rq.text = j->text + c->start;
    rq.len = c->end - c->start;
    if (speech_synthesize(j->st, &rq, make_chunk_done, j, &j->waiter, &fail) != LX_OK) {
        j->waiter = NULL;
        make_fail(j, "speaking a chunk", fail.message);
    }
}

static void make_doc_done(void *arg, int status, const char *message, const lx_storage_doc *doc)
{
    speech_make_job *j = arg;

    j->storage_out = 0;
    if (j->dead || status == LX_ENOENT || status == LX_ECANCELED) {
        make_finish(j);
        return;
    }
    if (status != LX_OK) {
        make_fail(j, "reading the text", message);
        return;
    }
    if (strcmp(doc->status, LX_DOC_PROCESSED) != 0 || doc->text_len == 0 ||
        doc->text_len > j->st->assets.max_text) {
        make_finish(j); /* nothing to make (yet): storage's event brings it back */
        return;
    }
    if ((j->text = malloc(doc->text_len + 1)) == NULL ||
        (j->tps = json_object_new_array()) == NULL) {
        make_fail(j, "reading the text", "out of memory");
        return;
    }
    memcpy(j->text, doc->text, doc->text_len);
    j->text[doc->text_len] = '\0';
    if (speech_chunk_plan(j->text, doc->text_len, j->st->assets.chunk, &j->chunks, &j->n_chunks) !=
        LX_OK) {
        make_fail(j, "cutting the text", "out of memory");
        return;
    }
    if (j->n_chunks == 0) {
        make_finish(j);
        return;
    }
    make_next_chunk(j);
}

static void make_read(speech_make_job *j)
{
    speech_state *st = j->st;

    j->storage_out = 1;
    if (st->sv->doc_get(st->sv_state, st->w, j->uid, j->id, 1, make_doc_done, j) != LX_OK) {
        j->storage_out = 0;
        make_fail(j, "reading the text", "storage refused the call");
    }
}

/* The owner's profile read: the parameters every chunk is spoken with. */
static void make_profile_done(void *arg, int status, const char *message, const char *json)
{
    speech_make_job *j = arg;

    (void)message;
    j->storage_out = 0;
    if (j->dead || status == LX_ECANCELED) {
        make_finish(j);
        return;
    }
    /* no profile (or an unreadable one): the defaults, as synthesis does */
    j->has_params =
        speech_asset_params_of(j->st, status == LX_OK ? json : NULL, &j->params) == LX_OK &&
        j->params.voice[0] != '\0';
    make_read(j);
}

static void make_profile(speech_make_job *j)
{
    speech_state *st = j->st;

    j->storage_out = 1;
    if (st->sv->profile_get(st->sv_state, st->w, j->uid, make_profile_done, j) != LX_OK) {
        j->storage_out = 0;
        make_read(j);
    }
}

/* The claim taken or renewed: the profile read (the first time) or the
 * next chunk spoken. */
static void make_claim_done(void *arg, int status, const char *message)
{
    speech_make_job *j = arg;
    int is_first = !j->claimed;

    j->storage_out = 0;
    if (j->dead || status == LX_ENOENT || status == LX_ECANCELED) {
        if (status == LX_OK)
            j->claimed = 1; /* taken as the job was dropped: give it back at once */
        make_finish(j);
        return;
    }
    if (status == LX_EEXIST) { /* another worker makes them (or took over a lapsed lease) */
        j->st->host->log(LX_LOG_INFO, SPEECH_SRC, NULL,
                         "document %s: read-aloud assets are being made by another worker (or its "
                         "text is not stored yet)",
                         j->id);
        j->claimed = 0;
        make_finish(j);
        return;
    }
    if (status != LX_OK) {
        make_fail(j, "claiming the making", message);
        return;
    }
    j->claimed = 1;
    j->claimed_at_ms = make_now_ms();
    if (is_first)
        make_profile(j);
    else
        make_next_chunk(j);
}

static void make_claim(speech_make_job *j)
{
    speech_state *st = j->st;

    j->storage_out = 1;
    if (st->sv->asset_claim(st->sv_state, st->w, j->uid, j->id, MAKE_LEASE_MS, make_claim_done,
                            j) != LX_OK) {
        j->storage_out = 0;
        make_fail(j, "claiming the making", "storage refused the call");
    }
}

static void make_renew_or_next(speech_make_job *j)
{
    if (j->claimed && make_now_ms() - j->claimed_at_ms >= MAKE_LEASE_MS / 3)
        make_claim(j);
    else
        make_next_chunk(j);
}

static void make_start(speech_make_job *j)
{
    if (LX_STORAGE_V1_HAS(j->st->sv, asset_claim))
        make_claim(j);
    else
        make_read(j);
}

static void make_pump(speech_state *st)
{
    speech_maker *m = &st->maker;

    while (!m->stopping && m->queue != NULL && m->n_running < st->assets.concurrency) {
        speech_make_job *j = m->queue;
        m->queue = j->next;
        m->n_queued--;
        j->next = m->running;
        m->running = j;
        m->n_running++;
        make_start(j);
    }
}

static speech_make_job *make_find(speech_make_job *l, const char *id)
{
    for (; l != NULL; l = l->next)
        if (strcmp(l->id, id) == 0)
            return l;
    return NULL;
}

int speech_make_pending(speech_state *st, const char *id)
{
    return make_find(st->maker.queue, id) != NULL || make_find(st->maker.running, id) != NULL;
}

void speech_make_queue(speech_state *st, const char *uid, const char *id)
{
    speech_maker *m = &st->maker;
    speech_make_job *j, **tail;

    if (m->stopping || !st->assets.enabled || st->why_unavailable[0] != '\0' || st->sv == NULL ||
        !LX_STORAGE_V1_HAS(st->sv, asset_put) || speech_make_pending(st, id) ||
        speech_make_backoff(st, id) > 0)
        return;
    if (m->n_queued >= MAKE_MAX_QUEUED) {
        st->host->log(LX_LOG_WARN, SPEECH_SRC, NULL,
                      "document %s: read-aloud assets not queued: %d documents wait already", id,
                      m->n_queued);
        return;
    }
    j = calloc(1, sizeof(*j));
    if (j == NULL || (j->uid = strdup(uid)) == NULL || (j->id = strdup(id)) == NULL) {
        if (j != NULL)
            make_free(j);
        return;
    }
    j->st = st;
    for (tail = &m->queue; *tail != NULL; tail = &(*tail)->next)
        ;
    *tail = j;
    m->n_queued++;
    make_pump(st);
}

void speech_make_forget(speech_state *st, const char *id)
{
    speech_maker *m = &st->maker;
    speech_make_job *j = make_find(m->queue, id);

    speech_make_clear(st, id);
    if (j != NULL) {
        make_unlink(&m->queue, j);
        m->n_queued--;
        make_free(j);
        return;
    }
    j = make_find(m->running, id);
    if (j == NULL)
        return;
    j->dead = 1;
    if (j->waiter != NULL) { /* speaking: stop waiting for it */
        speech_waiter_cancel(j->waiter);
        j->waiter = NULL;
        make_finish(j);
    }
}

void speech_make_stop(speech_state *st)
{
    speech_maker *m = &st->maker;
    speech_make_job *j, *next;

    m->stopping = 1;
    make_failures_free(m);
    for (j = m->queue; j != NULL; j = next) {
        next = j->next;
        make_free(j);
    }
    m->queue = NULL;
    m->n_queued = 0;
    for (j = m->running; j != NULL; j = next) {
        next = j->next;
        j->dead = 1;
        if (j->waiter != NULL) {
            speech_waiter_cancel(j->waiter);
            j->waiter = NULL;
            make_finish(j);
        }
        /* else a storage call is out: its callback ends the job */
    }
}
