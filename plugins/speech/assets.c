/*
 * Read-aloud assets (assets.h): configuration, the URL secret and the two
 * routes.
 *
 *   GET /api/documents/{id}/tts-assets   (auth.require_user)
 *       200 {audio_url, timepoints_url}: signed, absolute URLs valid for
 *           assets.url_ttl (15 minutes); when the assets were made with
 *           another voice, speed or pitch than the owner's profile asks
 *           for now, they are made again in the background and the old
 *           ones are served until the new ones are stored;
 *       404 NOT_FOUND (absent, or another user's document);
 *       409 TTS_ASSETS_PENDING while the text is extracted or the assets
 *           are being made (queued here when missing): the frontend treats
 *           any error as "use POST /api/tts/synthesize";
 *       503 TTS_ASSETS_FAILED (Retry-After) when making them failed and
 *           they are not tried again yet (assets.retry_min, doubling with
 *           each failure in a row up to assets.retry_max);
 *       422 NO_TEXT / DOCUMENT_TOO_LONG; 503 ASSETS_UNAVAILABLE.
 *   GET|HEAD /api/tts-assets/{id}/{audio.mp3|timepoints.json}?u=&e=&s=
 *       (u: the owner sealed, e: the expiry, s: the signature)
 *       (no token: the signature is the credential)
 *       200 / 206 (Range: bytes=...) / 416; 403 BAD_SIGNATURE,
 *       URL_EXPIRED; 404 when the document or its assets are gone.
 *
 * The signature (sign.c) covers the path, the owner's uid and the expiry,
 * so a URL opens exactly one asset of one user's document until it
 * expires, on every replica that shares the secret. The uid travels
 * sealed (u=: AES-256-GCM under a key derived from the secret), so the
 * URL names no user.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/rand.h>

#include <lexiaid/auth.h>

#include "assets.h"
#include "assets_parse.h"
#include "speech.h"

#define ASSETS_SECRET_FILE "tts-url-secret"
#define ASSETS_MAX_READ (64u * 1024 * 1024) /* storage.v1 asset_get's limit */
#define ASSETS_NOT_FOUND "Document not found or access denied"
#define ASSETS_PENDING "Read-aloud audio for this document is being prepared; try again shortly"
#define ASSETS_FAILED                                                                              \
    "Read-aloud audio for this document could not be made; it is tried again later (read the "     \
    "text aloud with POST /api/tts/synthesize meanwhile)"

/* ------------------------------------------------------------------------ */
/* Configuration                                                            */

static const char *const assets_cfg_keys[] = {
    "enabled",  "secret",       "url_ttl",   "public_url", "concurrency", "chunk",
    "max_text", "on_processed", "retry_min", "retry_max",  NULL,
};

/* DATA_DIR/tts-url-secret: read, or made (0600) when absent. */
static int assets_secret_file(speech_state *st, char *err, size_t errlen)
{
    const char *dd = st->host->data_dir();
    char path[4096], buf[200];
    unsigned char raw[32];
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "%s/%s", dd, ASSETS_SECRET_FILE);
    for (int attempt = 0; attempt < 2; attempt++) {
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0) {
            n = read(fd, buf, sizeof(buf) - 1);
            close(fd);
            while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
                n--;
            if (n < 32 || (size_t)n > sizeof(st->assets.secret)) {
                snprintf(err, errlen,
                         "speech: %s must hold 32 to 64 characters (delete it to have a new one "
                         "made)",
                         path);
                return LX_EINVAL;
            }
            memcpy(st->assets.secret, buf, (size_t)n);
            st->assets.secret_len = (size_t)n;
            st->assets.secret_generated = 1;
            return LX_OK;
        }
        if (errno != ENOENT) {
            snprintf(err, errlen, "speech: cannot read %s: %s", path, strerror(errno));
            return LX_EIO;
        }
        if (RAND_bytes(raw, sizeof(raw)) != 1) {
            snprintf(err, errlen, "speech: no random source for the URL secret");
            return LX_EIO;
        }
        for (size_t i = 0; i < sizeof(raw); i++)
            snprintf(buf + 2 * i, 3, "%02x", raw[i]);
        buf[64] = '\n';
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 && errno == EEXIST)
            continue; /* made meanwhile: read it */
        if (fd < 0 || write(fd, buf, 65) != 65 || fsync(fd) != 0) {
            snprintf(err, errlen, "speech: cannot write %s: %s", path, strerror(errno));
            if (fd >= 0) {
                close(fd);
                unlink(path);
            }
            return LX_EIO;
        }
        close(fd);
        st->host->log(LX_LOG_INFO, SPEECH_SRC, NULL,
                      "made %s for read-aloud URLs; replicas must share one: set "
                      "LEXIAID_URL_SECRET",
                      path);
    }
    snprintf(err, errlen, "speech: %s keeps changing", path);
    return LX_EIO;
}

int speech_assets_configure(speech_state *st, const lx_cfg *cfg, char *err, size_t errlen)
{
    const lx_host *h = st->host;
    speech_assets_cfg *c = &st->assets;
    char *secret = NULL, where[256] = "";
    long long v;
    int b, rc;

    c->enabled = 1;
    c->on_processed = 1;
    if (cfg != NULL && (rc = h->cfg_check_keys(cfg, assets_cfg_keys, err, errlen)) != LX_OK)
        return rc;
    if (cfg != NULL) {
        if ((rc = h->cfg_bool(cfg, "enabled", &b, err, errlen)) == LX_OK)
            c->enabled = b;
        else if (rc != LX_ENOENT)
            return rc;
        if ((rc = h->cfg_bool(cfg, "on_processed", &b, err, errlen)) == LX_OK)
            c->on_processed = b;
        else if (rc != LX_ENOENT)
            return rc;
    }
    if ((rc = speech_cfg_num(h, cfg, "url_ttl", 'm', 15 * 60000, 1000, 7 * 86400000LL, &v, err,
                             errlen)) != LX_OK)
        return rc;
    c->ttl_ms = v;
    if ((rc = speech_cfg_num(h, cfg, "concurrency", 'i', 1, 1, 16, &v, err, errlen)) != LX_OK)
        return rc;
    c->concurrency = (int)v;
    if ((rc = speech_cfg_num(h, cfg, "chunk", 's', 3000, 200, 1024 * 1024, &v, err, errlen)) !=
        LX_OK)
        return rc;
    c->chunk = (size_t)v < st->max_text ? (size_t)v : st->max_text;
    if ((rc = speech_cfg_num(h, cfg, "max_text", 's', 200000, 1, 16LL * 1024 * 1024, &v, err,
                             errlen)) != LX_OK)
        return rc;
    c->max_text = (size_t)v;
    if ((rc = speech_cfg_num(h, cfg, "retry_min", 'm', 30000, 100, 86400000LL, &v, err, errlen)) !=
        LX_OK)
        return rc;
    c->retry_min_ms = v;
    if ((rc = speech_cfg_num(h, cfg, "retry_max", 'm', 3600000, 100, 7 * 86400000LL, &v, err,
                             errlen)) != LX_OK)
        return rc;
    c->retry_max_ms = v < c->retry_min_ms ? c->retry_min_ms : v;
    if ((rc = speech_cfg_str(h, cfg, "public_url", &c->public_url, err, errlen)) != LX_OK)
        return rc;
    if (c->public_url != NULL) {
        size_t n = strlen(c->public_url);
        if ((strncmp(c->public_url, "http://", 7) != 0 &&
             strncmp(c->public_url, "https://", 8) != 0) ||
            strpbrk(c->public_url, " \t\r\n?#\"") != NULL) {
            h->cfg_where(cfg, where, sizeof(where));
            snprintf(err, errlen, "%s: speech: assets.public_url must be an http(s) URL", where);
            return LX_EINVAL;
        }
        while (n > 0 && c->public_url[n - 1] == '/')
            c->public_url[--n] = '\0';
    }
    if ((rc = speech_cfg_str(h, cfg, "secret", &secret, err, errlen)) != LX_OK)
        return rc;
    if (secret != NULL) {
        size_t n = strlen(secret);
        if (n < 16 || n > sizeof(c->secret)) {
            h->cfg_where(cfg, where, sizeof(where));
            /* the value is never shown: it is a secret */
            snprintf(err, errlen,
                     "%s: speech: assets.secret (LEXIAID_URL_SECRET) must be 16 to 64 bytes",
                     where);
            free(secret);
            return LX_EINVAL;
        }
        memcpy(c->secret, secret, n);
        c->secret_len = n;
        memset(secret, 0, n);
        free(secret);
        return LX_OK;
    }
    if (!c->enabled)
        return LX_OK;
    return assets_secret_file(st, err, errlen);
}

void speech_assets_cfg_free(speech_assets_cfg *c)
{
    free(c->public_url);
    memset(c, 0, sizeof(*c));
}

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

/* A document id or a uid as the URLs carry them: 1..128 printable ASCII
 * bytes without '/', '\\' or spaces. */
static int assets_token_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;

    if (n == 0 || n > 128)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '/' || s[i] == '\\')
            return 0;
    return 1;
}

static int64_t assets_now_s(void)
{
    return (int64_t)time(NULL);
}

/* Appends s percent-encoded (all but unreserved) to out (cap bytes). */
static void assets_enc(char *out, size_t cap, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t k = strlen(out);

    for (; *s != '\0' && k + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out[k++] = (char)c;
        } else {
            out[k++] = '%';
            out[k++] = hex[c >> 4];
            out[k++] = hex[c & 15];
        }
    }
    out[k] = '\0';
}

/* The URLs' origin: assets.public_url, else the request's Host (and
 * X-Forwarded-Proto: https behind a TLS proxy); "" when there is no good
 * Host (the URLs are then relative to the API). */
static void assets_origin(speech_state *st, lx_req *req, char *out, size_t cap)
{
    const lx_host *h = st->host;
    const char *host = h->req_header(req, "Host");
    const char *proto = h->req_header(req, "X-Forwarded-Proto");

    out[0] = '\0';
    if (st->assets.public_url != NULL) {
        snprintf(out, cap, "%s", st->assets.public_url);
        return;
    }
    if (host == NULL || host[0] == '\0' || strlen(host) > 255 ||
        strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") !=
            strlen(host))
        return;
    snprintf(out, cap, "%s://%s", proto != NULL && strcmp(proto, "https") == 0 ? "https" : "http",
             host);
}

/* One signed URL into out, the owner sealed in it; LX_OK or LX_EIO. */
static int assets_url(speech_state *st, const char *origin, const char *id, const char *file,
                      const char *uid, int64_t exp, char *out, size_t cap)
{
    char path[512], sig[65], sealed[256];

    snprintf(path, sizeof(path), "/api/tts-assets/%s/%s", id, file);
    if (speech_sign(st->assets.secret, st->assets.secret_len, path, uid, exp, sig) != LX_OK ||
        speech_seal_uid(st->assets.secret, st->assets.secret_len, uid, sealed, sizeof(sealed)) !=
            LX_OK)
        return LX_EIO;
    snprintf(out, cap, "%s/api/tts-assets/", origin);
    assets_enc(out, cap, id);
    snprintf(out + strlen(out), cap - strlen(out), "/%s?u=", file);
    assets_enc(out, cap, sealed);
    snprintf(out + strlen(out), cap - strlen(out), "&e=%" PRId64 "&s=%s", exp, sig);
    return LX_OK;
}

static int assets_usable(speech_state *st, lx_req *req)
{
    const lx_host *h = st->host;

    if (!st->assets.enabled) {
        h->reply_error(req, 404, "NOT_FOUND", "Read-aloud assets are turned off");
        return 0;
    }
    if (st->sv == NULL || !LX_STORAGE_V1_HAS(st->sv, asset_get)) {
        h->reply_error(req, 503, "ASSETS_UNAVAILABLE",
                       "Read-aloud assets need the storage plugin (storage.v1 minor 3)");
        return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------------ */
/* GET /api/documents/{id}/tts-assets                                       */

typedef struct assets_call {
    speech_state *st;
    lx_req *req;
    const char *uid, *id;     /* request memory */
    speech_asset_params want; /* what the profile asks for now */
} assets_call;

static void assets_reply_pending(assets_call *ac)
{
    ac->st->host->set_header(ac->req, "Retry-After", "5");
    ac->st->host->reply_error(ac->req, 409, "TTS_ASSETS_PENDING", ASSETS_PENDING);
}

/* 200 {audio_url, timepoints_url, expires_at}. */
static void assets_reply_urls(assets_call *ac)
{
    speech_state *st = ac->st;
    const lx_host *h = st->host;
    char origin[300], audio[1200], tps[1200];
    int64_t exp;
    json_object *o;

    exp = assets_now_s() + (st->assets.ttl_ms + 999) / 1000;
    assets_origin(st, ac->req, origin, sizeof(origin));
    if (assets_url(st, origin, ac->id, "audio.mp3", ac->uid, exp, audio, sizeof(audio)) != LX_OK ||
        assets_url(st, origin, ac->id, "timepoints.json", ac->uid, exp, tps, sizeof(tps)) !=
            LX_OK) {
        h->reply_error(ac->req, 500, "INTERNAL", "Cannot sign the read-aloud URLs");
        return;
    }
    o = json_object_new_object();
    if (o == NULL) {
        h->reply_error(ac->req, 500, "INTERNAL", "out of memory");
        return;
    }
    json_object_object_add(o, "audio_url", json_object_new_string(audio));
    json_object_object_add(o, "timepoints_url", json_object_new_string(tps));
    json_object_object_add(o, "expires_at", json_object_new_int64(exp));
    h->set_header(ac->req, "Cache-Control", "no-store");
    h->reply_json(
        ac->req, 200,
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
}

/* The parameters the assets were made with, against the profile's now:
 * when they differ (or were never stored: assets from before minor 4),
 * the assets are made again in the background and the old ones served
 * meanwhile, so read-aloud keeps working and the next request after the
 * making gets the new voice. */
static void assets_params_done(void *arg, int status, const char *message, const void *data,
                               size_t len, int64_t size)
{
    assets_call *ac = arg;
    speech_state *st = ac->st;

    (void)message;
    (void)size;
    if ((status == LX_OK || status == LX_ENOENT) &&
        (status == LX_ENOENT || len != strlen(ac->want.json) ||
         memcmp(data, ac->want.json, len) != 0) &&
        !st->maker.stopping && !speech_make_pending(st, ac->id)) {
        st->host->log(LX_LOG_INFO, SPEECH_SRC, ac->req,
                      "document %s: read-aloud assets made with other settings than the owner's "
                      "now (%s): made again",
                      ac->id, ac->want.json);
        speech_make_queue(st, ac->uid, ac->id);
    }
    assets_reply_urls(ac);
}

static void assets_profile_done(void *arg, int status, const char *message, const char *json)
{
    assets_call *ac = arg;
    speech_state *st = ac->st;

    (void)message;
    if ((status != LX_OK && status != LX_ENOENT) ||
        speech_asset_params_of(st, status == LX_OK ? json : NULL, &ac->want) != LX_OK ||
        ac->want.voice[0] == '\0' ||
        st->sv->asset_get(st->sv_state, st->w, ac->uid, ac->id, LX_STORAGE_ASSET_TTS_PARAMS, 0,
                          sizeof(ac->want.json), assets_params_done, ac) != LX_OK)
        assets_reply_urls(ac); /* cannot tell: the assets there are served */
}

static void assets_stat_done(void *arg, int status, const char *message, const void *data,
                             size_t len, int64_t size)
{
    assets_call *ac = arg;
    speech_state *st = ac->st;
    const lx_host *h = st->host;

    (void)data;
    (void)len;
    (void)size;
    if (status == LX_ENOENT) {
        /* no assets yet (or the document went meanwhile: the maker finds out) */
        int64_t wait = speech_make_pending(st, ac->id) ? 0 : speech_make_backoff(st, ac->id);
        if (wait > 0) {
            char v[32];
            snprintf(v, sizeof(v), "%lld", (long long)(wait + 999) / 1000);
            h->set_header(ac->req, "Retry-After", v);
            h->reply_error(ac->req, 503, "TTS_ASSETS_FAILED", ASSETS_FAILED);
            return;
        }
        if (!st->maker.stopping)
            speech_make_queue(st, ac->uid, ac->id);
        assets_reply_pending(ac);
        return;
    }
    if (status != LX_OK) {
        h->log(LX_LOG_WARN, SPEECH_SRC, ac->req, "tts-assets: storage: %s", message);
        h->reply_error(ac->req, 503, "ASSETS_UNAVAILABLE", "Read-aloud assets are unavailable");
        return;
    }
    /* made with the owner's voice as it is now? (storage minor 4 keeps the
     * parameters; the assets of an older storage are served as they are) */
    if (!LX_STORAGE_V1_HAS(st->sv, asset_claim) ||
        st->sv->profile_get(st->sv_state, st->w, ac->uid, assets_profile_done, ac) != LX_OK)
        assets_reply_urls(ac);
}

static void assets_doc_done(void *arg, int status, const char *message, const lx_storage_doc *doc)
{
    assets_call *ac = arg;
    speech_state *st = ac->st;
    const lx_host *h = st->host;
    int rc;

    if (status == LX_ENOENT || (status == LX_EINVAL && doc == NULL)) {
        h->reply_error(ac->req, 404, "NOT_FOUND", ASSETS_NOT_FOUND);
        return;
    }
    if (status != LX_OK) {
        h->log(LX_LOG_WARN, SPEECH_SRC, ac->req, "tts-assets: storage: %s", message);
        h->reply_error(ac->req, 503, "ASSETS_UNAVAILABLE", "Read-aloud assets are unavailable");
        return;
    }
    if (strcmp(doc->status, LX_DOC_FAILED) == 0 ||
        (strcmp(doc->status, LX_DOC_PROCESSED) == 0 && doc->content_length == 0)) {
        h->reply_error(ac->req, 422, "NO_TEXT", "The document has no text to read aloud");
        return;
    }
    if (strcmp(doc->status, LX_DOC_PROCESSED) != 0) {
        assets_reply_pending(ac); /* the text is on its way; storage tells us when it is there */
        return;
    }
    if ((size_t)doc->content_length > st->assets.max_text) {
        h->reply_error(ac->req, 422, "DOCUMENT_TOO_LONG",
                       "The document is too long for prepared read-aloud audio");
        return;
    }
    /* the timepoints are stored last: there, the audio is too */
    rc = st->sv->asset_get(st->sv_state, st->w, ac->uid, ac->id, LX_STORAGE_ASSET_TTS_TIMEPOINTS, 0,
                           0, assets_stat_done, ac);
    if (rc != LX_OK)
        h->reply_error(ac->req, 503, "ASSETS_UNAVAILABLE", "Read-aloud assets are unavailable");
}

lx_rc speech_h_tts_assets(lx_req *req, void *state)
{
    speech_state *st = state;
    const lx_host *h = st->host;
    const lx_principal *who = h->ctx_get(req, LX_AUTH_PRINCIPAL);
    const char *id = h->req_param(req, "id");
    assets_call *ac;
    char *uid, *idc;

    if (who == NULL || who->uid == NULL) {
        h->reply_error(req, 401, "UNAUTHENTICATED", "Sign in first");
        return LX_DONE;
    }
    if (!assets_usable(st, req))
        return LX_DONE;
    if (!assets_token_ok(id) || !assets_token_ok(who->uid)) {
        h->reply_error(req, 404, "NOT_FOUND", ASSETS_NOT_FOUND);
        return LX_DONE;
    }
    ac = h->req_alloc(req, sizeof(*ac));
    uid = h->req_alloc(req, strlen(who->uid) + 1);
    idc = h->req_alloc(req, strlen(id) + 1);
    if (ac == NULL || uid == NULL || idc == NULL)
        return LX_FAIL;
    strcpy(uid, who->uid);
    strcpy(idc, id);
    ac->st = st;
    ac->req = req;
    ac->uid = uid;
    ac->id = idc;
    if (st->sv->doc_get(st->sv_state, st->w, uid, idc, 0, assets_doc_done, ac) != LX_OK) {
        h->reply_error(req, 503, "ASSETS_UNAVAILABLE", "Read-aloud assets are unavailable");
        return LX_DONE;
    }
    return LX_ASYNC;
}

/* ------------------------------------------------------------------------ */
/* GET|HEAD /api/tts-assets/{id}/{file}: the signed URLs                    */

typedef struct asset_call {
    speech_state *st;
    lx_req *req;
    const char *uid, *id, *name, *type;
    int64_t size, from, to;
    int is_range;
    int64_t exp;
} asset_call;

static void asset_reply_gone(asset_call *c, int status, const char *message)
{
    const lx_host *h = c->st->host;

    if (status == LX_ENOENT || status == LX_EINVAL) {
        h->reply_error(c->req, 404, "NOT_FOUND", "This read-aloud asset no longer exists");
        return;
    }
    h->log(LX_LOG_WARN, SPEECH_SRC, c->req, "tts asset: storage: %s", message);
    h->reply_error(c->req, 503, "ASSETS_UNAVAILABLE", "Read-aloud assets are unavailable");
}

static void asset_read_done(void *arg, int status, const char *message, const void *data,
                            size_t len, int64_t size)
{
    asset_call *c = arg;
    const lx_host *h = c->st->host;
    char v[128];
    void *copy;

    if (status != LX_OK) {
        asset_reply_gone(c, status, message);
        return;
    }
    if (size != c->size || (int64_t)len != c->to - c->from + 1) { /* replaced meanwhile */
        h->reply_error(c->req, 503, "ASSETS_UNAVAILABLE", "The asset changed; try again");
        return;
    }
    copy = malloc(len ? len : 1);
    if (copy == NULL) {
        h->reply_error(c->req, 500, "INTERNAL", "out of memory");
        return;
    }
    if (len > 0)
        memcpy(copy, data, len);
    h->set_header(c->req, "Accept-Ranges", "bytes");
    snprintf(v, sizeof(v), "private, max-age=%" PRId64,
             c->exp - assets_now_s() > 0 ? c->exp - assets_now_s() : 0);
    h->set_header(c->req, "Cache-Control", v);
    if (c->is_range) {
        snprintf(v, sizeof(v), "bytes %" PRId64 "-%" PRId64 "/%" PRId64, c->from, c->to, c->size);
        h->set_header(c->req, "Content-Range", v);
    }
    h->reply(c->req, c->is_range ? 206 : 200, c->type, copy, len, free);
}

static void asset_stat_done(void *arg, int status, const char *message, const void *data,
                            size_t len, int64_t size)
{
    asset_call *c = arg;
    speech_state *st = c->st;
    const lx_host *h = st->host;
    char v[96];
    int r;

    (void)data;
    (void)len;
    if (status != LX_OK) {
        asset_reply_gone(c, status, message);
        return;
    }
    c->size = size;
    r = speech_range(h->req_header(c->req, "Range"), size, &c->from, &c->to);
    if (r < 0) {
        snprintf(v, sizeof(v), "bytes */%" PRId64, size);
        h->set_header(c->req, "Content-Range", v);
        h->reply_error(c->req, 416, "RANGE_NOT_SATISFIABLE", "The range is outside the asset");
        return;
    }
    c->is_range = r == 1;
    if (!c->is_range) {
        c->from = 0;
        c->to = size - 1;
    }
    if (c->to - c->from + 1 > (int64_t)ASSETS_MAX_READ) {
        if (!c->is_range) { /* the maker stores nothing this large */
            h->reply_error(c->req, 503, "ASSETS_UNAVAILABLE", "The asset is too large");
            return;
        }
        c->to = c->from + ASSETS_MAX_READ - 1; /* a shorter 206: the client asks for the rest */
    }
    if (size == 0) {
        h->set_header(c->req, "Accept-Ranges", "bytes");
        h->reply(c->req, 200, c->type, "", 0, LX_STATIC);
        return;
    }
    if (st->sv->asset_get(st->sv_state, st->w, c->uid, c->id, c->name, c->from,
                          (size_t)(c->to - c->from + 1), asset_read_done, c) != LX_OK)
        h->reply_error(c->req, 503, "ASSETS_UNAVAILABLE", "Read-aloud assets are unavailable");
}

lx_rc speech_h_tts_asset(lx_req *req, void *state)
{
    speech_state *st = state;
    const lx_host *h = st->host;
    const char *id = h->req_param(req, "id"), *file = h->req_param(req, "file");
    const char *sealed = h->req_query(req, "u"), *e = h->req_query(req, "e"),
               *s = h->req_query(req, "s");
    char path[512], *end, *uid;
    asset_call *c;
    long long exp;

    if (!assets_usable(st, req))
        return LX_DONE;
    c = h->req_alloc(req, sizeof(*c));
    if (c == NULL)
        return LX_FAIL;
    memset(c, 0, sizeof(*c));
    c->st = st;
    c->req = req;
    if (file != NULL && strcmp(file, "audio.mp3") == 0) {
        c->name = LX_STORAGE_ASSET_TTS_AUDIO;
        c->type = "audio/mpeg";
    } else if (file != NULL && strcmp(file, "timepoints.json") == 0) {
        c->name = LX_STORAGE_ASSET_TTS_TIMEPOINTS;
        c->type = "application/json";
    } else {
        h->reply_error(req, 404, "NOT_FOUND", "No such read-aloud asset");
        return LX_DONE;
    }
    if (sealed == NULL || e == NULL || s == NULL) {
        h->reply_error(req, 403, "BAD_SIGNATURE",
                       "This address is not signed; ask GET /api/documents/{id}/tts-assets");
        return LX_DONE;
    }
    errno = 0;
    exp = strtoll(e, &end, 10);
    uid = h->req_alloc(req, 129);
    if (uid == NULL)
        return LX_FAIL;
    if (!assets_token_ok(id) || e[0] < '0' || e[0] > '9' || *end != '\0' || errno != 0 ||
        speech_open_uid(st->assets.secret, st->assets.secret_len, sealed, uid, 129) != LX_OK ||
        !assets_token_ok(uid)) {
        h->reply_error(req, 403, "BAD_SIGNATURE", "The address's signature is not valid");
        return LX_DONE;
    }
    snprintf(path, sizeof(path), "/api/tts-assets/%s/%s", id, file);
    if (!speech_sign_ok(st->assets.secret, st->assets.secret_len, path, uid, (int64_t)exp, s)) {
        h->reply_error(req, 403, "BAD_SIGNATURE", "The address's signature is not valid");
        return LX_DONE;
    }
    if ((int64_t)exp < assets_now_s()) { /* checked after the signature: e is then ours */
        h->reply_error(req, 403, "URL_EXPIRED",
                       "This address has expired; ask GET /api/documents/{id}/tts-assets again");
        return LX_DONE;
    }
    c->uid = uid;
    c->id = id;
    c->exp = (int64_t)exp;
    if (st->sv->asset_get(st->sv_state, st->w, uid, id, c->name, 0, 0, asset_stat_done, c) !=
        LX_OK) {
        h->reply_error(req, 503, "ASSETS_UNAVAILABLE", "Read-aloud assets are unavailable");
        return LX_DONE;
    }
    return LX_ASYNC;
}

/* ------------------------------------------------------------------------ */
/* Storage's events                                                         */

static void assets_on_event(void *arg, lx_worker *w, int event, const char *uid, const char *id)
{
    speech_state *st = arg;

    (void)w;
    if (!st->assets.enabled || st->maker.stopping || st->w == NULL)
        return;
    if (event == LX_STORAGE_EV_PROCESSED) /* new text: its past failures do not count */
        speech_make_clear(st, id);
    if (event == LX_STORAGE_EV_PROCESSED && st->assets.on_processed &&
        st->why_unavailable[0] == '\0')
        speech_make_queue(st, uid, id);
    else if (event == LX_STORAGE_EV_DELETED)
        speech_make_forget(st, id);
}

void speech_assets_subscribe(speech_state *st)
{
    void *ss = NULL;
    const lx_storage_v1 *sv = st->host->svc_lookup(LX_STORAGE_V1, &ss);

    if (!st->assets.enabled || sv == NULL || !LX_STORAGE_V1_HAS(sv, subscribe))
        return;
    if (sv->subscribe(ss, assets_on_event, st) != LX_OK)
        st->host->log(LX_LOG_WARN, SPEECH_SRC, NULL,
                      "cannot subscribe to storage's events: read-aloud assets are made on "
                      "first request only");
}
