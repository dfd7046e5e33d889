/*
 * Document files on disk, for the SQLite backend: DATA_DIR/uploads/<id>,
 * names chosen by the server (the document's UUID), never the client's.
 *
 * Crash safety, with the database row as the commit point:
 *   1. storage_file_begin writes uploads/tmp/<id>.part, fsyncs it, and
 *      keeps it locked (flock) while the upload is in flight;
 *   2. the caller commits the document row (store.h);
 *   3. storage_file_commit renames .part to uploads/<id> and fsyncs the
 *      directory; storage_file_abort removes the .part instead (row failed).
 * A crash between 1 and 2 leaves an unlocked .part with no row: the
 * start-up check removes it (never acknowledged). A crash between 2 and 3
 * leaves a row and an unlocked .part: the check finishes the rename
 * (acknowledged or about to be). A locked .part belongs to an upload in
 * flight in another process and is left alone.
 *
 * All functions BLOCK (offload pool or master) and are thread-safe.
 */
#ifndef STORAGE_FILES_H
#define STORAGE_FILES_H

#include <stddef.h>
#include <stdint.h>

typedef struct storage_files storage_files;
typedef struct storage_file_tx storage_file_tx; /* one upload in flight */

/* Makes DATA_DIR/uploads and uploads/tmp (mode 0750) when absent and checks
 * that they are writable. `dir` is copied. */
int storage_files_open(const char *data_dir, storage_files **out, char *err, size_t errlen);
void storage_files_close(storage_files *f);

/* Step 1: writes and fsyncs the .part of `id`; *tx holds the locked fd. */
int storage_file_begin(storage_files *f, const char *id, const void *data, size_t len,
                       storage_file_tx **tx, char *err, size_t errlen);
/* Step 3: renames into place, fsyncs the directory, unlocks, frees tx. */
int storage_file_commit(storage_file_tx *tx, char *err, size_t errlen);
/* Or: removes the .part, unlocks, frees tx. */
void storage_file_abort(storage_file_tx *tx);

/* Opens uploads/<id> for reading: an fd (close it) and its size. LX_ENOENT
 * when missing. */
int storage_file_open(storage_files *f, const char *id, int *fd, int64_t *size, char *err,
                      size_t errlen);
/* For the backup (backup.c): as storage_file_open, but when uploads/<id> is
 * not there yet, the .part of an upload whose row is committed and whose
 * rename is still to come (complete: it was fsynced before the row was
 * committed). LX_ENOENT when neither exists (the document was deleted).
 * Call it only for ids that have a row. */
int storage_file_open_committed(storage_files *f, const char *id, int *fd, int64_t *size,
                                char *err, size_t errlen);
/* Reads the whole file into a malloc'd buffer (extraction); LX_ETOOBIG over
 * max. */
int storage_file_read_all(storage_files *f, const char *id, size_t max, char **data,
                          size_t *len, char *err, size_t errlen);
/* Removes uploads/<id> (and a stray .part); absent is LX_OK. */
int storage_file_remove(storage_files *f, const char *id, char *err, size_t errlen);

/* What the start-up check found. */
typedef struct storage_files_report {
    size_t n_rows;          /* document rows looked at */
    size_t n_ok;            /* rows with their file */
    size_t n_rolled_forward;/* .part renamed into place (row existed) */
    size_t n_parts_removed; /* .part without a row removed */
    size_t n_orphans;       /* files without a row (removed when repair) */
    size_t n_missing;       /* rows without a file (marked failed when repair) */
    char **missing_ids;     /* malloc'd; the caller marks them when repairing */
    size_t n_missing_ids;
} storage_files_report;

/* The start-up check against the ids of every document row (ids[0..n)):
 * rolls forward and removes .part files as described above (always: both
 * are exact), counts orphans and missing files, and with `repair` removes
 * orphans. Returns LX_OK with *rep filled (free with
 * storage_files_report_clear), logging nothing itself. */
int storage_files_check(storage_files *f, char *const *ids, size_t n, int repair,
                        storage_files_report *rep, char *err, size_t errlen);
void storage_files_report_clear(storage_files_report *rep);

#endif
