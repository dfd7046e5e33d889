/*
 * Document files on disk for the SQLite backend (see files.h for the
 * protocol). Every path is opened relative to the two directories held open
 * here (uploads/ and uploads/tmp/), with O_NOFOLLOW and O_CLOEXEC, under
 * names that are the server's UUIDs and nothing else.
 *
 * Locks: an upload in flight holds flock(LOCK_EX) on its .part from before
 * its row can exist until after the rename (or the unlink), so an unlocked
 * .part is a dead one. The start-up check takes the same lock without
 * waiting before it touches a .part; the writer, having locked its fresh
 * file, checks that the name still points at it (the check may have
 * removed an unlocked file in the instant between open and flock) and
 * starts again if not.
 */
#define _GNU_SOURCE /* flock, fdopendir, O_DIRECTORY, O_NOFOLLOW */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <lexiaid/plugin.h>

#include "files.h"
#include "store.h"

#define FILES_DIR_MODE 0750
#define FILES_FILE_MODE 0640
#define FILES_PART ".part"
#define FILES_RESERVE "reserve"          /* in uploads/tmp: the disk reserve */
#define FILES_RESERVE_NEW "reserve.new." /* + pid: being made */
/* The check removes an orphan only when it is older than this: the ids it
 * is given were read before it lists the directory, so a document whose
 * row was committed and renamed in between looks like an orphan. A real
 * orphan (a deletion that crashed between its row and its file) is removed
 * by a later check. */
#define FILES_ORPHAN_GRACE_S 120

struct storage_files {
    char *uploads; /* DATA_DIR/uploads, for messages */
    int up_fd;     /* uploads/ */
    int tmp_fd;    /* uploads/tmp/ */
};

struct storage_file_tx {
    storage_files *f;
    char id[STORAGE_ID_LEN + 1];
    char part[STORAGE_ID_LEN + sizeof(FILES_PART)];
    int fd; /* the .part, locked */
};

/* True for the server's ids: exactly 36 of [0-9a-f-]. */
static int files_is_id(const char *id)
{
    size_t i;

    if (id == NULL)
        return 0;
    for (i = 0; id[i] != '\0'; i++)
        if (i >= STORAGE_ID_LEN ||
            !((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f') || id[i] == '-'))
            return 0;
    return i == STORAGE_ID_LEN;
}

static int files_check_id(const char *id, char *err, size_t errlen)
{
    if (files_is_id(id))
        return LX_OK;
    snprintf(err, errlen, "not a document id");
    return LX_EINVAL;
}

/* "<id>.part" of a valid id into buf (STORAGE_ID_LEN + sizeof(FILES_PART)). */
static void files_part_name(const char *id, char *buf)
{
    memcpy(buf, id, STORAGE_ID_LEN);
    memcpy(buf + STORAGE_ID_LEN, FILES_PART, sizeof(FILES_PART));
}

/* The id of a "<id>.part" name into id_out, or 0 when the name is not one. */
static int files_part_id(const char *name, char *id_out)
{
    size_t len = strlen(name);

    if (len != STORAGE_ID_LEN + sizeof(FILES_PART) - 1 ||
        strcmp(name + STORAGE_ID_LEN, FILES_PART) != 0)
        return 0;
    memcpy(id_out, name, STORAGE_ID_LEN);
    id_out[STORAGE_ID_LEN] = '\0';
    return files_is_id(id_out);
}

static int files_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int files_errno_code(int e)
{
    switch (e) {
    case ENOENT:
        return LX_ENOENT;
    case EEXIST:
        return LX_EEXIST;
    case ENOMEM:
        return LX_ENOMEM;
    case ENOSPC:
    case EDQUOT:
        return STORAGE_ENOSPC;
    default:
        return LX_EIO;
    }
}

/* Opens (making it when absent) the directory `name` under dir_fd (or the
 * path itself when dir_fd is AT_FDCWD). */
static int files_open_dir(int dir_fd, const char *name, const char *shown, int *out, char *err,
                          size_t errlen)
{
    if (mkdirat(dir_fd, name, FILES_DIR_MODE) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot make %s: %s", shown, strerror(errno));
        return LX_EIO;
    }
    int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s%s", shown, strerror(errno),
                 errno == ELOOP || errno == ENOTDIR ? " (not a directory)" : "");
        return LX_EIO;
    }
    if (faccessat(fd, ".", W_OK | X_OK, AT_EACCESS) != 0) {
        snprintf(err, errlen, "%s is not writable: %s", shown, strerror(errno));
        close(fd);
        return LX_EIO;
    }
    *out = fd;
    return LX_OK;
}

int storage_files_open(const char *data_dir, storage_files **out, char *err, size_t errlen)
{
    storage_files *f = NULL;
    char *tmp_shown = NULL;
    int data_fd = -1, rc;

    *out = NULL;
    if (data_dir == NULL || *data_dir == '\0') {
        snprintf(err, errlen, "no data directory");
        return LX_EINVAL;
    }
    f = calloc(1, sizeof(*f));
    if (f == NULL)
        goto fail_nomem;
    f->up_fd = f->tmp_fd = -1;
    size_t dlen = strlen(data_dir);
    f->uploads = malloc(dlen + sizeof("/uploads"));
    tmp_shown = malloc(dlen + sizeof("/uploads/tmp"));
    if (f->uploads == NULL || tmp_shown == NULL)
        goto fail_nomem;
    snprintf(f->uploads, dlen + sizeof("/uploads"), "%s/uploads", data_dir);
    snprintf(tmp_shown, dlen + sizeof("/uploads/tmp"), "%s/uploads/tmp", data_dir);

    /* The data directory itself may be a symlink (a mounted volume). */
    if (mkdir(data_dir, FILES_DIR_MODE) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot make %s: %s", data_dir, strerror(errno));
        rc = LX_EIO;
        goto fail;
    }
    data_fd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (data_fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", data_dir, strerror(errno));
        rc = LX_EIO;
        goto fail;
    }
    if ((rc = files_open_dir(data_fd, "uploads", f->uploads, &f->up_fd, err, errlen)) != LX_OK)
        goto fail;
    if ((rc = files_open_dir(f->up_fd, "tmp", tmp_shown, &f->tmp_fd, err, errlen)) != LX_OK)
        goto fail;
    close(data_fd);
    free(tmp_shown);
    *out = f;
    return LX_OK;

fail_nomem:
    snprintf(err, errlen, "out of memory");
    rc = LX_ENOMEM;
fail:
    if (data_fd >= 0)
        close(data_fd);
    free(tmp_shown);
    storage_files_close(f);
    return rc;
}

void storage_files_close(storage_files *f)
{
    if (f == NULL)
        return;
    if (f->up_fd >= 0)
        close(f->up_fd);
    if (f->tmp_fd >= 0)
        close(f->tmp_fd);
    free(f->uploads);
    free(f);
}

/* True when `name` under dir_fd is the very file open as fd. */
static int files_is_same(int dir_fd, const char *name, int fd)
{
    struct stat a, b;

    if (fstat(fd, &a) != 0 || fstatat(dir_fd, name, &b, AT_SYMLINK_NOFOLLOW) != 0)
        return 0;
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int storage_file_begin(storage_files *f, const char *id, const void *data, size_t len,
                       storage_file_tx **tx, char *err, size_t errlen)
{
    storage_file_tx *t = NULL;
    int rc;

    *tx = NULL;
    if ((rc = files_check_id(id, err, errlen)) != LX_OK)
        return rc;
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return LX_ENOMEM;
    }
    t->f = f;
    t->fd = -1;
    memcpy(t->id, id, STORAGE_ID_LEN + 1);
    files_part_name(id, t->part);

    for (int attempt = 0;; attempt++) {
        t->fd = openat(f->tmp_fd, t->part, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                       FILES_FILE_MODE);
        if (t->fd < 0) {
            rc = files_errno_code(errno);
            snprintf(err, errlen, "cannot create %s/tmp/%s: %s", f->uploads, t->part,
                     strerror(errno));
            goto fail;
        }
        while (flock(t->fd, LOCK_EX) != 0) {
            if (errno != EINTR) {
                rc = LX_EIO;
                snprintf(err, errlen, "cannot lock %s/tmp/%s: %s", f->uploads, t->part,
                         strerror(errno));
                goto fail_unlink;
            }
        }
        if (files_is_same(f->tmp_fd, t->part, t->fd))
            break;
        /* The start-up check of another process removed it before we
         * locked it: it was empty and unlocked. Start again. */
        close(t->fd);
        t->fd = -1;
        if (attempt == 3) {
            rc = LX_EIO;
            snprintf(err, errlen, "%s/tmp/%s keeps disappearing", f->uploads, t->part);
            goto fail;
        }
    }
    if (files_write_all(t->fd, data, len) != 0 || fsync(t->fd) != 0) {
        rc = files_errno_code(errno);
        snprintf(err, errlen, "cannot write %s/tmp/%s: %s", f->uploads, t->part, strerror(errno));
        goto fail_unlink;
    }
    /* The name must survive a crash too: once the row is committed, the
     * start-up check rolls this .part forward. */
    if (fsync(f->tmp_fd) != 0) {
        rc = LX_EIO;
        snprintf(err, errlen, "cannot sync %s/tmp: %s", f->uploads, strerror(errno));
        goto fail_unlink;
    }
    *tx = t;
    return LX_OK;

fail_unlink:
    unlinkat(f->tmp_fd, t->part, 0);
fail:
    if (t->fd >= 0)
        close(t->fd);
    free(t);
    return rc;
}

int storage_file_commit(storage_file_tx *tx, char *err, size_t errlen)
{
    storage_files *f = tx->f;
    int rc = LX_OK;

    if (renameat(f->tmp_fd, tx->part, f->up_fd, tx->id) != 0) {
        /* The row may be committed: leave the .part to the start-up check,
         * which rolls it forward if the row stays, removes it if not. */
        rc = files_errno_code(errno);
        snprintf(err, errlen, "cannot rename %s/tmp/%s into place: %s", f->uploads, tx->part,
                 strerror(errno));
    } else if (fsync(f->up_fd) != 0 || fsync(f->tmp_fd) != 0) {
        rc = LX_EIO;
        snprintf(err, errlen, "cannot sync %s: %s", f->uploads, strerror(errno));
    }
    close(tx->fd); /* unlocks */
    free(tx);
    return rc;
}

void storage_file_abort(storage_file_tx *tx)
{
    if (tx == NULL)
        return;
    /* unlink before unlocking: nobody may take a dead .part for a live one */
    unlinkat(tx->f->tmp_fd, tx->part, 0);
    close(tx->fd);
    free(tx);
}

int storage_file_open(storage_files *f, const char *id, int *fd, int64_t *size, char *err,
                      size_t errlen)
{
    struct stat sb;
    int rc;

    *fd = -1;
    if ((rc = files_check_id(id, err, errlen)) != LX_OK)
        return rc;
    int d = openat(f->up_fd, id, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (d < 0) {
        rc = files_errno_code(errno);
        snprintf(err, errlen, "cannot open %s/%s: %s", f->uploads, id, strerror(errno));
        return rc;
    }
    if (fstat(d, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        snprintf(err, errlen, "%s/%s is not a regular file", f->uploads, id);
        close(d);
        return LX_EIO;
    }
    *fd = d;
    *size = (int64_t)sb.st_size;
    return LX_OK;
}

int storage_file_open_committed(storage_files *f, const char *id, int *fd, int64_t *size,
                                int *is_rolled, char *err, size_t errlen)
{
    char part[STORAGE_ID_LEN + sizeof(FILES_PART)];
    struct stat sb;
    int rc = storage_file_open(f, id, fd, size, err, errlen);

    if (is_rolled != NULL)
        *is_rolled = 0;
    if (rc != LX_ENOENT)
        return rc;
    files_part_name(id, part);
    int d = openat(f->tmp_fd, part, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (d < 0) {
        if (errno != ENOENT) {
            snprintf(err, errlen, "cannot open %s/tmp/%s: %s", f->uploads, part, strerror(errno));
            return LX_EIO;
        }
        /* renamed into place between the two opens, or really gone */
        return storage_file_open(f, id, fd, size, err, errlen);
    }
    if (fstat(d, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        snprintf(err, errlen, "%s/tmp/%s is not a regular file", f->uploads, part);
        close(d);
        return LX_EIO;
    }
    /* Unlocked and still under its name: its upload died after the row
     * was committed. Finish the rename, as the start-up check would. A
     * failure to rename leaves it for the next read or start; the bytes
     * are served from d all the same. */
    if (flock(d, LOCK_EX | LOCK_NB) == 0) {
        if (files_is_same(f->tmp_fd, part, d) && fsync(d) == 0 &&
            renameat(f->tmp_fd, part, f->up_fd, id) == 0) {
            (void)fsync(f->up_fd);
            (void)fsync(f->tmp_fd);
            if (is_rolled != NULL)
                *is_rolled = 1;
        }
        flock(d, LOCK_UN);
    }
    *fd = d;
    *size = (int64_t)sb.st_size;
    return LX_OK;
}

int storage_file_read_all(storage_files *f, const char *id, size_t max, char **data, size_t *len,
                          char *err, size_t errlen)
{
    int fd, rc;
    int64_t size;

    *data = NULL;
    *len = 0;
    if ((rc = storage_file_open_committed(f, id, &fd, &size, NULL, err, errlen)) != LX_OK)
        return rc;
    if ((uint64_t)size > (uint64_t)max) {
        snprintf(err, errlen, "%s/%s is %lld bytes, over %zu", f->uploads, id, (long long)size,
                 max);
        close(fd);
        return LX_ETOOBIG;
    }
    char *buf = malloc((size_t)size + 1);
    if (buf == NULL) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return LX_ENOMEM;
    }
    size_t got = 0;
    while (got < (size_t)size) {
        ssize_t n = read(fd, buf + got, (size_t)size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "cannot read %s/%s: %s", f->uploads, id,
                     n < 0 ? strerror(errno) : "shorter than its size");
            free(buf);
            close(fd);
            return LX_EIO;
        }
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    *data = buf;
    *len = got;
    return LX_OK;
}

void storage_files_dirs(storage_files *f, int *up_fd, int *tmp_fd, const char **uploads)
{
    *up_fd = f->up_fd;
    *tmp_fd = f->tmp_fd;
    *uploads = f->uploads;
}

int storage_file_remove(storage_files *f, const char *id, char *err, size_t errlen)
{
    char part[STORAGE_ID_LEN + sizeof(FILES_PART)];
    int rc;

    if ((rc = files_check_id(id, err, errlen)) != LX_OK)
        return rc;
    files_part_name(id, part);
    if ((rc = storage_assets_remove(f, id, err, errlen)) != LX_OK)
        return rc;
    /* The .part first: a read that rolls it forward (rename) either ran
     * before, and its result goes below, or finds no .part. */
    if (unlinkat(f->tmp_fd, part, 0) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "cannot remove %s/tmp/%s: %s", f->uploads, part, strerror(errno));
        return LX_EIO;
    }
    if (unlinkat(f->up_fd, id, 0) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "cannot remove %s/%s: %s", f->uploads, id, strerror(errno));
        return LX_EIO;
    }
    /* so that a crash cannot bring the file back as an orphan */
    if (fsync(f->up_fd) != 0) {
        snprintf(err, errlen, "cannot sync %s: %s", f->uploads, strerror(errno));
        return LX_EIO;
    }
    return LX_OK;
}

/* ------------------------------------------------------------------------ */
/* Free space and the disk reserve                                          */

int storage_files_free_space(storage_files *f, uint64_t *free_bytes, char *err, size_t errlen)
{
    struct statvfs sv;

    if (fstatvfs(f->up_fd, &sv) != 0) {
        snprintf(err, errlen, "cannot read the free space of %s: %s", f->uploads, strerror(errno));
        return LX_EIO;
    }
    *free_bytes = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
    return LX_OK;
}

int storage_files_has_reserve(storage_files *f)
{
    struct stat sb;

    return fstatat(f->tmp_fd, FILES_RESERVE, &sb, AT_SYMLINK_NOFOLLOW) == 0;
}

int storage_files_reserve(storage_files *f, uint64_t size, char *err, size_t errlen)
{
    char name[sizeof(FILES_RESERVE_NEW) + 24];
    struct stat sb;
    uint64_t avail = 0;
    int fd, e = 0, rc;

    if (size == 0 || (fstatat(f->tmp_fd, FILES_RESERVE, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
                      (uint64_t)sb.st_size >= size))
        return LX_OK;
    if ((rc = storage_files_free_space(f, &avail, err, errlen)) != LX_OK)
        return rc;
    if (avail / 2 < size) {
        snprintf(err, errlen, "%llu bytes free in %s: no room for a reserve of %llu yet",
                 (unsigned long long)avail, f->uploads, (unsigned long long)size);
        return LX_ETOOBIG;
    }
    snprintf(name, sizeof(name), "%s%ld", FILES_RESERVE_NEW, (long)getpid());
    fd = openat(f->tmp_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                FILES_FILE_MODE);
    if (fd < 0) {
        e = errno;
    } else {
        /* real blocks, not a hole: the space must be ours to give back */
        e = posix_fallocate(fd, 0, (off_t)size);
        if (e == 0 && fsync(fd) != 0)
            e = errno;
        close(fd);
        if (e == 0 && renameat(f->tmp_fd, name, f->tmp_fd, FILES_RESERVE) != 0)
            e = errno;
    }
    if (e != 0) {
        unlinkat(f->tmp_fd, name, 0);
        snprintf(err, errlen, "cannot make the disk reserve %s/tmp/%s: %s", f->uploads,
                 FILES_RESERVE, strerror(e));
        return files_errno_code(e);
    }
    (void)fsync(f->tmp_fd);
    return LX_OK;
}

int storage_files_release_reserve(storage_files *f)
{
    return unlinkat(f->tmp_fd, FILES_RESERVE, 0) == 0;
}

/* ------------------------------------------------------------------------ */
/* The start-up check                                                       */

static int files_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Index of id in the sorted ids, or -1. */
static long files_find(char **sorted, size_t n, const char *id)
{
    char **hit = bsearch(&id, sorted, n, sizeof(*sorted), files_cmp_str);
    return hit ? (long)(hit - sorted) : -1;
}

static void files_free_names(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* A directory's entry names, read through a duplicate of dir_fd. */
static int files_list(int dir_fd, char ***names, size_t *n, char *err, size_t errlen,
                      const char *shown)
{
    char **v = NULL;
    size_t len = 0, cap = 0;
    int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *e;

    *names = NULL;
    *n = 0;
    if (d == NULL) {
        snprintf(err, errlen, "cannot list %s: %s", shown, strerror(errno));
        if (fd >= 0)
            close(fd);
        return LX_EIO;
    }
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            char **nv = realloc(v, ncap * sizeof(*v));
            if (nv == NULL)
                goto fail_nomem;
            v = nv;
            cap = ncap;
        }
        if ((v[len] = strdup(e->d_name)) == NULL)
            goto fail_nomem;
        len++;
        errno = 0;
    }
    if (errno != 0) {
        snprintf(err, errlen, "cannot list %s: %s", shown, strerror(errno));
        closedir(d);
        files_free_names(v, len);
        return LX_EIO;
    }
    closedir(d);
    *names = v;
    *n = len;
    return LX_OK;

fail_nomem:
    closedir(d);
    files_free_names(v, len);
    snprintf(err, errlen, "out of memory");
    return LX_ENOMEM;
}

/* One .part of the tmp directory. *changed when it renamed or removed;
 * *in_flight when another process holds it (an upload in flight). */
static int files_check_part(storage_files *f, const char *name, const char *id, int has_row,
                            storage_files_report *rep, int *changed, int *in_flight, char *err,
                            size_t errlen)
{
    struct stat sb;
    int rc = LX_OK;
    int fd = openat(f->tmp_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

    *in_flight = 0;
    if (fd < 0)
        return LX_OK; /* gone meanwhile (committed or aborted), or not a file */
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
        goto out; /* not ours: leave it */
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        *in_flight = 1;
        goto out;
    }
    if (!files_is_same(f->tmp_fd, name, fd))
        goto out; /* renamed or removed meanwhile by its owner */
    if (!has_row) {
        /* written, never acknowledged */
        if (unlinkat(f->tmp_fd, name, 0) == 0) {
            rep->n_parts_removed++;
            *changed = 1;
        }
        goto out;
    }
    if (fstatat(f->up_fd, id, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
        /* the rename happened but the old name survived a crash */
        if (unlinkat(f->tmp_fd, name, 0) == 0) {
            rep->n_parts_removed++;
            *changed = 1;
        }
        goto out;
    }
    /* the row was committed, the rename was not done: finish it */
    if (fsync(fd) != 0 || renameat(f->tmp_fd, name, f->up_fd, id) != 0) {
        snprintf(err, errlen, "cannot roll %s/tmp/%s forward: %s", f->uploads, name,
                 strerror(errno));
        rc = LX_EIO;
        goto out;
    }
    rep->n_rolled_forward++;
    *changed = 1;
out:
    close(fd);
    return rc;
}

/* Whether names under dir_fd was last changed more than the grace period
 * ago (a reserve being made right now is recent). */
static int files_is_stale(int dir_fd, const char *name, time_t now)
{
    struct stat sb;

    return fstatat(dir_fd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
           sb.st_mtime + FILES_ORPHAN_GRACE_S < now;
}

int storage_files_check(storage_files *f, char *const *ids, size_t n, int repair,
                        storage_files_report *rep, char *err, size_t errlen)
{
    char **sorted = NULL, **names = NULL;
    size_t n_names = 0;
    unsigned char *has_file = NULL; /* per sorted id: file there or on its way */
    char id[STORAGE_ID_LEN + 1];
    int changed = 0, rc;
    time_t now = time(NULL);

    memset(rep, 0, sizeof(*rep));
    rep->n_rows = n;
    sorted = malloc((n ? n : 1) * sizeof(*sorted));
    has_file = calloc(n ? n : 1, 1);
    if (sorted == NULL || has_file == NULL) {
        snprintf(err, errlen, "out of memory");
        rc = LX_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < n; i++)
        sorted[i] = ids[i];
    qsort(sorted, n, sizeof(*sorted), files_cmp_str);

    /* 1. The .part files: roll forward (row) or remove (no row). */
    char shown[4096];
    snprintf(shown, sizeof(shown), "%s/tmp", f->uploads);
    if ((rc = files_list(f->tmp_fd, &names, &n_names, err, errlen, shown)) != LX_OK)
        goto fail;
    for (size_t i = 0; i < n_names; i++) {
        /* a reserve being made when its process died */
        if (strncmp(names[i], FILES_RESERVE_NEW, sizeof(FILES_RESERVE_NEW) - 1) == 0 &&
            files_is_stale(f->tmp_fd, names[i], now))
            (void)unlinkat(f->tmp_fd, names[i], 0);
        /* an asset left half-written by a crash */
        if (storage_asset_file_id(names[i], 1, id)) {
            if (files_is_stale(f->tmp_fd, names[i], now) && unlinkat(f->tmp_fd, names[i], 0) == 0) {
                rep->n_assets_removed++;
                changed = 1;
            }
            continue;
        }
        if (!files_part_id(names[i], id))
            continue;
        long k = files_find(sorted, n, id);
        int in_flight = 0;
        rc = files_check_part(f, names[i], id, k >= 0, rep, &changed, &in_flight, err, errlen);
        if (rc != LX_OK)
            goto fail;
        if (in_flight && k >= 0)
            has_file[k] = 1;
    }
    files_free_names(names, n_names);
    names = NULL;
    n_names = 0;
    if (changed && (fsync(f->up_fd) != 0 || fsync(f->tmp_fd) != 0)) {
        snprintf(err, errlen, "cannot sync %s: %s", f->uploads, strerror(errno));
        rc = LX_EIO;
        goto fail;
    }

    /* 2. The files: each with its row, or an orphan. */
    if ((rc = files_list(f->up_fd, &names, &n_names, err, errlen, f->uploads)) != LX_OK)
        goto fail;
    changed = 0;
    for (size_t i = 0; i < n_names; i++) {
        struct stat sb;
        /* the assets of a document that is gone: derived, so removed
         * without `repair` once untouched for the grace period */
        if (storage_asset_file_id(names[i], 0, id)) {
            if (files_find(sorted, n, id) < 0 && files_is_stale(f->up_fd, names[i], now) &&
                unlinkat(f->up_fd, names[i], 0) == 0) {
                rep->n_assets_removed++;
                changed = 1;
            }
            continue;
        }
        if (!files_is_id(names[i]) || fstatat(f->up_fd, names[i], &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(sb.st_mode))
            continue; /* tmp/, and anything that is not ours */
        long k = files_find(sorted, n, names[i]);
        if (k >= 0) {
            has_file[k] = 1;
            continue;
        }
        rep->n_orphans++;
        if (repair && sb.st_ctime + FILES_ORPHAN_GRACE_S < now &&
            unlinkat(f->up_fd, names[i], 0) == 0)
            changed = 1;
    }
    files_free_names(names, n_names);
    names = NULL;
    n_names = 0;
    if (changed && fsync(f->up_fd) != 0) {
        snprintf(err, errlen, "cannot sync %s: %s", f->uploads, strerror(errno));
        rc = LX_EIO;
        goto fail;
    }

    /* 3. Rows without a file. */
    for (size_t k = 0; k < n; k++) {
        if (has_file[k]) {
            rep->n_ok++;
            continue;
        }
        rep->n_missing++;
        char **v = realloc(rep->missing_ids, (rep->n_missing_ids + 1) * sizeof(*v));
        if (v == NULL || (v[rep->n_missing_ids] = strdup(sorted[k])) == NULL) {
            if (v != NULL)
                rep->missing_ids = v;
            snprintf(err, errlen, "out of memory");
            rc = LX_ENOMEM;
            goto fail;
        }
        rep->missing_ids = v;
        rep->n_missing_ids++;
    }
    free(sorted);
    free(has_file);
    return LX_OK;

fail:
    files_free_names(names, n_names);
    free(sorted);
    free(has_file);
    storage_files_report_clear(rep);
    return rc;
}

void storage_files_report_clear(storage_files_report *rep)
{
    if (rep == NULL)
        return;
    for (size_t i = 0; i < rep->n_missing_ids; i++)
        free(rep->missing_ids[i]);
    free(rep->missing_ids);
    memset(rep, 0, sizeof(*rep));
}
