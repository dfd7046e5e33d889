/*
 * The data directory (server.data_dir) and its instance lock: one lexiaid
 * server per data directory.
 *
 * The master takes an exclusive flock(2) on DATA_DIR/lexiaid.lock before
 * anything touches the directory (before the listening socket and every
 * plugin's init), and writes its pid into the file. A second server on the
 * same directory finds the lock taken and refuses to start, naming the
 * first one's pid. The lock belongs to the open file: the workers inherit
 * it through fork() and keep it, so it lasts until the last process of the
 * instance has gone (workers draining after their master died still hold
 * it); the descriptor is close-on-exec, so helper programs (the text
 * extractor) never do. The file is left in place at exit: the lock, not the
 * file, says whether a server runs.
 *
 * Not locked: `lexiaid -t` (touches nothing), and plugin commands such as
 * `lexiaid backup`, which run beside a live server by design.
 */
#ifndef LX_CORE_DATADIR_H
#define LX_CORE_DATADIR_H

#include <stddef.h>

#define LX_DATADIR_LOCK_FILE "lexiaid.lock"

/* Makes dir (and its parents, mode 0750) when absent, opens
 * dir/lexiaid.lock (created mode 0640, never through a symlink) and takes
 * the exclusive lock without waiting; then writes our pid into it. Returns
 * the descriptor (>= 0, the caller's: closing the last copy of it in the
 * instance releases the lock), or -1 with a message in err: "another
 * lexiaid (pid N) is using DIR", or why the directory or the file could
 * not be made. Blocks (file system): master only. */
int lx_datadir_lock(const char *dir, char *err, size_t errlen);

/* 1 when fd (from lx_datadir_lock) is the lock file of dir (the same file,
 * whatever path names it), else 0 (also when dir has no lock file). */
int lx_datadir_is_locked(int fd, const char *dir);

#endif
