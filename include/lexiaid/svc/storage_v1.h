/*
 * Service "storage.v1": what the storage plugin keeps for other plugins.
 * Documents and their text, passage search inside one document, the
 * user's profile, activity for progress, and generic per-user records
 * (a tutoring plugin keeps threads, messages, quiz state and sessions in
 * them).
 *
 *     void *st;
 *     const lx_storage_v1 *sv = host->svc_lookup(LX_STORAGE_V1, &st);
 *     if (sv == NULL) ... storage is not enabled
 *     sv->doc_search(st, w, uid, doc_id, "photosynthesis light", 5, on_passages, arg);
 *
 * Rules for every call:
 *   - Call it on a worker loop `w` (from a handler or a callback), never in
 *     the master. It never blocks: the database work runs on the offload
 *     pool and `done` runs later, exactly once, on the same loop, unless
 *     the call itself returns a negative code (then `done` never runs).
 *   - Every call is scoped to `uid`: another user's document or record is
 *     LX_ENOENT, exactly as an absent one.
 *   - Input strings are copied before the call returns. Everything handed
 *     to `done` (structs, strings, arrays) is borrowed for the duration of
 *     the callback only: copy what you keep.
 *   - `status` is LX_OK, LX_ENOENT (absent), LX_EINVAL (a bad argument: an
 *     empty uid, a kind outside [a-z0-9_.]{1,64}, JSON that does not parse),
 *     LX_ECANCELED (the worker is stopping) or LX_EIO (the database failed);
 *     `message` (borrowed, never NULL, "" on success) says what went wrong
 *     without secrets.
 *   - lx_storage_v1 and lx_storage_doc only grow at their end; check
 *     struct_size (LX_STORAGE_V1_HAS) before reading a member added later:
 *     the storage plugin may be older than you. lx_storage_passage,
 *     lx_storage_record and lx_storage_op are handed over in arrays, which
 *     the reader steps through with its own sizeof: they are frozen, never
 *     grow, and a new field comes in a new structure and call (plugin.h,
 *     "Versioning"). Strings in them are never NULL.
 */
#ifndef LEXIAID_SVC_STORAGE_V1_H
#define LEXIAID_SVC_STORAGE_V1_H

#include <stddef.h>
#include <stdint.h>

#include <lexiaid/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LX_STORAGE_V1 "storage.v1"

/* Processing status of a document's text. */
#define LX_DOC_UPLOADED "uploaded"
#define LX_DOC_PROCESSING "processing"
#define LX_DOC_PROCESSED "processed"
#define LX_DOC_FAILED "failed"

typedef struct lx_storage_doc {
    uint32_t struct_size;
    const char *id;
    const char *name;
    const char *original_filename;
    const char *file_type;   /* "pdf", "docx", "txt", "md", "png", "jpg" */
    const char *status;      /* LX_DOC_* */
    const char *error;       /* why it failed; "" otherwise */
    const char *created_at;  /* ISO 8601 UTC */
    const char *updated_at;
    int64_t size;            /* bytes of the file */
    int64_t content_length;  /* bytes of the text */
    int64_t page_count;
    const char *text;        /* the whole text when asked for, else "" */
    size_t text_len;
} lx_storage_doc;

/* Frozen (handed over as an array). */
typedef struct lx_storage_passage {
    int64_t seq;   /* position in the document, from 0 */
    double score;  /* relevance, higher is better; 0 for passages_at */
    const char *text;
} lx_storage_passage;

/* Frozen (handed over as an array, and alone). */
typedef struct lx_storage_record {
    const char *key;
    const char *json;       /* the record's value, or the item's */
    int64_t seq;            /* an item's seq (from 1); a record's item count */
    const char *created_at;
    const char *updated_at;
} lx_storage_record;

typedef void (*lx_storage_done_fn)(void *arg, int status, const char *message);
typedef void (*lx_storage_doc_fn)(void *arg, int status, const char *message,
                                  const lx_storage_doc *doc);
typedef void (*lx_storage_passages_fn)(void *arg, int status, const char *message,
                                       const lx_storage_passage *items, size_t n);
typedef void (*lx_storage_record_fn)(void *arg, int status, const char *message,
                                     const lx_storage_record *rec);
typedef void (*lx_storage_records_fn)(void *arg, int status, const char *message,
                                      const lx_storage_record *items, size_t n);
typedef void (*lx_storage_seq_fn)(void *arg, int status, const char *message, int64_t seq);
typedef void (*lx_storage_json_fn)(void *arg, int status, const char *message,
                                   const char *json);

/* One write of a batch (lx_storage_v1.batch). Strings are copied by the
 * call. */
#define LX_STORAGE_OP_PUT 1      /* record_put: kind, key (required), json */
#define LX_STORAGE_OP_APPEND 2   /* record_append: kind, key, json */
#define LX_STORAGE_OP_ACTIVITY 3 /* activity_add: activity, points, score, max_score */
#define LX_STORAGE_BATCH_MAX 16

/* Frozen (handed over as an array). */
typedef struct lx_storage_op {
    uint32_t type;        /* LX_STORAGE_OP_* */
    const char *kind;     /* put, append */
    const char *key;      /* put, append */
    const char *json;     /* put: the value; append: the item */
    const char *activity; /* activity: its kind, [a-z_]{1,32} */
    int64_t points;       /* activity */
    double score;         /* activity */
    double max_score;     /* activity */
} lx_storage_op;

/* seqs[i]: op i's appended item's seq, 0 for other ops (n = n_ops; NULL
 * unless status is LX_OK). */
typedef void (*lx_storage_batch_fn)(void *arg, int status, const char *message,
                                    const int64_t *seqs, size_t n);

/* record_get_items: the record, and its last items (NULL unless status is
 * LX_OK). */
typedef void (*lx_storage_record_items_fn)(void *arg, int status, const char *message,
                                           const lx_storage_record *rec,
                                           const lx_storage_record *items, size_t n_items);
/* doc_get_search: the document (without its text; NULL unless status is
 * LX_OK) and the passages found (none unless the document is processed). */
typedef void (*lx_storage_doc_passages_fn)(void *arg, int status, const char *message,
                                           const lx_storage_doc *doc,
                                           const lx_storage_passage *items, size_t n);
/* batch_items: batch's seqs, then the last items of the record named in
 * the call as they are after the batch (NULL unless status is LX_OK). */
typedef void (*lx_storage_batch_items_fn)(void *arg, int status, const char *message,
                                          const int64_t *seqs, size_t n,
                                          const lx_storage_record *items, size_t n_items);
/* Document assets (minor 3): files derived from a document that live and
 * die with it (read-aloud audio and its timepoints). Only these names. */
#define LX_STORAGE_ASSET_TTS_AUDIO "tts-audio.mp3"
#define LX_STORAGE_ASSET_TTS_TIMEPOINTS "tts-timepoints.json"
/* The voice, speed and pitch the two above were made with (minor 4). */
#define LX_STORAGE_ASSET_TTS_PARAMS "tts-params.json"

/* asset_get: bytes [offset, offset + len) of the asset (borrowed for the
 * callback; NULL when len is 0) and its whole size (NULL/0 unless status
 * is LX_OK). */
typedef void (*lx_storage_asset_fn)(void *arg, int status, const char *message, const void *data,
                                    size_t len, int64_t size);

/* What storage tells its subscribers (minor 3). */
#define LX_STORAGE_EV_PROCESSED 1 /* a document's text was stored (status processed) */
#define LX_STORAGE_EV_DELETED 2   /* a document was deleted (DELETE /api/documents/{id}) */
/* Runs on the worker loop `w` where it happened, after the commit; uid and
 * doc_id are borrowed for the call. It must not block. */
typedef void (*lx_storage_event_fn)(void *arg, lx_worker *w, int event, const char *uid,
                                    const char *doc_id);

typedef struct lx_storage_v1 {
    uint32_t struct_size;

    /* One document of uid; with_text loads its whole text (doc->text). */
    int (*doc_get)(void *state, lx_worker *w, const char *uid, const char *doc_id,
                   int with_text, lx_storage_doc_fn done, void *arg);

    /* The passages of one document that best match `query` (free text: only
     * its words count, never any syntax), best first, at most `limit`
     * (1..50). No match: LX_OK with n = 0. */
    int (*doc_search)(void *state, lx_worker *w, const char *uid, const char *doc_id,
                      const char *query, int limit, lx_storage_passages_fn done, void *arg);

    /* Passages seq in [from, from + count) in order (count 1..50): the
     * start of a document, or the context around a hit. */
    int (*doc_passages)(void *state, lx_worker *w, const char *uid, const char *doc_id,
                        int64_t from, int count, lx_storage_passages_fn done, void *arg);

    /* The user's profile as a JSON object (displayName, email, preferences,
     * dateOfBirth, ...); LX_ENOENT when the user has none yet. */
    int (*profile_get)(void *state, lx_worker *w, const char *uid, lx_storage_json_fn done,
                       void *arg);

    /* Records one activity for progress: kind [a-z_]{1,32} ("chat",
     * "quiz", "answer"), points >= 0, and for quizzes the score out of
     * max_score. */
    int (*activity_add)(void *state, lx_worker *w, const char *uid, const char *kind,
                        int64_t points, double score, double max_score,
                        lx_storage_done_fn done, void *arg);

    /* Generic records: (uid, kind, key) -> a JSON value with an ordered
     * list of JSON items. key NULL in record_put makes a new random key
     * (a UUID), handed to done as rec->key. json must parse (LX_EINVAL)
     * and is at most 1 MiB. */
    int (*record_put)(void *state, lx_worker *w, const char *uid, const char *kind,
                      const char *key, const char *json, lx_storage_record_fn done, void *arg);
    int (*record_get)(void *state, lx_worker *w, const char *uid, const char *kind,
                      const char *key, lx_storage_record_fn done, void *arg);
    /* Appends an item to an existing record (LX_ENOENT when absent). */
    int (*record_append)(void *state, lx_worker *w, const char *uid, const char *kind,
                         const char *key, const char *json, lx_storage_seq_fn done, void *arg);
    /* Items with seq > after_seq; of those the last last_n when last_n > 0. */
    int (*record_items)(void *state, lx_worker *w, const char *uid, const char *kind,
                        const char *key, int64_t after_seq, int last_n,
                        lx_storage_records_fn done, void *arg);
    /* Records of a kind, most recently updated first, at most limit (1..1000). */
    int (*record_list)(void *state, lx_worker *w, const char *uid, const char *kind,
                       int limit, lx_storage_records_fn done, void *arg);
    int (*record_delete)(void *state, lx_worker *w, const char *uid, const char *kind,
                         const char *key, lx_storage_done_fn done, void *arg);

    /* -- Added after the first release: check struct_size (LX_STORAGE_V1_HAS). */

    /* Several writes of one user in ONE transaction, in order: all of them
     * or none (one durable commit, where separate calls make one each).
     * 1..LX_STORAGE_BATCH_MAX ops; each is checked as its single call
     * would be (LX_EINVAL before anything runs). An append to a record
     * that is absent (and not put earlier in the same batch) is LX_ENOENT
     * and nothing is written. done gets, per op, the appended item's seq
     * (0 for other ops). */
    int (*batch)(void *state, lx_worker *w, const char *uid, const lx_storage_op *ops,
                 size_t n_ops, lx_storage_batch_fn done, void *arg);

    /* -- storage.v1 minor 2: coarser calls, each ONE trip to the database
     * where the separate calls make two (check LX_STORAGE_V1_HAS). */

    /* record_get, and the record's last `last_n` items (0..1000; 0: none)
     * in the same trip. LX_ENOENT when the record is absent. */
    int (*record_get_items)(void *state, lx_worker *w, const char *uid, const char *kind,
                            const char *key, int last_n, lx_storage_record_items_fn done,
                            void *arg);
    /* doc_get (without the text) and, when the document is processed,
     * doc_search in the same trip: the caller sees its status and name
     * with the passages. LX_ENOENT when the document is absent. */
    int (*doc_get_search)(void *state, lx_worker *w, const char *uid, const char *doc_id,
                          const char *query, int limit, lx_storage_doc_passages_fn done,
                          void *arg);
    /* batch, then the last `last_n` items (1..1000) of the record (kind,
     * key) as they are once the batch committed, in the same trip: the
     * thread a chat turn just wrote, without reading it in another call. */
    int (*batch_items)(void *state, lx_worker *w, const char *uid, const lx_storage_op *ops,
                       size_t n_ops, const char *kind, const char *key, int last_n,
                       lx_storage_batch_items_fn done, void *arg);
    /* -- storage.v1 minor 3: document assets and document events (check
     * LX_STORAGE_V1_HAS). */

    /* Stores (or replaces) the asset `name` (LX_STORAGE_ASSET_*) of uid's
     * document doc_id: data[0..len) is copied before the call returns, and
     * is durable when done gets LX_OK (SQLite: a file next to the
     * document's, written and renamed; PostgreSQL: a row, so every replica
     * sees it). It is deleted with the document. LX_ENOENT when the
     * document is absent or another user's; LX_EINVAL for another name or
     * more than 256 MiB. */
    int (*asset_put)(void *state, lx_worker *w, const char *uid, const char *doc_id,
                     const char *name, const void *data, size_t len, lx_storage_done_fn done,
                     void *arg);
    /* Reads bytes [offset, offset + max) of the asset (fewer at its end;
     * max 0: only its size), max at most 64 MiB. LX_ENOENT when the
     * document or the asset is absent, or the document is another user's;
     * an offset past the end gives len 0 and the size. */
    int (*asset_get)(void *state, lx_worker *w, const char *uid, const char *doc_id,
                     const char *name, int64_t offset, size_t max, lx_storage_asset_fn done,
                     void *arg);
    /* Subscribes fn(arg, ...) to the LX_STORAGE_EV_* events of this
     * generation. Only in init() (the master, single-threaded), so every
     * worker inherits it; arg is the subscriber's state, valid until its
     * shutdown(). LX_OK, or LX_ETOOBIG past 8 subscribers. */
    int (*subscribe)(void *state, lx_storage_event_fn fn, void *arg);

    /* -- storage.v1 minor 4: one maker of a document's assets at a time
     * (check LX_STORAGE_V1_HAS). */

    /* lease_ms > 0: claims the making of uid's processed document doc_id
     * for the calling worker for lease_ms (every worker and every replica
     * on the same database sees the claim), or renews the claim this
     * worker holds; done gets LX_OK when this worker holds it now,
     * LX_EEXIST when another worker holds a live claim or the document is
     * not processed, LX_ENOENT when it is absent or another user's. A
     * claim whose holder died lapses after its lease. lease_ms 0: gives
     * this worker's claim back (LX_OK also when it held none). At most a
     * day; only in a worker (LX_ESTATE in the master). */
    int (*asset_claim)(void *state, lx_worker *w, const char *uid, const char *doc_id,
                       int64_t lease_ms, lx_storage_done_fn done, void *arg);
} lx_storage_v1;

/* True when the table has `member` (it may come from an older plugin). */
#define LX_STORAGE_V1_HAS(sv, member)                                                      \
    ((sv)->struct_size >= offsetof(lx_storage_v1, member) + sizeof((sv)->member) &&        \
     (sv)->member != NULL)

#ifdef __cplusplus
}
#endif
#endif
