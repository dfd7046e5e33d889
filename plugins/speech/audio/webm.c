/*
 * An incremental WebM reader for dictation (webm.h has the contract and
 * why it is our own code).
 *
 * The stream is read at three levels. At the root: the EBML header (read
 * whole and checked), then the Segment (entered, known or unknown size).
 * In the Segment: Tracks (read whole), Clusters (entered), anything else
 * of known size skipped. In a Cluster: SimpleBlocks and BlockGroups (read
 * whole), anything else skipped. A Cluster of unknown size ends where an
 * element that cannot be its child begins (the next Cluster, Cues, Tags),
 * as the Matroska specification says. Bytes of an unfinished element wait
 * in `buf`; skipped bodies are counted, never kept.
 */
#include "webm.h"

#include <stdlib.h>
#include <string.h>

enum {
    ID_EBML = 0x1A45DFA3,
    ID_DOCTYPE = 0x4282,
    ID_SEGMENT = 0x18538067,
    ID_TRACKS = 0x1654AE6B,
    ID_CLUSTER = 0x1F43B675,
    ID_VOID = 0xEC,
    ID_CRC32 = 0xBF,
    ID_TRACKENTRY = 0xAE,
    ID_TRACKNUMBER = 0xD7,
    ID_TRACKTYPE = 0x83,
    ID_CODECID = 0x86,
    ID_CODECPRIVATE = 0x63A2,
    ID_TIMECODE = 0xE7,
    ID_SIMPLEBLOCK = 0xA3,
    ID_BLOCKGROUP = 0xA0,
    ID_BLOCK = 0xA1,
    ID_POSITION = 0xA7,
    ID_PREVSIZE = 0xAB,
    ID_SILENTTRACKS = 0x5854,
    ID_ENCRYPTEDBLOCK = 0xAF,
};

#define SIZE_UNKNOWN UINT64_MAX
#define MAX_DEPTH 2 /* Segment, Cluster */
#define MAX_LACED 256

struct speech_webm {
    unsigned char *buf; /* bytes not yet parsed */
    size_t len, cap;
    uint64_t pos;  /* stream offset of buf[0] */
    uint64_t skip; /* body bytes still to skip */
    int failed;    /* the sticky error, or 0 */
    int has_header;
    struct {
        uint32_t id;
        uint64_t end; /* stream offset, or SIZE_UNKNOWN */
    } open[MAX_DEPTH];
    int depth;
    int has_tracks, has_track;
    uint64_t track; /* the chosen track's number */
    unsigned char *priv;
    size_t priv_len;
};

speech_webm *speech_webm_new(void)
{
    return calloc(1, sizeof(speech_webm));
}

void speech_webm_free(speech_webm *w)
{
    if (w == NULL)
        return;
    free(w->buf);
    free(w->priv);
    free(w);
}

const unsigned char *speech_webm_codec_private(const speech_webm *w, size_t *len)
{
    *len = w->priv_len;
    return w->has_track ? w->priv : NULL;
}

int speech_webm_has_track(const speech_webm *w)
{
    return w->has_track;
}

/* ---------------------------------------------------------------- EBML */

/* The length of a variable-size integer from its first byte (1..8), or 0
 * for the invalid 0x00. */
static int vint_len(unsigned char b)
{
    for (int i = 0; i < 8; i++)
        if (b & (0x80u >> i))
            return i + 1;
    return 0;
}

/* An element ID at p[0..len): 1 with *id (marker kept) and *n bytes, 0
 * when more bytes are needed, -1 when invalid (IDs are 1..4 bytes). */
static int read_id(const unsigned char *p, size_t len, uint32_t *id, size_t *n)
{
    if (len == 0)
        return 0;
    int l = vint_len(p[0]);
    if (l == 0 || l > 4)
        return -1;
    if (len < (size_t)l)
        return 0;
    uint32_t v = 0;
    for (int i = 0; i < l; i++)
        v = v << 8 | p[i];
    *id = v;
    *n = (size_t)l;
    return 1;
}

/* A size (or a block's track number): 1 with *v (SIZE_UNKNOWN when every
 * value bit is 1) and *n bytes, 0 when more bytes are needed, -1 when
 * invalid. */
static int read_vint(const unsigned char *p, size_t len, uint64_t *v, size_t *n)
{
    if (len == 0)
        return 0;
    int l = vint_len(p[0]);
    if (l == 0)
        return -1;
    if (len < (size_t)l)
        return 0;
    uint64_t x = p[0] & (0xFFu >> l);
    int all_ones = x == (0xFFu >> l);
    for (int i = 1; i < l; i++) {
        x = x << 8 | p[i];
        all_ones = all_ones && p[i] == 0xFF;
    }
    *v = all_ones ? SIZE_UNKNOWN : x;
    *n = (size_t)l;
    return 1;
}

/* Walks the children of an element held whole in memory. */
typedef struct mem_iter {
    const unsigned char *p;
    size_t len, off;
} mem_iter;

/* The next child: 1 with its id and body, 0 at the end, -1 when a header
 * is broken or a body overruns the parent. */
static int mem_next(mem_iter *it, uint32_t *id, const unsigned char **body, size_t *blen)
{
    size_t n1, n2;
    uint64_t size;
    if (it->off == it->len)
        return 0;
    if (read_id(it->p + it->off, it->len - it->off, id, &n1) != 1)
        return -1;
    if (read_vint(it->p + it->off + n1, it->len - it->off - n1, &size, &n2) != 1)
        return -1;
    size_t rest = it->len - it->off - n1 - n2;
    if (size == SIZE_UNKNOWN || size > rest)
        return -1;
    *body = it->p + it->off + n1 + n2;
    *blen = (size_t)size;
    it->off += n1 + n2 + (size_t)size;
    return 1;
}

/* The next child whose id is `want`, passing over the others: as
 * mem_next. */
static int mem_next_id(mem_iter *it, uint32_t want, const unsigned char **body, size_t *blen)
{
    uint32_t id;
    int r;
    while ((r = mem_next(it, &id, body, blen)) == 1 && id != want)
        ;
    return r;
}

static uint64_t be_uint(const unsigned char *p, size_t len)
{
    uint64_t v = 0;
    for (size_t i = 0; i < len && i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* ---------------------------------------------------------------- elements */

static int parse_ebml_header(const unsigned char *p, size_t len, char *err, size_t errlen)
{
    mem_iter it = {p, len, 0};
    const unsigned char *b;
    size_t bl;
    int r;
    while ((r = mem_next_id(&it, ID_DOCTYPE, &b, &bl)) == 1) {
        while (bl > 0 && b[bl - 1] == '\0')
            bl--;
        if ((bl == 4 && memcmp(b, "webm", 4) == 0) || (bl == 8 && memcmp(b, "matroska", 8) == 0))
            return LX_OK;
        speech_audio_errf(err, errlen, "not a WebM stream: its DocType is \"%.*s\"",
                          (int)(bl > 32 ? 32 : bl), (const char *)b);
        return LX_EINVAL;
    }
    if (r < 0) {
        speech_audio_errf(err, errlen, "not a WebM stream: its EBML header is broken");
        return LX_EINVAL;
    }
    return LX_OK; /* no DocType: Matroska's default, "matroska" */
}

/* One TrackEntry: LX_OK having chosen it when it is Opus audio. */
static int parse_track(speech_webm *w, const unsigned char *p, size_t len, char *codec,
                       size_t codeclen)
{
    mem_iter it = {p, len, 0};
    uint32_t id;
    const unsigned char *b, *priv = NULL;
    size_t bl, priv_len = 0;
    uint64_t number = 0, type = 2;
    int is_opus = 0, r;
    while ((r = mem_next(&it, &id, &b, &bl)) == 1) {
        if (id == ID_TRACKNUMBER && bl >= 1 && bl <= 8) {
            number = be_uint(b, bl);
        } else if (id == ID_TRACKTYPE && bl >= 1 && bl <= 8) {
            type = be_uint(b, bl);
        } else if (id == ID_CODECID) {
            size_t n = bl;
            while (n > 0 && b[n - 1] == '\0')
                n--;
            is_opus = n == 6 && memcmp(b, "A_OPUS", 6) == 0;
            if (codec[0] == '\0')
                snprintf(codec, codeclen, "%.*s", (int)(n > 32 ? 32 : n), (const char *)b);
        } else if (id == ID_CODECPRIVATE) {
            priv = b;
            priv_len = bl;
        }
    }
    if (r < 0)
        return LX_EINVAL;
    if (!is_opus || type != 2 || number == 0)
        return LX_OK;
    if (priv_len > 0) {
        w->priv = malloc(priv_len);
        if (w->priv == NULL)
            return LX_ENOMEM;
        memcpy(w->priv, priv, priv_len);
        w->priv_len = priv_len;
    }
    w->track = number;
    w->has_track = 1;
    return LX_OK;
}

static int parse_tracks(speech_webm *w, const unsigned char *p, size_t len, char *err,
                        size_t errlen)
{
    mem_iter it = {p, len, 0};
    uint32_t id;
    const unsigned char *b;
    size_t bl;
    char codec[40] = "";
    int r;
    if (w->has_tracks)
        return LX_OK; /* the first Tracks rules */
    w->has_tracks = 1;
    while (!w->has_track && (r = mem_next(&it, &id, &b, &bl)) == 1) {
        if (id != ID_TRACKENTRY)
            continue;
        int rc = parse_track(w, b, bl, codec, sizeof(codec));
        if (rc == LX_ENOMEM)
            return rc;
        if (rc != LX_OK)
            break;
    }
    if (w->has_track)
        return LX_OK;
    if (codec[0] != '\0')
        speech_audio_errf(err, errlen, "the WebM stream has no Opus audio track (its codec: %s)",
                          codec);
    else
        speech_audio_errf(err, errlen, "the WebM stream has no Opus audio track");
    return LX_EINVAL;
}

/* A SimpleBlock's or Block's body: its frames go to `packet`. */
static int parse_block(speech_webm *w, const unsigned char *p, size_t len, speech_packet_fn packet,
                       void *arg, char *err, size_t errlen)
{
    uint64_t track;
    size_t n;
    if (!w->has_track) {
        speech_audio_errf(err, errlen, "a WebM block comes before the track list");
        return LX_EINVAL;
    }
    if (read_vint(p, len, &track, &n) != 1 || track == SIZE_UNKNOWN || len - n < 3) {
        speech_audio_errf(err, errlen, "a WebM block is broken");
        return LX_EINVAL;
    }
    if (track != w->track)
        return LX_OK;
    unsigned lacing = (p[n + 2] >> 1) & 3u;
    p += n + 3;
    len -= n + 3;
    if (lacing == 0)
        return packet(arg, p, len);

    /* Laced: a frame count, then the sizes of all frames but the last. */
    size_t sizes[MAX_LACED];
    if (len < 1)
        goto broken;
    size_t count = (size_t)p[0] + 1, off = 1, sum = 0;
    if (lacing == 1) { /* Xiph: each size as a run of bytes of 255 and a last byte */
        for (size_t i = 0; i + 1 < count; i++) {
            size_t s = 0;
            for (;;) {
                if (off >= len)
                    goto broken;
                s += p[off];
                if (p[off++] != 255)
                    break;
            }
            sizes[i] = s;
            sum += s;
        }
    } else if (lacing == 3) { /* EBML: the first size, then signed differences */
        int64_t prev = 0;
        for (size_t i = 0; i + 1 < count; i++) {
            uint64_t v;
            size_t l;
            if (read_vint(p + off, len - off, &v, &l) != 1 || v == SIZE_UNKNOWN)
                goto broken;
            off += l;
            int64_t s = (int64_t)v;
            if (i > 0) /* the bias of a signed l-byte value: 2^(7l-1) - 1 */
                s = prev + (int64_t)v - (int64_t)((UINT64_C(1) << (7 * l - 1)) - 1);
            if (s < 0 || (uint64_t)s > len)
                goto broken;
            sizes[i] = (size_t)s;
            sum += (size_t)s;
            prev = s;
        }
    } else { /* fixed: equal frames */
        if ((len - off) % count != 0)
            goto broken;
        for (size_t i = 0; i + 1 < count; i++) {
            sizes[i] = (len - off) / count;
            sum += sizes[i];
        }
    }
    if (off > len || sum > len - off)
        goto broken;
    sizes[count - 1] = len - off - sum;
    for (size_t i = 0; i < count; i++) {
        int rc = packet(arg, p + off, sizes[i]);
        if (rc != 0)
            return rc;
        off += sizes[i];
    }
    return LX_OK;
broken:
    speech_audio_errf(err, errlen, "a laced WebM block is broken");
    return LX_EINVAL;
}

static int parse_blockgroup(speech_webm *w, const unsigned char *p, size_t len,
                            speech_packet_fn packet, void *arg, char *err, size_t errlen)
{
    mem_iter it = {p, len, 0};
    const unsigned char *b;
    size_t bl;
    int r;
    while ((r = mem_next_id(&it, ID_BLOCK, &b, &bl)) == 1) {
        int rc = parse_block(w, b, bl, packet, arg, err, errlen);
        if (rc != LX_OK)
            return rc;
    }
    if (r < 0) {
        speech_audio_errf(err, errlen, "a WebM BlockGroup is broken");
        return LX_EINVAL;
    }
    return LX_OK;
}

/* ---------------------------------------------------------------- the stream */

static int is_cluster_child(uint32_t id)
{
    switch (id) {
    case ID_TIMECODE:
    case ID_SIMPLEBLOCK:
    case ID_BLOCKGROUP:
    case ID_VOID:
    case ID_CRC32:
    case ID_POSITION:
    case ID_PREVSIZE:
    case ID_SILENTTRACKS:
    case ID_ENCRYPTEDBLOCK:
        return 1;
    default:
        return 0;
    }
}

static void consume(speech_webm *w, size_t *off, size_t n)
{
    *off += n;
    w->pos += n;
}

/* What to do with an element whose header was read. */
enum { ACT_ENTER, ACT_WHOLE, ACT_SKIP };

/* Parses what buf[*off..len) holds. LX_OK when it needs more bytes. */
static int parse(speech_webm *w, size_t *off, speech_packet_fn packet, void *arg, char *err,
                 size_t errlen)
{
    for (;;) {
        if (w->skip > 0) {
            size_t avail = w->len - *off;
            size_t n = w->skip < avail ? (size_t)w->skip : avail;
            consume(w, off, n);
            w->skip -= n;
            if (w->skip > 0)
                return LX_OK;
        }
        /* Leave the known-size masters that end here, with any unknown-size
         * one inside them. */
        for (int i = 0; i < w->depth; i++) {
            if (w->open[i].end == SIZE_UNKNOWN || w->pos < w->open[i].end)
                continue;
            if (w->pos > w->open[i].end) {
                speech_audio_errf(err, errlen, "a WebM element overruns its parent at byte %llu",
                                  (unsigned long long)w->pos);
                return LX_EINVAL;
            }
            w->depth = i;
            break;
        }

        const unsigned char *p = w->buf + *off;
        size_t avail = w->len - *off, n1, n2;
        uint32_t id;
        uint64_t size;
        int r = read_id(p, avail, &id, &n1);
        if (r == 1)
            r = read_vint(p + n1, avail - n1, &size, &n2);
        if (r == 0)
            return LX_OK;
        if (r < 0) {
            speech_audio_errf(err, errlen, "%s at byte %llu",
                              w->has_header ? "a broken WebM element"
                                            : "not a WebM stream (no EBML header)",
                              (unsigned long long)w->pos);
            return LX_EINVAL;
        }
        uint32_t parent = w->depth > 0 ? w->open[w->depth - 1].id : 0;

        /* An unknown-size Cluster ends where something that cannot be its
         * child begins. */
        if (parent == ID_CLUSTER && w->open[w->depth - 1].end == SIZE_UNKNOWN &&
            !is_cluster_child(id)) {
            w->depth--;
            continue;
        }

        int act;
        if (!w->has_header) {
            if (id != ID_EBML) {
                speech_audio_errf(err, errlen, "not a WebM stream (no EBML header)");
                return LX_EINVAL;
            }
            act = ACT_WHOLE;
        } else if (id == ID_EBML) {
            speech_audio_errf(err, errlen, "a second WebM stream begins at byte %llu",
                              (unsigned long long)w->pos);
            return LX_EINVAL;
        } else if (parent == 0) {
            act = id == ID_SEGMENT ? ACT_ENTER : ACT_SKIP;
        } else if (parent == ID_SEGMENT) {
            act = id == ID_CLUSTER ? ACT_ENTER : id == ID_TRACKS ? ACT_WHOLE : ACT_SKIP;
        } else { /* in a Cluster */
            act = id == ID_SIMPLEBLOCK || id == ID_BLOCKGROUP ? ACT_WHOLE : ACT_SKIP;
        }

        if (size == SIZE_UNKNOWN && act != ACT_ENTER) {
            speech_audio_errf(err, errlen,
                              "a WebM element 0x%X of unknown size at byte %llu is not supported",
                              (unsigned)id, (unsigned long long)w->pos);
            return LX_EINVAL;
        }
        if (w->depth > 0 && w->open[w->depth - 1].end != SIZE_UNKNOWN && size != SIZE_UNKNOWN &&
            (size > UINT64_MAX - w->pos - n1 - n2 ||
             w->pos + n1 + n2 + size > w->open[w->depth - 1].end)) {
            speech_audio_errf(err, errlen, "a WebM element overruns its parent at byte %llu",
                              (unsigned long long)w->pos);
            return LX_EINVAL;
        }

        if (act == ACT_ENTER) {
            if (w->depth == MAX_DEPTH) { /* a Segment or Cluster inside a Cluster */
                speech_audio_errf(err, errlen, "a misplaced WebM element 0x%X at byte %llu",
                                  (unsigned)id, (unsigned long long)w->pos);
                return LX_EINVAL;
            }
            consume(w, off, n1 + n2);
            w->open[w->depth].id = id;
            w->open[w->depth].end = size == SIZE_UNKNOWN ? SIZE_UNKNOWN : w->pos + size;
            w->depth++;
            continue;
        }
        if (act == ACT_SKIP) {
            consume(w, off, n1 + n2);
            w->skip = size;
            continue;
        }
        if (!w->has_header && size > 4096) {
            speech_audio_errf(err, errlen, "not a WebM stream (an EBML header of %llu bytes)",
                              (unsigned long long)size);
            return LX_EINVAL;
        }
        if (size > SPEECH_WEBM_MAX_ELEMENT) {
            speech_audio_errf(
                err, errlen, "a WebM element of %llu bytes at byte %llu is over the limit of %u",
                (unsigned long long)size, (unsigned long long)w->pos, SPEECH_WEBM_MAX_ELEMENT);
            return LX_ETOOBIG;
        }
        if (avail - n1 - n2 < size)
            return LX_OK; /* wait for the whole element */
        const unsigned char *body = p + n1 + n2;
        int rc;
        if (id == ID_EBML) {
            rc = parse_ebml_header(body, (size_t)size, err, errlen);
            w->has_header = 1;
        } else if (id == ID_TRACKS) {
            rc = parse_tracks(w, body, (size_t)size, err, errlen);
        } else if (id == ID_SIMPLEBLOCK) {
            rc = parse_block(w, body, (size_t)size, packet, arg, err, errlen);
        } else {
            rc = parse_blockgroup(w, body, (size_t)size, packet, arg, err, errlen);
        }
        if (rc != LX_OK)
            return rc;
        consume(w, off, n1 + n2 + (size_t)size);
    }
}

int speech_webm_feed(speech_webm *w, const unsigned char *p, size_t len, speech_packet_fn packet,
                     void *arg, char *err, size_t errlen)
{
    if (w->failed) {
        speech_audio_errf(err, errlen, "the WebM stream already failed");
        return w->failed;
    }
    if (len > 0) {
        if (len > SIZE_MAX - w->len) {
            w->failed = LX_ENOMEM;
            return LX_ENOMEM;
        }
        if (w->len + len > w->cap) {
            size_t cap = w->cap ? w->cap : 4096;
            while (cap < w->len + len)
                cap = cap > SIZE_MAX / 2 ? w->len + len : cap * 2;
            unsigned char *nb = realloc(w->buf, cap);
            if (nb == NULL) {
                speech_audio_errf(err, errlen, "out of memory");
                w->failed = LX_ENOMEM;
                return LX_ENOMEM;
            }
            w->buf = nb;
            w->cap = cap;
        }
        memcpy(w->buf + w->len, p, len);
        w->len += len;
    }
    if (w->len == 0)
        return LX_OK;
    size_t off = 0;
    int rc = parse(w, &off, packet, arg, err, errlen);
    if (rc == LX_ENOMEM)
        speech_audio_errf(err, errlen, "out of memory");
    if (rc != LX_OK) {
        w->failed = rc;
        return rc;
    }
    memmove(w->buf, w->buf + off, w->len - off);
    w->len -= off;
    if (w->cap > 65536 && w->len < w->cap / 4) { /* give back a big piece's room */
        unsigned char *nb = realloc(w->buf, w->len > 4096 ? w->len : 4096);
        if (nb != NULL) {
            w->buf = nb;
            w->cap = w->len > 4096 ? w->len : 4096;
        }
    }
    return LX_OK;
}

int speech_webm_finish(speech_webm *w, char *err, size_t errlen)
{
    if (w->failed) {
        speech_audio_errf(err, errlen, "the WebM stream already failed");
        return w->failed;
    }
    if (!w->has_header) {
        speech_audio_errf(err, errlen, "not a WebM stream (it ends before its EBML header)");
        return LX_EINVAL;
    }
    if (w->len > 0 || w->skip > 0) {
        speech_audio_errf(err, errlen, "the WebM stream is truncated (it ends inside an element)");
        return LX_EINVAL;
    }
    if (!w->has_track) {
        speech_audio_errf(err, errlen, "the WebM stream ends before its audio track");
        return LX_EINVAL;
    }
    return LX_OK;
}
