/*
 * The data directory and its instance lock (datadir.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datadir.h"

/* mkdir -p with mode 0750. 0, or -1 with a message in err. */
static int lx_datadir_mkdirs(const char *dir, char *err, size_t errlen)
{
    char buf[PATH_MAX];
    size_t len = strlen(dir);

    if (len == 0 || len >= sizeof(buf)) {
        snprintf(err, errlen, "data directory path is empty or too long");
        return -1;
    }
    memcpy(buf, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0750) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot make the data directory %s: %s", buf, strerror(errno));
            return -1;
        }
        buf[i] = c;
    }
    return 0;
}

/* The pid written in the lock file, or 0 when it holds none. */
static long lx_datadir_holder(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    char *end = NULL;
    long pid;

    if (n <= 0)
        return 0;
    buf[n] = '\0';
    pid = strtol(buf, &end, 10);
    if (end == buf || (*end != '\n' && *end != '\0') || pid <= 0)
        return 0;
    return pid;
}

int lx_datadir_lock(const char *dir, char *err, size_t errlen)
{
    char path[PATH_MAX], pid[32];
    int fd, n;

    if (lx_datadir_mkdirs(dir, err, errlen) != 0)
        return -1;
    n = snprintf(path, sizeof(path), "%s/%s", dir, LX_DATADIR_LOCK_FILE);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        snprintf(err, errlen, "data directory path %s is too long", dir);
        return -1;
    }
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open the lock file %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        long holder = e == EWOULDBLOCK ? lx_datadir_holder(fd) : 0;
        if (e != EWOULDBLOCK)
            snprintf(err, errlen, "cannot lock %s: %s", path, strerror(e));
        else if (holder > 0 && kill((pid_t)holder, 0) != 0 && errno == ESRCH)
            snprintf(err, errlen,
                     "another lexiaid is using %s: the workers of a master (pid %ld) that has "
                     "gone are still finishing their requests",
                     dir, holder);
        else if (holder > 0)
            snprintf(err, errlen, "another lexiaid (pid %ld) is using %s", holder, dir);
        else
            snprintf(err, errlen, "another lexiaid is using %s", dir);
        close(fd);
        return -1;
    }
    /* Only informative (for the message above): a failure changes nothing. */
    n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)n, 0) != n) {
        /* nothing to do: the lock is what counts */
    }
    return fd;
}

int lx_datadir_is_locked(int fd, const char *dir)
{
    char path[PATH_MAX];
    struct stat a, b;
    int n = snprintf(path, sizeof(path), "%s/%s", dir, LX_DATADIR_LOCK_FILE);

    if (fd < 0 || n < 0 || (size_t)n >= sizeof(path) || fstat(fd, &a) != 0 || stat(path, &b) != 0)
        return 0;
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}
