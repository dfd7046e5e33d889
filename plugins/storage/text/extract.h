/*
 * Text out of an uploaded file, in a child process.
 *
 * Parsers of untrusted files (poppler, libxml2, Tesseract and its image
 * readers) never run inside a worker: a crafted PDF that crashes or loops
 * costs one short-lived child, not a worker and its requests. The child is
 * `lexiaid-extract` (plugins/storage/extract/lexiaid-extract.c), started
 * with posix_spawn from an offload-pool thread; it reads the file's bytes
 * on stdin and writes the text on stdout.
 *
 * The child's protocol (also documented in lexiaid-extract.c):
 *   lexiaid-extract [--max-mem BYTES] [--max-cpu SECONDS] TYPE
 *     TYPE is pdf, docx, txt, md, png or jpg. stdin: the file. On success,
 *     exit 0 and stdout is one header line "LXEXTRACT 1 pages=N\n" and then
 *     the UTF-8 text. On failure, a non-zero exit and one line on stderr
 *     saying why, for a person ("the PDF is encrypted", "not a DOCX file").
 *     It applies its own rlimits first (address space, CPU, no core files,
 *     no new files), before reading anything.
 */
#ifndef STORAGE_EXTRACT_H
#define STORAGE_EXTRACT_H

#include <stddef.h>
#include <stdint.h>

/* max_output when storage_extract_opts.max_output is 0. */
#define STORAGE_EXTRACT_MAX_OUTPUT ((size_t)64 << 20)

typedef struct storage_extract_opts {
    const char *program;   /* path of lexiaid-extract */
    long timeout_ms;       /* wall clock; the child is killed after it */
    size_t max_mem;        /* the child's RLIMIT_AS, bytes */
    size_t max_output;     /* text larger than this fails (LX_ETOOBIG) */
} storage_extract_opts;

typedef struct storage_extract_result {
    char *text;            /* malloc'd UTF-8, NUL-terminated; "" when empty */
    size_t len;
    int64_t pages;
} storage_extract_result;

/* BLOCKS (offload pool only). Runs the child on data[0..len) of
 * `file_type`, feeding stdin and draining stdout and stderr together (no
 * pipe deadlock), killing it at the deadline. LX_OK with *res filled (free
 * res->text); otherwise res is empty and err says why for the document's
 * error field: LX_ETIMEDOUT ("text extraction took longer than 120 s"),
 * LX_ETOOBIG, LX_EIO (could not start the child) or LX_ERROR (the child's
 * own message, such as "ran out of memory at 1 GiB", or "the extractor
 * crashed (signal 11)"). Thread-safe.
 * Also LX_EINVAL (bad arguments) and LX_ENOMEM. timeout_ms <= 0 means
 * 120 s and max_output 0 means 64 MiB; max_mem 0 leaves the child's own
 * default (1 GiB). The child runs with OMP_THREAD_LIMIT=1 added to the
 * environment, no signal blocked or ignored, and only fds 0-2 open. */
int storage_extract(const storage_extract_opts *o, const char *file_type, const void *data,
                    size_t len, storage_extract_result *res, char *err, size_t errlen);

/* storage_extract that can be called off: once cancel_fd (a descriptor the
 * caller owns, e.g. a pipe's read end; -1 for none) is readable, the child
 * is killed and reaped and the call returns LX_ECANCELED ("text extraction
 * was cancelled"). The runner only polls cancel_fd, never reads it, so one
 * write cancels every extraction watching it. */
int storage_extract_cancellable(const storage_extract_opts *o, int cancel_fd,
                                const char *file_type, const void *data, size_t len,
                                storage_extract_result *res, char *err, size_t errlen);

#endif
