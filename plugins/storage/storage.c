/*
 * storage: everything that persists. Profiles, documents and their text,
 * feedback and progress, on SQLite (the embedded default) or PostgreSQL,
 * and the services storage.v1 and userdata.v1.
 *
 * This file is the plugin itself: the descriptor and its handler table,
 * the configuration (the `storage` block of etc/lexiaid.conf), init in the
 * master (migrations and the start-up check of the SQLite files, then every
 * connection closed before the fork), the worker hooks (a database per
 * worker, its claim token, the extraction queue), and /ready's health
 * check. See storage.h for the map of the other files.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage.h"

#ifndef LX_EXTRACT_PATH
#define LX_EXTRACT_PATH "/usr/local/libexec/lexiaid/lexiaid-extract"
#endif

#define STORAGE_MAX_TEXT (64u * 1024 * 1024) /* extracted text larger fails */
#define STORAGE_FULL_BELOW (1024 * 1024)     /* /ready: the disk is full under this free */

/* ------------------------------------------------------------------------ */
/* Configuration                                                            */

static const char *const storage_cfg_keys[] = {
    "backend",          "sqlite_path",         "database_url",
    "connections",      "busy_timeout",        "max_upload",
    "repair",           "extractor",           "extract_timeout",
    "extract_memory",   "extract_concurrency", "extract_wait",
    "extract_attempts", "claim_lease",         "retry_delay",
    "retry_delay_max",  "disk_reserve",        NULL,
};

/* A string key: NULL when absent or empty, else a malloc'd copy. */
static int storage_cfg_str(storage_state *st, const lx_cfg *cfg, const char *key, char **out,
                           char *err, size_t errlen)
{
    const char *v = NULL;
    int rc;

    *out = NULL;
    if (cfg == NULL)
        return LX_OK;
    rc = st->host->cfg_string(cfg, key, &v, err, errlen);
    if (rc == LX_ENOENT || (rc == LX_OK && v[0] == '\0'))
        return LX_OK;
    if (rc != LX_OK)
        return rc;
    *out = strdup(v);
    if (*out == NULL) {
        snprintf(err, errlen, "out of memory");
        return LX_ENOMEM;
    }
    return LX_OK;
}

/* The number key `key` (kind 'i' an integer, 'm' a duration in ms, 's' a
 * size in bytes) into *out: def when absent (or no block), else the
 * configured value, which must lie in [lo, hi] (LX_EINVAL naming the
 * block's FILE:LINE otherwise). */
static int storage_cfg_num(storage_state *st, const lx_cfg *cfg, const char *key, int kind,
                           long long def, long long lo, long long hi, long long *out, char *err,
                           size_t errlen)
{
    const lx_host *host = st->host;
    const char *unit = kind == 'm' ? " ms" : kind == 's' ? " bytes" : "";
    char where[256] = "";
    size_t sz = 0;
    int rc = LX_ENOENT;

    *out = def;
    if (cfg != NULL) {
        switch (kind) {
        case 's':
            rc = host->cfg_size(cfg, key, &sz, err, errlen);
            if (rc == LX_OK)
                *out = sz > (size_t)0x7fffffffffffffffLL ? 0x7fffffffffffffffLL : (long long)sz;
            break;
        case 'm':
            rc = host->cfg_ms(cfg, key, out, err, errlen);
            break;
        default:
            rc = host->cfg_int(cfg, key, out, err, errlen);
            break;
        }
    }
    if (rc != LX_OK && rc != LX_ENOENT)
        return rc;
    if (*out >= lo && *out <= hi)
        return LX_OK;
    if (cfg != NULL)
        host->cfg_where(cfg, where, sizeof(where));
    snprintf(err, errlen, "%s: storage: %s must be between %lld and %lld%s", where, key, lo, hi,
             unit);
    return LX_EINVAL;
}

static int storage_mkdirs(const char *path, char *err, size_t errlen)
{
    char buf[4096];
    size_t len = strlen(path);

    if (len == 0 || len >= sizeof(buf)) {
        snprintf(err, errlen, "data directory path is empty or too long");
        return LX_EINVAL;
    }
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0750) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot make the data directory %s: %s", buf, strerror(errno));
            return LX_EIO;
        }
        buf[i] = c;
    }
    return LX_OK;
}

static int storage_configure(storage_state *st, const lx_cfg *cfg, char *err, size_t errlen)
{
    const lx_host *host = st->host;
    char *backend = NULL, *extractor = NULL, where[256] = "";
    long long v;
    int b = 0, rc;
    const char *dd;

#define TRY(x)                                                                                     \
    do {                                                                                           \
        if ((rc = (x)) != LX_OK)                                                                   \
            goto out;                                                                              \
    } while (0)

    if (cfg != NULL) {
        TRY(host->cfg_check_keys(cfg, storage_cfg_keys, err, errlen));
        host->cfg_where(cfg, where, sizeof(where));
    }

    dd = host->data_dir();
    if (dd == NULL || dd[0] == '\0')
        dd = "./data";
    st->data_dir = strdup(dd);
    if (st->data_dir == NULL)
        TRY(LX_ENOMEM);

    TRY(storage_cfg_str(st, cfg, "backend", &backend, err, errlen));
    if (backend == NULL || strcmp(backend, "sqlite") == 0) {
        st->opts.kind = STORAGE_SQLITE;
    } else if (strcmp(backend, "postgres") == 0 || strcmp(backend, "postgresql") == 0) {
        st->opts.kind = STORAGE_POSTGRES;
#if !STORAGE_HAVE_POSTGRES
        snprintf(err, errlen,
                 "%s: storage: backend \"postgres\" is not in this build of lexiaid (it was "
                 "configured --without-postgres): use \"sqlite\", or a build with PostgreSQL",
                 where);
        TRY(LX_EINVAL);
#endif
    } else {
        snprintf(err, errlen,
                 "%s: storage: backend must be \"sqlite\" or \"postgres\" (got \"%s\")", where,
                 backend);
        TRY(LX_EINVAL);
    }

    TRY(storage_cfg_str(st, cfg, "sqlite_path", &st->sqlite_path, err, errlen));
    TRY(storage_cfg_str(st, cfg, "database_url", &st->pg_url, err, errlen));
    if (st->opts.kind == STORAGE_POSTGRES && st->pg_url == NULL) {
        snprintf(err, errlen,
                 "%s: storage: backend \"postgres\" needs database_url (LEXIAID_DATABASE_URL: a "
                 "libpq URI or key=value string)",
                 where);
        TRY(LX_EINVAL);
    }
    if (st->opts.kind == STORAGE_SQLITE && st->sqlite_path == NULL) {
        size_t n = strlen(st->data_dir) + sizeof("/lexiaid.db");
        st->sqlite_path = malloc(n);
        if (st->sqlite_path == NULL)
            TRY(LX_ENOMEM);
        snprintf(st->sqlite_path, n, "%s/lexiaid.db", st->data_dir);
    }
    st->opts.sqlite_path = st->sqlite_path;
    st->opts.pg_url = st->pg_url;

    TRY(storage_cfg_num(st, cfg, "connections", 'i', 4, 1, 64, &v, err, errlen));
    st->opts.max_conns = (int)v;

    TRY(storage_cfg_num(st, cfg, "busy_timeout", 'm', 5000, 0, 600000, &v, err, errlen));
    st->opts.busy_timeout_ms = (long)v;

    TRY(storage_cfg_num(st, cfg, "max_upload", 's', 25LL * 1024 * 1024, 1, 4LL * 1024 * 1024 * 1024,
                        &v, err, errlen));
    st->max_upload = (size_t)v;

    if (cfg != NULL) {
        rc = host->cfg_bool(cfg, "repair", &b, err, errlen);
        if (rc == LX_OK)
            st->repair = b;
        else if (rc != LX_ENOENT)
            goto out;
    }

    TRY(storage_cfg_str(st, cfg, "extractor", &extractor, err, errlen));
    if (extractor == NULL && (extractor = strdup(LX_EXTRACT_PATH)) == NULL)
        TRY(LX_ENOMEM);
    st->ex.program = extractor;
    extractor = NULL;

    TRY(storage_cfg_num(st, cfg, "extract_timeout", 'm', 120000, 100, 3600000, &v, err, errlen));
    st->ex.timeout_ms = (long)v;

    TRY(storage_cfg_num(st, cfg, "extract_memory", 's', 1024LL * 1024 * 1024, 32LL * 1024 * 1024,
                        64LL * 1024 * 1024 * 1024, &v, err, errlen));
    st->ex.max_mem = (size_t)v;
    st->ex.max_output = STORAGE_MAX_TEXT;

    TRY(storage_cfg_num(st, cfg, "extract_concurrency", 'i', 2, 1, 16, &v, err, errlen));
    st->extract_concurrency = (int)v;

    TRY(storage_cfg_num(st, cfg, "extract_wait", 'm', 20000, 0, 600000, &v, err, errlen));
    st->extract_wait_ms = v;

    TRY(storage_cfg_num(st, cfg, "extract_attempts", 'i', 3, 1, 100, &v, err, errlen));
    st->extract_attempts = (int)v;

    TRY(storage_cfg_num(st, cfg, "claim_lease", 'm', 30000, 1000, 3600000, &v, err, errlen));
    st->claim_lease_ms = v;

    TRY(storage_cfg_num(st, cfg, "retry_delay", 'm', 1000, 10, 3600000, &v, err, errlen));
    st->retry_delay_ms = v;

    TRY(storage_cfg_num(st, cfg, "retry_delay_max", 'm', 60000, st->retry_delay_ms, 86400000, &v,
                        err, errlen));
    st->retry_delay_max_ms = v;

    TRY(storage_cfg_num(st, cfg, "disk_reserve", 's', 8LL * 1024 * 1024, 0, 1LL << 30, &v, err,
                        errlen));
    st->disk_reserve = (uint64_t)v;
    rc = LX_OK;
out:
#undef TRY
    if (rc == LX_ENOMEM && (err[0] == '\0'))
        snprintf(err, errlen, "out of memory");
    free(backend);
    free(extractor);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Start-up in the master                                                   */

/* Documents failed for a missing file whose file is there now (a .part
 * rolled forward, a backup restored) are pending again: nothing
 * recoverable stays failed. */
static int storage_retry_found(storage_state *st, storage_conn *c, char *err, size_t errlen)
{
    char **ids = NULL, now[STORAGE_TS_LEN + 8];
    size_t n = 0, n_back = 0;
    int rc = storage_doc_failed_ids(c, STORAGE_MISSING_FILE, &ids, &n, err, errlen);

    if (rc != LX_OK)
        return rc;
    storage_now_iso(now, sizeof(now));
    for (size_t i = 0; i < n; i++) {
        char e2[256];
        int64_t size = 0;
        int fd = -1;

        if (storage_file_open_committed(st->files, ids[i], &fd, &size, NULL, e2, sizeof(e2)) !=
            LX_OK)
            continue;
        close(fd);
        if (storage_doc_retry_failed(c, ids[i], STORAGE_MISSING_FILE, now, e2, sizeof(e2)) == LX_OK)
            n_back++;
    }
    storage_strv_free(ids, n);
    if (n_back > 0)
        st->host->log(LX_LOG_INFO, STORAGE_SRC, NULL,
                      "files: %zu document(s) failed for a missing file have it again: their "
                      "text is extracted anew",
                      n_back);
    return LX_OK;
}

/* The start-up check of the SQLite files against the rows (files.h). */
static int storage_check_files(storage_state *st, storage_conn *c, char *err, size_t errlen)
{
    const lx_host *host = st->host;
    storage_files_report rep;
    char **ids = NULL, **uids = NULL, now[STORAGE_TS_LEN + 8];
    size_t n = 0;
    int rc;

    memset(&rep, 0, sizeof(rep));
    rc = storage_doc_all_ids(c, &ids, &uids, &n, err, errlen);
    if (rc != LX_OK)
        return rc;
    rc = storage_files_check(st->files, ids, n, st->repair, &rep, err, errlen);
    storage_strv_free(ids, n);
    storage_strv_free(uids, n);
    if (rc != LX_OK)
        return rc;
    if (st->repair) {
        storage_now_iso(now, sizeof(now));
        for (size_t i = 0; i < rep.n_missing_ids; i++) {
            char e2[256];
            int r = storage_doc_set_status(c, rep.missing_ids[i], NULL, STORAGE_ST_FAILED,
                                           STORAGE_MISSING_FILE, now, e2, sizeof(e2));
            if (r != LX_OK && r != LX_ENOENT)
                host->log(LX_LOG_WARN, STORAGE_SRC, NULL, "cannot mark document %s failed: %s",
                          rep.missing_ids[i], e2);
        }
    }
    host->log(LX_LOG_INFO, STORAGE_SRC, NULL,
              "files: %zu documents, %zu with their file, %zu rolled forward, %zu partial uploads "
              "removed, %zu orphans%s, %zu missing%s, %zu orphan asset files removed",
              rep.n_rows, rep.n_ok, rep.n_rolled_forward, rep.n_parts_removed, rep.n_orphans,
              st->repair && rep.n_orphans > 0 ? " (removed)" : "", rep.n_missing,
              st->repair && rep.n_missing > 0 ? " (marked failed)" : "", rep.n_assets_removed);
    if (!st->repair && (rep.n_orphans > 0 || rep.n_missing > 0))
        host->log(LX_LOG_WARN, STORAGE_SRC, NULL,
                  "the file check found %zu orphan file(s) and %zu document(s) without their "
                  "file under %s/uploads; start with repair = true (LEXIAID_STORAGE_REPAIR=true) "
                  "to remove the orphans and mark those documents failed",
                  rep.n_orphans, rep.n_missing, st->data_dir);
    storage_files_report_clear(&rep);
    return storage_retry_found(st, c, err, errlen);
}

/* Opens the database, migrates it, checks the files, closes it again: no
 * connection may cross fork(). */
static int storage_prepare(storage_state *st, char *err, size_t errlen)
{
    const lx_host *host = st->host;
    storage_db *db = NULL;
    storage_conn *c = NULL;
    int version = 0, rc;

    rc = storage_db_open(&st->opts, &db, err, errlen);
    if (rc != LX_OK)
        return rc;
    rc = storage_db_acquire(db, &c, err, errlen);
    if (rc != LX_OK)
        goto out;
    rc = storage_migrate(c, &version, err, errlen);
    if (rc != LX_OK)
        goto out;
    if (st->opts.kind == STORAGE_SQLITE)
        host->log(LX_LOG_INFO, STORAGE_SRC, NULL, "sqlite database %s, schema version %d",
                  st->sqlite_path, version);
    else
        host->log(LX_LOG_INFO, STORAGE_SRC, NULL, "postgres database, schema version %d", version);
    if (st->files != NULL)
        rc = storage_check_files(st, c, err, errlen);
out:
    if (c != NULL)
        storage_db_release(db, c, rc == LX_EIO);
    storage_db_close(db);
    return rc;
}

static void storage_state_free(storage_state *st)
{
    if (st == NULL)
        return;
    if (st->db != NULL)
        storage_db_close(st->db);
    if (st->files != NULL)
        storage_files_close(st->files);
    free(st->sqlite_path);
    free(st->pg_url);
    free(st->data_dir);
    free((char *)st->ex.program);
    free(st);
}

static int storage_init(const lx_host *host, const lx_cfg *cfg, void **state, char *err,
                        size_t errlen)
{
    storage_state *st = calloc(1, sizeof(*st));
    char e2[512] = "";
    int rc;

    if (st == NULL) {
        snprintf(err, errlen, "out of memory");
        return LX_ENOMEM;
    }
    st->host = host;
    rc = storage_configure(st, cfg, err, errlen);
    if (rc != LX_OK)
        goto fail;
    if (access(st->ex.program, X_OK) != 0)
        host->log(LX_LOG_WARN, STORAGE_SRC, NULL,
                  "the text extractor %s cannot be run (%s): documents will fail to process; "
                  "set extractor (LEXIAID_EXTRACTOR)",
                  st->ex.program, strerror(errno));
    if (st->opts.kind == STORAGE_SQLITE) {
        rc = storage_mkdirs(st->data_dir, e2, sizeof(e2));
        if (rc == LX_OK)
            rc = storage_files_open(st->data_dir, &st->files, e2, sizeof(e2));
        if (rc != LX_OK) {
            snprintf(err, errlen, "storage: %s", e2);
            goto fail;
        }
    }
    rc = storage_prepare(st, e2, sizeof(e2));
    if (rc != LX_OK) {
        snprintf(err, errlen, "storage: %s", e2);
        goto fail;
    }
    if (st->files != NULL && st->disk_reserve > 0 &&
        storage_files_reserve(st->files, st->disk_reserve, e2, sizeof(e2)) != LX_OK)
        host->log(LX_LOG_WARN, STORAGE_SRC, NULL,
                  "no disk reserve yet (made once there is room; it keeps deletions working "
                  "on a full disk): %s",
                  e2);
    rc = storage_svc_register(st, err, errlen);
    if (rc != LX_OK)
        goto fail;
    *state = st;
    return LX_OK;
fail:
    storage_state_free(st);
    return rc;
}

static void storage_shutdown(void *state)
{
    storage_state_free(state);
}

/* ------------------------------------------------------------------------ */
/* Workers                                                                  */

static int storage_worker_start(void *state, lx_worker *w, char *err, size_t errlen)
{
    storage_state *st = state;
    const lx_host *host = st->host;
    int rc;

    (void)host;
    st->w = w;
    /* This worker's token in claims: a new one in every worker process,
     * so that a restarted worker never takes its predecessor's claims
     * for its own. */
    if (storage_uuid(st->owner, sizeof(st->owner)) != LX_OK) {
        snprintf(err, errlen, "no random source for the worker's claim token");
        return LX_EIO;
    }
    rc = storage_db_open(&st->opts, &st->db, err, errlen);
    if (rc != LX_OK)
        return rc;
    rc = storage_proc_start(st, w);
    if (rc != LX_OK) {
        snprintf(err, errlen, "cannot start the extraction queue: out of memory");
        storage_db_close(st->db);
        st->db = NULL;
        return rc;
    }
    return LX_OK;
}

static void storage_worker_stop(void *state, lx_worker *w)
{
    storage_state *st = state;

    (void)w;
    storage_proc_stop(st);
    storage_run_close_db(st);
}

/* ------------------------------------------------------------------------ */
/* Disk space                                                               */

int storage_make_room(storage_state *st)
{
    if (st->files == NULL || !storage_files_release_reserve(st->files))
        return 0;
    st->host->log(LX_LOG_WARN, STORAGE_SRC, NULL,
                  "the disk under %s is full: its reserve of %llu bytes was freed for a deletion",
                  st->data_dir, (unsigned long long)st->disk_reserve);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* /ready                                                                   */

typedef struct storage_health {
    lx_health_report_fn report;
    void *token;
    uint64_t free_bytes; /* SQLite: free on the data directory's file system */
} storage_health;

static int storage_health_job(storage_state *st, storage_conn *c, void *arg, char *err,
                              size_t errlen)
{
    storage_health *h = arg;
    int rc = storage_ping(c, err, errlen);

    if (rc == LX_OK && st->files != NULL)
        rc = storage_files_free_space(st->files, &h->free_bytes, err, errlen);
    return rc;
}

/* Not ok when the database does not answer, or the disk is full: with
 * SQLite, under STORAGE_FULL_BELOW free on the data directory; with
 * PostgreSQL (its disk is not ours to see), when a write of this worker
 * met a full disk (SQLSTATE 53100) in the last STORAGE_FULL_RECENT_MS and
 * no upload was stored since. */
static void storage_health_done(storage_state *st, void *arg, int rc, const char *err)
{
    storage_health *h = arg;
    const char *kind = st->opts.kind == STORAGE_SQLITE ? "sqlite" : "postgres";
    int64_t since = storage_mono_ms() - st->full_at_ms;
    char detail[600];

    if (rc != LX_OK) {
        snprintf(detail, sizeof(detail), "%s: %s", kind, err);
        h->report(h->token, 0, detail);
    } else if (st->files != NULL && h->free_bytes < STORAGE_FULL_BELOW) {
        snprintf(detail, sizeof(detail), "disk full on %s: %llu bytes free", st->data_dir,
                 (unsigned long long)h->free_bytes);
        h->report(h->token, 0, detail);
    } else if (st->files == NULL && st->full_at_ms != 0 && since < STORAGE_FULL_RECENT_MS) {
        snprintf(detail, sizeof(detail),
                 "postgres: disk full (a write failed for want of space %lld s ago)",
                 (long long)(since / 1000));
        h->report(h->token, 0, detail);
    } else {
        h->report(h->token, 1, st->opts.kind == STORAGE_SQLITE ? "sqlite ok" : "postgres ok");
    }
    free(h);
}

static void storage_health_check(void *state, lx_worker *w, lx_health_report_fn report, void *token)
{
    storage_state *st = state;
    storage_health *h = calloc(1, sizeof(*h));
    int rc;

    if (h == NULL) {
        report(token, 0, "out of memory");
        return;
    }
    h->report = report;
    h->token = token;
    rc = storage_run(st, w, storage_health_job, storage_health_done, h);
    if (rc != LX_OK) {
        free(h);
        report(token, 0, rc == LX_ESTATE ? "not running in this worker" : "out of memory");
    }
}

/* ------------------------------------------------------------------------ */
/* The descriptor                                                           */

static const lx_handler storage_handlers[] = {
    {"user_init", storage_h_user_init, LX_H_ENDPOINT},
    {"profile_get", storage_h_profile_get, LX_H_ENDPOINT},
    {"profile_put", storage_h_profile_put, LX_H_ENDPOINT},
    {"upload", storage_h_upload, LX_H_ENDPOINT},
    {"doc_list", storage_h_doc_list, LX_H_ENDPOINT},
    {"doc_get", storage_h_doc_get, LX_H_ENDPOINT},
    {"doc_delete", storage_h_doc_delete, LX_H_ENDPOINT},
    {"doc_download", storage_h_doc_download, LX_H_ENDPOINT},
    {"feedback", storage_h_feedback, LX_H_ENDPOINT},
    {"progress", storage_h_progress, LX_H_ENDPOINT},
    {"admin_stats", storage_h_admin_stats, LX_H_ENDPOINT},
    {"admin_users", storage_h_admin_users, LX_H_ENDPOINT},
    {"admin_users_sync", storage_h_admin_users_sync, LX_H_ENDPOINT},
    {"admin_feedback", storage_h_admin_feedback, LX_H_ENDPOINT},
    {NULL, NULL, 0},
};

static const char *const storage_provides[] = {"storage.v1", "userdata.v1", NULL};

static const lx_plugin storage_plugin = {
    LX_PLUGIN_HEADER,
    .name = "storage",
    .version = "1.0.0",
    .description = "profiles, documents and their text, feedback and progress on SQLite or "
                   "PostgreSQL; the services storage.v1 and userdata.v1",
    .handlers = storage_handlers,
    .provides = storage_provides,
    .init = storage_init,
    .worker_start = storage_worker_start,
    .worker_stop = storage_worker_stop,
    .shutdown = storage_shutdown,
    .health = storage_health_check,
    .commands = storage_commands,
};

LX_EXPORT const lx_plugin *lx_plugin_entry(void)
{
    return &storage_plugin;
}
