/*
 * A document's assets on SQLite (files.h, "asset_files.c"): files next to
 * the document's own, DATA_DIR/uploads/<id>.<name>. A write goes to
 * uploads/tmp/<id>.<name>.tmp, is fsynced, renamed into place and the
 * directory fsynced, so a reader sees the old asset or the new one, never
 * half of one. The start-up check of files.c removes the assets of
 * documents that are gone (a crash between a deletion's row and its
 * files) and assets left half-written in tmp/, once untouched for its
 * grace period (their mtime: a write in flight is fresh).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lexiaid/plugin.h>
#include <lexiaid/svc/storage_v1.h>

#include "files.h"
#include "store.h"

static const char *const asset_names[] = {
    LX_STORAGE_ASSET_TTS_AUDIO,
    LX_STORAGE_ASSET_TTS_TIMEPOINTS,
    LX_STORAGE_ASSET_TTS_PARAMS,
};
#define ASSET_N (sizeof(asset_names) / sizeof(asset_names[0]))

int storage_asset_name_ok(const char *name)
{
    for (size_t i = 0; name != NULL && i < ASSET_N; i++)
        if (strcmp(name, asset_names[i]) == 0)
            return 1;
    return 0;
}

int storage_asset_file_id(const char *fname, int tmp, char *id_out)
{
    const char *rest = fname + STORAGE_ID_LEN + 1;
    size_t rl;

    if (strlen(fname) <= STORAGE_ID_LEN + 1 || fname[STORAGE_ID_LEN] != '.' ||
        strspn(fname, "0123456789abcdef-") != STORAGE_ID_LEN)
        return 0;
    rl = strlen(rest);
    if (tmp) {
        if (rl < 4 || strcmp(rest + rl - 4, ".tmp") != 0)
            return 0;
        rl -= 4;
    }
    for (size_t i = 0; i < ASSET_N; i++)
        if (strlen(asset_names[i]) == rl && memcmp(rest, asset_names[i], rl) == 0) {
            memcpy(id_out, fname, STORAGE_ID_LEN);
            id_out[STORAGE_ID_LEN] = '\0';
            return 1;
        }
    return 0;
}

/* "<id>.<name>" (and ".tmp" when tmp) into buf; LX_EINVAL for a bad id or
 * name. */
static int asset_file_name(const char *id, const char *name, int tmp, char *buf, size_t cap,
                           char *err, size_t errlen)
{
    size_t n = strlen(id);

    if (n != STORAGE_ID_LEN || strspn(id, "0123456789abcdef-") != n ||
        !storage_asset_name_ok(name)) {
        snprintf(err, errlen, "not a document id and asset name");
        return LX_EINVAL;
    }
    if ((size_t)snprintf(buf, cap, "%s.%s%s", id, name, tmp ? ".tmp" : "") >= cap) {
        snprintf(err, errlen, "asset name too long");
        return LX_EINVAL;
    }
    return LX_OK;
}

static int asset_errno_rc(int e)
{
    return e == ENOSPC || e == EDQUOT ? STORAGE_ENOSPC : LX_EIO;
}

int storage_asset_write(storage_files *f, const char *id, const char *name, const void *data,
                        size_t len, char *err, size_t errlen)
{
    char fname[128], tname[128];
    const char *up;
    int up_fd, tmp_fd, fd, rc;
    size_t off = 0;

    if ((rc = asset_file_name(id, name, 0, fname, sizeof(fname), err, errlen)) != LX_OK ||
        (rc = asset_file_name(id, name, 1, tname, sizeof(tname), err, errlen)) != LX_OK)
        return rc;
    storage_files_dirs(f, &up_fd, &tmp_fd, &up);
    fd = openat(tmp_fd, tname, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s/tmp/%s: %s", up, tname, strerror(errno));
        return asset_errno_rc(errno);
    }
    while (off < len) {
        ssize_t w = write(fd, (const char *)data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            goto fail_io;
        off += (size_t)w;
    }
    if (fsync(fd) != 0)
        goto fail_io;
    close(fd);
    fd = -1;
    if (renameat(tmp_fd, tname, up_fd, fname) != 0 || fsync(up_fd) != 0)
        goto fail_io;
    return LX_OK;

fail_io:
    rc = asset_errno_rc(errno);
    snprintf(err, errlen, "cannot write %s/%s: %s", up, fname, strerror(errno));
    if (fd >= 0)
        close(fd);
    (void)unlinkat(tmp_fd, tname, 0);
    return rc;
}

int storage_asset_read(storage_files *f, const char *id, const char *name, int64_t offset,
                       void *buf, size_t cap, size_t *n, int64_t *size, char *err, size_t errlen)
{
    char fname[128];
    const char *up;
    struct stat sb;
    int up_fd, tmp_fd, fd, rc;
    size_t got = 0;

    *n = 0;
    *size = 0;
    if (offset < 0) {
        snprintf(err, errlen, "negative offset");
        return LX_EINVAL;
    }
    if ((rc = asset_file_name(id, name, 0, fname, sizeof(fname), err, errlen)) != LX_OK)
        return rc;
    storage_files_dirs(f, &up_fd, &tmp_fd, &up);
    fd = openat(up_fd, fname, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT) {
            snprintf(err, errlen, "no such asset");
            return LX_ENOENT;
        }
        snprintf(err, errlen, "cannot open %s/%s: %s", up, fname, strerror(errno));
        return LX_EIO;
    }
    if (fstat(fd, &sb) != 0) {
        snprintf(err, errlen, "cannot stat %s/%s: %s", up, fname, strerror(errno));
        close(fd);
        return LX_EIO;
    }
    *size = (int64_t)sb.st_size;
    while (got < cap && offset + (int64_t)got < *size) {
        ssize_t r = pread(fd, (char *)buf + got, cap - got, (off_t)(offset + (int64_t)got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "cannot read %s/%s: %s", up, fname, strerror(errno));
            close(fd);
            return LX_EIO;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    *n = got;
    return LX_OK;
}

int storage_assets_remove(storage_files *f, const char *id, char *err, size_t errlen)
{
    char fname[128];
    const char *up;
    int up_fd, tmp_fd, rc;

    storage_files_dirs(f, &up_fd, &tmp_fd, &up);
    for (size_t i = 0; i < ASSET_N; i++) {
        if ((rc = asset_file_name(id, asset_names[i], 1, fname, sizeof(fname), err, errlen)) !=
            LX_OK)
            return rc;
        (void)unlinkat(tmp_fd, fname, 0);
        fname[strlen(fname) - 4] = '\0'; /* without ".tmp" */
        if (unlinkat(up_fd, fname, 0) != 0 && errno != ENOENT) {
            snprintf(err, errlen, "cannot remove %s/%s: %s", up, fname, strerror(errno));
            return LX_EIO;
        }
    }
    return LX_OK;
}
