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
 * (acknowledged or about to be), and so does the first read of that
 * document while the server runs (storage_file_open_committed). A locked
 * .part belongs to an upload in flight and is left alone: it is complete
 * once its row is committed, so a read uses it where it is.
 *
 * The disk reserve: uploads/tmp/reserve, a file of a few MiB that holds
 * space back for the one kind of write that frees space, deletions
 * (SQLite needs room in its write-ahead log to delete a row). A deletion
 * that fails for want of space releases it and tries again; the file is
 * made again once there is room to spare.
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

/* The directories, for asset_files.c: uploads/ and uploads/tmp as
 * descriptors (borrowed: f's), and uploads/'s path for messages. */
void storage_files_dirs(storage_files *f, int *up_fd, int *tmp_fd, const char **uploads);

/* ---- asset_files.c: a document's assets (storage.v1 asset_put/asset_get)
 * as files next to its file, uploads/<id>.<name>, written in tmp/ first,
 * fsynced and renamed. `name` must be one of LX_STORAGE_ASSET_* (checked:
 * LX_EINVAL). The caller checks the document's owner. Blocking: pool
 * threads only. */
int storage_asset_name_ok(const char *name);
/* 1 when fname is an asset's file name, "<id>.<asset name>" (with ".tmp"
 * after it when tmp: one being written), with the id into id_out
 * (STORAGE_ID_LEN + 1 bytes); else 0. */
int storage_asset_file_id(const char *fname, int tmp, char *id_out);
int storage_asset_write(storage_files *f, const char *id, const char *name, const void *data,
                        size_t len, char *err, size_t errlen);
/* Up to cap bytes from offset into buf: *n read, *size the file's size.
 * LX_ENOENT when there is none. */
int storage_asset_read(storage_files *f, const char *id, const char *name, int64_t offset,
                       void *buf, size_t cap, size_t *n, int64_t *size, char *err, size_t errlen);
/* Removes every asset of id (absent ones are fine); storage_file_remove
 * calls it. */
int storage_assets_remove(storage_files *f, const char *id, char *err, size_t errlen);

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
/* The file of a document whose row is committed: call it only for ids
 * that have a row (the download, the extraction, the backup). As
 * storage_file_open, but when uploads/<id> is not there yet, its .part
 * (complete: fsynced before the row was committed): rolled forward into
 * place when unlocked (its upload died between the commit and the
 * rename; *is_rolled set, may be NULL), read where it is when locked (the
 * rename is under way). LX_ENOENT when neither exists (the document was
 * deleted, or its file lost). */
int storage_file_open_committed(storage_files *f, const char *id, int *fd, int64_t *size,
                                int *is_rolled, char *err, size_t errlen);
/* Reads the whole committed file (storage_file_open_committed) into a
 * malloc'd buffer (extraction); LX_ETOOBIG over max. */
int storage_file_read_all(storage_files *f, const char *id, size_t max, char **data,
                          size_t *len, char *err, size_t errlen);
/* Removes uploads/<id> and a .part of it; absent is LX_OK. The .part
 * goes first, so that a read rolling it forward meanwhile leaves nothing
 * behind. */
int storage_file_remove(storage_files *f, const char *id, char *err, size_t errlen);

/* Bytes free for us on the file system of the uploads (statvfs's
 * f_bavail), or LX_EIO. */
int storage_files_free_space(storage_files *f, uint64_t *free_bytes, char *err, size_t errlen);
/* Makes the disk reserve of `size` bytes when it is absent and at least
 * twice that is free: LX_OK when it is there afterwards, LX_ETOOBIG when
 * there is no room for it yet, else STORAGE_ENOSPC or LX_EIO. Safe in
 * several processes at once (made under another name, then renamed). */
int storage_files_reserve(storage_files *f, uint64_t size, char *err, size_t errlen);
/* Whether the reserve is there. */
int storage_files_has_reserve(storage_files *f);
/* Removes the reserve to free its space: 1 when this call freed it, 0
 * when there was none. */
int storage_files_release_reserve(storage_files *f);

/* What the start-up check found. */
typedef struct storage_files_report {
    size_t n_rows;          /* document rows looked at */
    size_t n_ok;            /* rows with their file */
    size_t n_rolled_forward;/* .part renamed into place (row existed) */
    size_t n_parts_removed; /* .part without a row removed */
    size_t n_orphans;       /* files without a row (removed when repair) */
    size_t n_missing;       /* rows without a file (marked failed when repair) */
    size_t n_assets_removed;/* asset files of no document, or left half-written */
    char **missing_ids;     /* malloc'd; the caller marks them when repairing */
    size_t n_missing_ids;
} storage_files_report;

/* The start-up check against the ids of every document row (ids[0..n)):
 * rolls forward and removes .part files as described above (always: both
 * are exact), counts orphans and missing files, and with `repair` removes
 * orphans. Asset files (asset_files.c) of no document, and those left
 * half-written in tmp/, are removed always once older than the grace
 * period (by mtime; they are derived data). Returns LX_OK with *rep filled (free with
 * storage_files_report_clear), logging nothing itself. */
int storage_files_check(storage_files *f, char *const *ids, size_t n, int repair,
                        storage_files_report *rep, char *err, size_t errlen);
void storage_files_report_clear(storage_files_report *rep);

#endif
