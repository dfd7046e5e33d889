/*
 * `lexiaid backup DEST`: a consistent copy of the SQLite database and of
 * its document files, taken while the service runs.
 *
 *   lexiaid -c /etc/lexiaid/lexiaid.conf backup /var/backups/lexiaid-2026-11-28
 *
 * DEST must not exist (it is made, mode 0750) or be an empty directory.
 * It receives DEST/lexiaid.db and DEST/uploads/<id>, one file per document
 * row of that copy. DEST/lexiaid.db appears last, after every file is
 * written and synced: a DEST without it is an interrupted backup.
 *
 * How it stays consistent:
 *   1. The database is copied with SQLite's online backup API, a few pages
 *      per step, from one read transaction: in WAL mode that is a snapshot
 *      of one instant while writers go on. (A database in another journal
 *      mode is copied in one step; writers wait for it up to their busy
 *      timeout.)
 *   2. Every document row of the copy has its file: a committed row's file
 *      is uploads/<id>, or uploads/tmp/<id>.part while its rename is still
 *      to come (complete, see files.h). Files are copied to DEST/uploads as
 *      <id>.tmp, synced, then renamed.
 *   3. A document deleted after the snapshot may have lost its file before
 *      it was copied: its row is deleted from the copy too, as if the
 *      deletion had happened before the snapshot. The summary counts them.
 *   Documents uploaded after the snapshot are not in the copy at all.
 *
 * Restore (SQLite):
 *   1. Stop lexiaid, or start the restored copy on a new data directory.
 *   2. Make a fresh, empty data directory (server.data_dir /
 *      LEXIAID_DATA_DIR), owned by the user lexiaid runs as, mode 0750.
 *   3. Copy DEST/lexiaid.db to DATA_DIR/lexiaid.db (or to the configured
 *      storage sqlite_path) and DEST/uploads to DATA_DIR/uploads, e.g.
 *        cp -a DEST/lexiaid.db DEST/uploads DATA_DIR/
 *      Never copy a lexiaid.db-wal or lexiaid.db-shm of another database
 *      next to it.
 *   4. Start lexiaid on that data directory. The start-up check reports
 *      every document with its file, no orphans and nothing missing.
 *
 * PostgreSQL keeps rows and file bytes in the database: back it up with
 * pg_dump (DOCKER_DEPLOYMENT.md); this command refuses it.
 */
#define _GNU_SOURCE /* O_DIRECTORY, O_NOFOLLOW */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "storage.h"

#define BACKUP_DB "lexiaid.db"
#define BACKUP_DB_TMP "lexiaid.db.tmp"
#define BACKUP_UPLOADS "uploads"
#define BACKUP_PAGES_PER_STEP 256     /* 1 MiB with 4 KiB pages */
#define BACKUP_STEP_PAUSE_NS 2000000L /* between steps, so writers get the disk */
#define BACKUP_MAX_BUSY 15000         /* steps in a row: 30 s of pauses */
#define BACKUP_COPY_BUF (256 * 1024)

typedef struct backup_run {
    storage_state *st;
    const char *dest;
    int dest_fd;
    int up_fd;           /* DEST/uploads */
    char tmp_path[4096]; /* DEST/lexiaid.db.tmp */
    size_t n_docs;       /* documents copied */
    size_t n_vanished;   /* rows dropped: deleted after the snapshot */
    long long bytes;     /* file bytes copied */
} backup_run;

static void backup_pause(long ns)
{
    struct timespec ts = {0, ns};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* DEST: made when absent; otherwise an empty directory. Opens dest_fd. */
static int backup_prepare_dest(backup_run *b, char *err, size_t errlen)
{
    if (mkdir(b->dest, 0750) != 0) {
        if (errno != EEXIST) {
            snprintf(err, errlen, "cannot make %s: %s", b->dest, strerror(errno));
            return LX_EIO;
        }
        DIR *d = opendir(b->dest);
        if (d == NULL) {
            snprintf(err, errlen, "%s exists and is not a directory I can read: %s", b->dest,
                     strerror(errno));
            return LX_EEXIST;
        }
        struct dirent *e;
        int is_empty = 1;
        while ((e = readdir(d)) != NULL)
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                is_empty = 0;
        closedir(d);
        if (!is_empty) {
            snprintf(err, errlen, "%s is not empty: back up into a new or empty directory",
                     b->dest);
            return LX_EEXIST;
        }
    }
    b->dest_fd = open(b->dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (b->dest_fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", b->dest, strerror(errno));
        return LX_EIO;
    }
    if (mkdirat(b->dest_fd, BACKUP_UPLOADS, 0750) != 0) {
        snprintf(err, errlen, "cannot make %s/%s: %s", b->dest, BACKUP_UPLOADS, strerror(errno));
        return LX_EIO;
    }
    b->up_fd = openat(b->dest_fd, BACKUP_UPLOADS, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (b->up_fd < 0) {
        snprintf(err, errlen, "cannot open %s/%s: %s", b->dest, BACKUP_UPLOADS, strerror(errno));
        return LX_EIO;
    }
    int n = snprintf(b->tmp_path, sizeof(b->tmp_path), "%s/%s", b->dest, BACKUP_DB_TMP);
    if (n < 0 || (size_t)n >= sizeof(b->tmp_path)) {
        snprintf(err, errlen, "%s: path too long", b->dest);
        return LX_EINVAL;
    }
    return LX_OK;
}

static int backup_sqlite_err(sqlite3 *db, const char *what, const char *path, char *err,
                             size_t errlen)
{
    snprintf(err, errlen, "%s %s: %s", what, path, db ? sqlite3_errmsg(db) : "out of memory");
    return LX_EIO;
}

/* Step 1: the live database into DEST/lexiaid.db.tmp. */
static int backup_copy_db(backup_run *b, char *err, size_t errlen)
{
    const char *src_path = b->st->sqlite_path;
    sqlite3 *src = NULL, *dst = NULL;
    sqlite3_backup *bk = NULL;
    int rc = LX_EIO, src_in_txn = 0, is_wal = 0;

    if (sqlite3_open_v2(src_path, &src, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        backup_sqlite_err(src, "cannot open", src_path, err, errlen);
        goto out;
    }
    sqlite3_busy_timeout(src, 10000);
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(src, "PRAGMA journal_mode", -1, &q, NULL) != SQLITE_OK) {
        backup_sqlite_err(src, "cannot read", src_path, err, errlen);
        goto out;
    }
    if (sqlite3_step(q) == SQLITE_ROW) {
        const unsigned char *mode = sqlite3_column_text(q, 0);
        is_wal = mode != NULL && strcmp((const char *)mode, "wal") == 0;
    }
    sqlite3_finalize(q);
    if (is_wal) {
        /* One read transaction across every step: one snapshot, and no
         * restart when the service writes meanwhile. */
        if (sqlite3_exec(src, "BEGIN; SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL) !=
            SQLITE_OK) {
            backup_sqlite_err(src, "cannot read", src_path, err, errlen);
            goto out;
        }
        src_in_txn = 1;
    }
    if (sqlite3_open_v2(b->tmp_path, &dst,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        backup_sqlite_err(dst, "cannot create", b->tmp_path, err, errlen);
        goto out;
    }
    bk = sqlite3_backup_init(dst, "main", src, "main");
    if (bk == NULL) {
        backup_sqlite_err(dst, "cannot start the copy into", b->tmp_path, err, errlen);
        goto out;
    }
    for (int n_busy = 0;;) {
        int step = sqlite3_backup_step(bk, is_wal ? BACKUP_PAGES_PER_STEP : -1);
        if (step == SQLITE_DONE)
            break;
        n_busy = step == SQLITE_OK ? 0 : n_busy + 1;
        if ((step != SQLITE_OK && step != SQLITE_BUSY && step != SQLITE_LOCKED) ||
            n_busy > BACKUP_MAX_BUSY) {
            snprintf(err, errlen, "copying %s: %s", src_path, sqlite3_errstr(step));
            goto out;
        }
        backup_pause(BACKUP_STEP_PAUSE_NS);
    }
    int fin = sqlite3_backup_finish(bk);
    bk = NULL;
    if (fin != SQLITE_OK) {
        snprintf(err, errlen, "copying %s: %s", src_path, sqlite3_errstr(fin));
        goto out;
    }
    /* The copy is edited below and then stands alone: no WAL beside it. */
    if (sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL) != SQLITE_OK) {
        backup_sqlite_err(dst, "cannot set the journal mode of", b->tmp_path, err, errlen);
        goto out;
    }
    rc = LX_OK;
out:
    if (bk != NULL)
        sqlite3_backup_finish(bk);
    if (dst != NULL && sqlite3_close(dst) != SQLITE_OK && rc == LX_OK)
        rc = backup_sqlite_err(dst, "cannot close", b->tmp_path, err, errlen);
    if (src_in_txn)
        sqlite3_exec(src, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(src);
    return rc;
}

/* Copies the open file fd (size bytes) into DEST/uploads/<id>. */
static int backup_copy_file(backup_run *b, int fd, const char *id, char *buf, char *err,
                            size_t errlen)
{
    char tmp[STORAGE_ID_LEN + sizeof(".tmp")];
    long long copied = 0;
    int out;

    snprintf(tmp, sizeof(tmp), "%s.tmp", id);
    out = openat(b->up_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (out < 0) {
        snprintf(err, errlen, "cannot create %s/%s/%s: %s", b->dest, BACKUP_UPLOADS, tmp,
                 strerror(errno));
        return LX_EIO;
    }
    for (;;) {
        ssize_t n = read(fd, buf, BACKUP_COPY_BUF);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "cannot read the file of document %s: %s", id, strerror(errno));
            goto fail;
        }
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                snprintf(err, errlen, "cannot write %s/%s/%s: %s", b->dest, BACKUP_UPLOADS, tmp,
                         strerror(errno));
                goto fail;
            }
            off += w;
        }
        copied += n;
    }
    if (fsync(out) != 0) {
        snprintf(err, errlen, "cannot sync %s/%s/%s: %s", b->dest, BACKUP_UPLOADS, tmp,
                 strerror(errno));
        goto fail;
    }
    close(out);
    if (renameat(b->up_fd, tmp, b->up_fd, id) != 0) {
        snprintf(err, errlen, "cannot rename %s/%s/%s: %s", b->dest, BACKUP_UPLOADS, tmp,
                 strerror(errno));
        unlinkat(b->up_fd, tmp, 0);
        return LX_EIO;
    }
    b->bytes += copied;
    return LX_OK;
fail:
    close(out);
    unlinkat(b->up_fd, tmp, 0);
    return LX_EIO;
}

/* Step 2 and 3: the files of the copy's rows; rows whose file is gone are
 * dropped from the copy. */
static int backup_copy_files(backup_run *b, char *err, size_t errlen)
{
    storage_opts opts = {
        .kind = STORAGE_SQLITE,
        .sqlite_path = b->tmp_path,
        .busy_timeout_ms = 5000,
        .max_conns = 1,
    };
    storage_db *db = NULL;
    storage_conn *c = NULL;
    storage_files *files = NULL;
    char **ids = NULL, **uids = NULL, *buf = NULL;
    size_t n = 0;
    int rc;

    if ((rc = storage_files_open(b->st->data_dir, &files, err, errlen)) != LX_OK)
        goto out;
    if ((rc = storage_db_open(&opts, &db, err, errlen)) != LX_OK)
        goto out;
    if ((rc = storage_db_acquire(db, &c, err, errlen)) != LX_OK)
        goto out;
    if ((rc = storage_doc_all_ids(c, &ids, &uids, &n, err, errlen)) != LX_OK)
        goto out;
    if ((buf = malloc(BACKUP_COPY_BUF)) == NULL) {
        snprintf(err, errlen, "out of memory");
        rc = LX_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        int fd;
        int64_t size;
        rc = storage_file_open_committed(files, ids[i], &fd, &size, NULL, err, errlen);
        if (rc == LX_ENOENT) {
            /* deleted after the snapshot: leave it out, as the service did */
            rc = storage_doc_delete(c, uids[i], ids[i], err, errlen);
            if (rc != LX_OK && rc != LX_ENOENT)
                goto out;
            b->n_vanished++;
            continue;
        }
        if (rc != LX_OK)
            goto out;
        rc = backup_copy_file(b, fd, ids[i], buf, err, errlen);
        close(fd);
        if (rc != LX_OK)
            goto out;
        b->n_docs++;
    }
    if (fsync(b->up_fd) != 0) {
        snprintf(err, errlen, "cannot sync %s/%s: %s", b->dest, BACKUP_UPLOADS, strerror(errno));
        rc = LX_EIO;
        goto out;
    }
    rc = LX_OK;
out:
    free(buf);
    storage_strv_free(ids, n);
    storage_strv_free(uids, n);
    if (c != NULL)
        storage_db_release(db, c, rc == LX_EIO);
    storage_db_close(db);
    storage_files_close(files);
    return rc;
}

/* Step 4: DEST/lexiaid.db.tmp, alone and synced, becomes DEST/lexiaid.db. */
static int backup_finish_db(backup_run *b, char *err, size_t errlen)
{
    static const char *const leftovers[] = {BACKUP_DB_TMP "-wal", BACKUP_DB_TMP "-shm",
                                            BACKUP_DB_TMP "-journal"};
    struct stat sb;

    /* The store opened the copy in WAL mode; closing its last connection
     * checkpointed everything into the file. Switch it back and make sure
     * nothing is left beside it. */
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(b->tmp_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL) != SQLITE_OK) {
        int rc = backup_sqlite_err(db, "cannot finish", b->tmp_path, err, errlen);
        sqlite3_close(db);
        return rc;
    }
    if (sqlite3_close(db) != SQLITE_OK)
        return backup_sqlite_err(db, "cannot close", b->tmp_path, err, errlen);
    for (size_t i = 0; i < sizeof(leftovers) / sizeof(leftovers[0]); i++) {
        if (fstatat(b->dest_fd, leftovers[i], &sb, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (sb.st_size > 0 && strstr(leftovers[i], "-shm") == NULL) {
            snprintf(err, errlen, "%s/%s was left behind: the copy is not complete", b->dest,
                     leftovers[i]);
            return LX_EIO;
        }
        unlinkat(b->dest_fd, leftovers[i], 0);
    }
    int fd = openat(b->dest_fd, BACKUP_DB_TMP, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        snprintf(err, errlen, "cannot sync %s: %s", b->tmp_path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return LX_EIO;
    }
    close(fd);
    if (renameat(b->dest_fd, BACKUP_DB_TMP, b->dest_fd, BACKUP_DB) != 0 || fsync(b->dest_fd) != 0) {
        snprintf(err, errlen, "cannot put %s/%s in place: %s", b->dest, BACKUP_DB, strerror(errno));
        return LX_EIO;
    }
    return LX_OK;
}

static double backup_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* `lexiaid backup DEST` (lx_command.run): 0, 1 with err, 2 for usage. */
static int storage_backup_run(void *state, int argc, char **argv, char *err, size_t errlen)
{
    storage_state *st = state;
    backup_run b = {.st = st, .dest_fd = -1, .up_fd = -1};
    double t0 = backup_now();
    int rc;

    if (argc != 2 || argv[1][0] == '\0' || argv[1][0] == '-') {
        snprintf(err, errlen, "expected one argument: the directory to write the backup to");
        return 2;
    }
    if (st == NULL || st->opts.kind == STORAGE_POSTGRES) {
        snprintf(err, errlen,
                 "backup is for SQLite; for PostgreSQL use pg_dump (see "
                 "DOCKER_DEPLOYMENT.md)");
        return 1;
    }
    b.dest = argv[1];
    if ((rc = backup_prepare_dest(&b, err, errlen)) != LX_OK)
        goto out;
    if ((rc = backup_copy_db(&b, err, errlen)) != LX_OK)
        goto fail_partial;
    if ((rc = backup_copy_files(&b, err, errlen)) != LX_OK)
        goto fail_partial;
    if ((rc = backup_finish_db(&b, err, errlen)) != LX_OK)
        goto fail_partial;

    printf("lexiaid backup: %zu documents, %lld bytes, %.2f s -> %s", b.n_docs, b.bytes,
           backup_now() - t0, b.dest);
    if (b.n_vanished > 0)
        printf(" (%zu documents left out: their file was gone, deleted during the backup)",
               b.n_vanished);
    printf("\n");
    fflush(stdout);
    st->host->log(LX_LOG_INFO, STORAGE_SRC, NULL,
                  "backup: %zu documents, %lld bytes into %s (%zu left out: file gone)", b.n_docs,
                  b.bytes, b.dest, b.n_vanished);
    goto out;

fail_partial:
    if (b.dest_fd >= 0)
        unlinkat(b.dest_fd, BACKUP_DB_TMP, 0);
    {
        size_t len = strlen(err);
        snprintf(err + len, errlen - len, " (%s is incomplete: it has no %s)", b.dest, BACKUP_DB);
    }
out:
    if (b.up_fd >= 0)
        close(b.up_fd);
    if (b.dest_fd >= 0)
        close(b.dest_fd);
    return rc == LX_OK ? 0 : 1;
}

const lx_command storage_commands[] = {
    {.name = "backup",
     .usage = "backup DEST  a consistent copy of the SQLite database and its files, while the "
              "service runs",
     .run = storage_backup_run},
    {.name = NULL},
};
