/*
 * lexiaid-extract: the text of one uploaded file, in a process of its own.
 *
 * The parsers of untrusted files (poppler, libzip and libxml2, leptonica
 * and Tesseract) run here and never inside a server worker: a file that
 * crashes or loops one of them costs this short-lived process only.
 *
 * Protocol (see also plugins/storage/extract.h, whose runner starts us):
 *
 *   lexiaid-extract [--max-mem BYTES] [--max-cpu SECONDS] TYPE
 *
 *   TYPE is txt, md, pdf, docx, png or jpg; stdin is the file (at most
 *   64 MiB). Before reading anything the program limits itself: address
 *   space (--max-mem, default 1 GiB), CPU time (--max-cpu, default 120 s),
 *   no core files, no file writes, few descriptors.
 *
 *   Success: exit 0; stdout is the header line "LXEXTRACT 1 pages=N\n"
 *   followed by the UTF-8 text (possibly empty).
 *   Failure: nothing on stdout, one line on stderr for a person, and
 *     exit 1  the input is bad (not valid UTF-8, a broken or encrypted PDF,
 *             not a DOCX, an unreadable image, too large),
 *     exit 2  usage error,
 *     exit 3  internal failure (OCR language data missing; out of memory:
 *             "ran out of memory at 1 GiB", also when a library aborts or
 *             crashes after an allocation failed).
 *
 * The libraries' own chatter never reaches our stdout or stderr: both are
 * pointed at /dev/null while they run, and our answer goes out after.
 *
 * Environment: TESSDATA_PREFIX overrides where Tesseract finds eng data.
 * Tesseract uses OpenMP; the runner sets OMP_THREAD_LIMIT=1 for us
 * (libgomp reads it before main), so that parallel extractions do not
 * each spin up a thread per core.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* mallopt */
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <libxml/xmlreader.h>
#include <poppler.h>
#include <zip.h>

#include "text/plain.h"
#if STORAGE_HAVE_OCR /* configure --disable-ocr leaves out Tesseract and leptonica */
#include <leptonica/allheaders.h>
#include <tesseract/capi.h>
#endif

#define EX_BAD_INPUT 1
#define EX_USAGE 2
#define EX_INTERNAL 3

#define MAX_FILE_BYTES STORAGE_PLAIN_MAX_FILE /* bytes read from stdin */
#define MAX_XML_BYTES ((size_t)64 << 20)      /* word/document.xml, uncompressed */
#define MAX_IMAGE_PIXELS ((int64_t)100000000) /* refuse larger images unread */
#define DEFAULT_MAX_MEM ((unsigned long long)1 << 30)
#define DEFAULT_MAX_CPU 120ULL
#define MAX_FILES 32 /* RLIMIT_NOFILE: tessdata, libgomp, /dev/null, pipes */
#define MAX_TABLE_DEPTH 32

/* Address and thread sanitizers reserve terabytes of shadow address space
 * and bring their own malloc: under them the program runs without the
 * address-space limit and without its malloc wrappers. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define LX_UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                         \
    __has_feature(memory_sanitizer)
#define LX_UNDER_SANITIZER 1
#endif
#endif

static const char *usage_line =
    "usage: lexiaid-extract [--max-mem BYTES] [--max-cpu SECONDS] pdf|docx|txt|md|png|jpg";

/* ---------------------------------------------------------------- output */

/* Where our answer goes: the real stdout and stderr, saved before the
 * descriptors 1 and 2 are pointed at /dev/null. */
static int out_fd = STDOUT_FILENO;
static int err_fd = -1; /* the saved stderr while it is silenced */

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

/* Makes room for n more bytes (and a NUL); 0 or -1 (out of memory). */
static int buf_reserve(buf *b, size_t n)
{
    size_t want, cap;
    char *p;

    if (n > SIZE_MAX - b->len - 1)
        return -1;
    want = b->len + n + 1;
    if (want <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 4096;
    while (cap < want)
        cap = cap > SIZE_MAX / 2 ? want : cap * 2;
    p = realloc(b->p, cap);
    if (p == NULL)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static int buf_add(buf *b, const char *s, size_t n)
{
    if (buf_reserve(b, n) != 0)
        return -1;
    if (n > 0)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

static int buf_adds(buf *b, const char *s)
{
    return buf_add(b, s, strlen(s));
}

/* Drops trailing spaces, tabs and newlines. */
static void buf_rtrim(buf *b)
{
    while (b->len > 0 && (b->p[b->len - 1] == '\n' || b->p[b->len - 1] == ' ' ||
                          b->p[b->len - 1] == '\t' || b->p[b->len - 1] == '\r'))
        b->len--;
    if (b->p != NULL)
        b->p[b->len] = '\0';
}

static int write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Gives stderr back (so that a sanitizer's report at exit is seen). */
static void stderr_restore(void)
{
    if (err_fd >= 0) {
        dup2(err_fd, STDERR_FILENO);
        close(err_fd);
        err_fd = -1;
    }
}

/* The reason of a failure, for a person: one line. */
static char why[512];

/* An allocation failed (see "memory" below), and what to say then. */
static volatile sig_atomic_t ran_out_of_memory;
static char oom_why[96] = "ran out of memory";

/* Sets why and returns code: `return fail(EX_BAD_INPUT, "...")`. */
static int fail(int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    /* one line: the message may quote a library's text */
    for (char *p = why; *p != '\0'; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    return code;
}

/* Our one line on stderr; returns code (for exit). A failure after an
 * allocation failed is the memory limit's. */
static int say_why(int code)
{
    size_t n;

    if (ran_out_of_memory && code != EX_USAGE) {
        snprintf(why, sizeof(why), "%s", oom_why);
        code = EX_INTERNAL;
    }
    n = strlen(why);

    stderr_restore();
    if (n == 0)
        n = (size_t)snprintf(why, sizeof(why), "text extraction failed");
    why[n] = '\n';
    (void)write_all(STDERR_FILENO, why, n + 1);
    return code;
}

/* The answer: header and text on the saved stdout. Returns the exit code. */
static int answer(long long pages, const char *text, size_t len)
{
    char head[64];
    int n = snprintf(head, sizeof(head), "LXEXTRACT 1 pages=%lld\n", pages);
    int rc = 0;

    if (write_all(out_fd, head, (size_t)n) != 0 || write_all(out_fd, text, len) != 0)
        rc = fail(EX_INTERNAL, "could not write the text: %s", strerror(errno));
    close(out_fd);
    out_fd = -1;
    if (rc != 0)
        return say_why(rc);
    stderr_restore();
    return 0;
}

/* ---------------------------------------------------------------- memory */

/* The address-space limit makes allocations fail, and the libraries react
 * in their own ways: leptonica returns an error, glib's g_malloc and
 * poppler's gmalloc abort(), C++'s operator new throws and an uncaught
 * bad_alloc ends in abort(), and some code dereferences the NULL. Each
 * way, the answer must be that the file needed more memory than allowed,
 * not "crashed (signal 6)". So malloc and its kin are wrapped around
 * glibc's own (an executable's definitions take precedence over the
 * libraries' calls: ELF interposition), and a failure is noted; a failure
 * path (say_why) and the SIGABRT, SIGSEGV and SIGBUS handler then answer
 * oom_why. Not under the sanitizers (their own allocator, no limit). */

#ifndef LX_UNDER_SANITIZER
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void __libc_free(void *p);

static void *noted(void *p, size_t n)
{
    if (p == NULL && n != 0)
        ran_out_of_memory = 1;
    return p;
}

void *malloc(size_t n)
{
    return noted(__libc_malloc(n), n);
}

void *calloc(size_t n, size_t size)
{
    return noted(__libc_calloc(n, size), n * size);
}

void *realloc(void *p, size_t n)
{
    return noted(__libc_realloc(p, n), n);
}

void free(void *p)
{
    __libc_free(p);
}

void *memalign(size_t align, size_t n)
{
    return noted(__libc_memalign(align, n), n);
}

void *aligned_alloc(size_t align, size_t n)
{
    return noted(__libc_memalign(align, n), n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    void *p;

    if (align < sizeof(void *) || (align & (align - 1)) != 0)
        return EINVAL;
    p = noted(__libc_memalign(align, n), n);
    if (p == NULL && n != 0)
        return ENOMEM;
    *out = p;
    return 0;
}
#endif

/* "ran out of memory at 1 GiB" for a limit of max_mem bytes. */
static void oom_why_set(unsigned long long max_mem)
{
    if (max_mem % (1ULL << 30) == 0)
        snprintf(oom_why, sizeof(oom_why), "ran out of memory at %llu GiB", max_mem >> 30);
    else if (max_mem % (1ULL << 20) == 0)
        snprintf(oom_why, sizeof(oom_why), "ran out of memory at %llu MiB", max_mem >> 20);
    else
        snprintf(oom_why, sizeof(oom_why), "ran out of memory at %llu bytes", max_mem);
}

/* A library aborted or crashed: after a failed allocation, that is the
 * memory limit (answer and exit 3); else the signal goes on as it came. */
static void on_fatal_signal(int sig)
{
    if (ran_out_of_memory) {
        int fd = err_fd >= 0 ? err_fd : STDERR_FILENO;
        size_t n = strlen(oom_why);

        oom_why[n] = '\n';
        (void)write(fd, oom_why, n + 1);
        _exit(EX_INTERNAL);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

/* The handlers of on_fatal_signal, on a stack of their own (the limit may
 * have been met growing the stack). */
static void catch_fatal_signals(void)
{
    static char alt[64 * 1024];
    stack_t ss = {.ss_sp = alt, .ss_size = sizeof(alt), .ss_flags = 0};
    struct sigaction sa;
    const int sigs[] = {SIGABRT, SIGSEGV, SIGBUS};

    (void)sigaltstack(&ss, NULL);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_fatal_signal;
    sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, NULL);
}

/* ---------------------------------------------------------------- setup */

static int parse_ull(const char *s, unsigned long long *out)
{
    char *end;
    unsigned long long v;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

static int set_limit(int resource, rlim_t soft, rlim_t hard)
{
    struct rlimit rl = {soft, hard};
    struct rlimit cur;

    /* never try to raise a hard limit we were given */
    if (getrlimit(resource, &cur) == 0 && cur.rlim_max != RLIM_INFINITY) {
        if (rl.rlim_max > cur.rlim_max)
            rl.rlim_max = cur.rlim_max;
        if (rl.rlim_cur > rl.rlim_max)
            rl.rlim_cur = rl.rlim_max;
    }
    if (setrlimit(resource, &rl) != 0)
        return fail(EX_INTERNAL, "could not set a resource limit: %s", strerror(errno));
    return 0;
}

static int limit_self(unsigned long long max_mem, unsigned long long max_cpu)
{
    int rc = 0;

#ifndef LX_UNDER_SANITIZER
    rc = set_limit(RLIMIT_AS, (rlim_t)max_mem, (rlim_t)max_mem);
#else
    /* AddressSanitizer and ThreadSanitizer reserve terabytes of shadow
     * address space: a sanitizer build can only do without the
     * address-space limit. */
    (void)max_mem;
#endif
    /* SIGXCPU at the soft limit, SIGKILL a second later */
    if (rc == 0)
        rc = set_limit(RLIMIT_CPU, (rlim_t)max_cpu, (rlim_t)max_cpu + 1);
    if (rc == 0)
        rc = set_limit(RLIMIT_CORE, 0, 0);
    /* no file writes: a write fails (EFBIG) rather than raising SIGXFSZ */
    signal(SIGXFSZ, SIG_IGN);
    if (rc == 0)
        rc = set_limit(RLIMIT_FSIZE, 0, 0);
    if (rc == 0)
        rc = set_limit(RLIMIT_NOFILE, MAX_FILES, MAX_FILES);
    /* few malloc arenas: the address-space limit counts every arena */
    mallopt(M_ARENA_MAX, 2);
    return rc;
}

/* Points 1 and 2 at /dev/null, keeping the real ones for our answer. */
static int silence_libraries(void)
{
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);

    if (devnull < 0)
        return fail(EX_INTERNAL, "cannot open /dev/null: %s", strerror(errno));
    out_fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    err_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    if (out_fd < 0 || err_fd < 0 || dup2(devnull, STDOUT_FILENO) < 0 ||
        dup2(devnull, STDERR_FILENO) < 0) {
        int e = errno;

        close(devnull);
        return fail(EX_INTERNAL, "cannot redirect stdout or stderr: %s", strerror(e));
    }
    close(devnull);
    return 0;
}

/* All of stdin, at most MAX_FILE_BYTES bytes. */
static int read_input(buf *in)
{
    for (;;) {
        ssize_t n;

        if (buf_reserve(in, 65536) != 0)
            return fail(EX_INTERNAL, "out of memory");
        n = read(STDIN_FILENO, in->p + in->len, 65536);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail(EX_INTERNAL, "cannot read the file: %s", strerror(errno));
        if (n == 0)
            break;
        in->len += (size_t)n;
        if (in->len > MAX_FILE_BYTES)
            return fail(EX_BAD_INPUT, "the file is larger than %zu MiB", MAX_FILE_BYTES >> 20);
    }
    in->p[in->len] = '\0';
    return 0;
}

/* Ends a non-empty text with one newline. */
static int end_text(buf *out)
{
    buf_rtrim(out);
    if (out->len > 0 && buf_adds(out, "\n") != 0)
        return fail(EX_INTERNAL, "out of memory");
    return 0;
}

/* ---------------------------------------------------------------- txt, md */

/* The plugin reads these itself with the same decoder (text/plain.h):
 * this path serves `lexiaid-extract txt|md` run by hand or by an older
 * plugin, and the tests that compare the two. */
static int extract_text(const buf *in, buf *out, long long *pages)
{
    size_t start;
    const char *reason;

    if (storage_plain_decode(in->p, in->len, &start, &reason) != 0)
        return fail(EX_BAD_INPUT, "%s", reason);
    *pages = 1;
    if (buf_add(out, in->p + start, in->len - start) != 0)
        return fail(EX_INTERNAL, "out of memory");
    return 0;
}

/* ---------------------------------------------------------------- pdf */

static int extract_pdf(const buf *in, buf *out, long long *pages)
{
    GBytes *bytes = g_bytes_new_static(in->p, in->len);
    GError *gerr = NULL;
    PopplerDocument *doc = poppler_document_new_from_bytes(bytes, NULL, &gerr);
    int n_pages, rc = 0;

    if (doc == NULL) {
        if (gerr != NULL && gerr->domain == POPPLER_ERROR && gerr->code == POPPLER_ERROR_ENCRYPTED)
            rc = fail(EX_BAD_INPUT, "the PDF is password-protected");
        else
            rc = fail(EX_BAD_INPUT, "the PDF could not be read: %s",
                      gerr != NULL && gerr->message != NULL ? gerr->message : "unknown error");
        if (gerr != NULL)
            g_error_free(gerr);
        g_bytes_unref(bytes);
        return rc;
    }
    n_pages = poppler_document_get_n_pages(doc);
    for (int i = 0; i < n_pages && rc == 0; i++) {
        PopplerPage *page = poppler_document_get_page(doc, i);
        char *text;

        if (page == NULL)
            continue;
        text = poppler_page_get_text(page);
        if (text != NULL && text[0] != '\0') {
            if (out->len > 0 && buf_adds(out, "\n\n") != 0)
                rc = fail(EX_INTERNAL, "out of memory");
            else if (buf_adds(out, text) != 0)
                rc = fail(EX_INTERNAL, "out of memory");
            buf_rtrim(out);
        }
        g_free(text);
        g_object_unref(page);
    }
    g_object_unref(doc);
    g_bytes_unref(bytes);
    *pages = n_pages;
    return rc != 0 ? rc : end_text(out);
}

/* ---------------------------------------------------------------- docx */

static const char *const w_namespaces[] = {
    "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    "http://purl.oclc.org/ooxml/wordprocessingml/main", /* strict OOXML */
};

/* The walk of word/document.xml. Paragraphs end with a blank line; in a
 * table, cells are separated by a tab and rows by a newline, and the
 * paragraphs of one cell by a space. */
typedef struct docx_walk {
    buf *out;
    int in_run;                 /* in w:r: w:tab is a tab there (in w:tabs, a tab stop) */
    int in_text;                /* in w:t */
    int tbl_depth;              /* tables in tables */
    int cells[MAX_TABLE_DEPTH]; /* cells begun in the current row, per table */
    int cell_has_text;          /* the current cell has text already */
    int cell_gap;               /* a paragraph of the cell ended: a space before more */
} docx_walk;

static int is_w(xmlTextReaderPtr r)
{
    const xmlChar *ns = xmlTextReaderConstNamespaceUri(r);

    if (ns == NULL)
        return 0;
    for (size_t i = 0; i < sizeof(w_namespaces) / sizeof(w_namespaces[0]); i++)
        if (strcmp((const char *)ns, w_namespaces[i]) == 0)
            return 1;
    return 0;
}

/* Ends the output with exactly n newlines (unless it is empty). */
static int docx_break(buf *out, int n)
{
    if (out->len == 0)
        return 0;
    buf_rtrim(out);
    for (int i = 0; i < n; i++)
        if (buf_adds(out, "\n") != 0)
            return -1;
    return 0;
}

static int docx_emit(docx_walk *w, const char *s, size_t n)
{
    if (w->cell_gap) {
        w->cell_gap = 0;
        if (buf_adds(w->out, " ") != 0)
            return -1;
    }
    if (w->tbl_depth > 0)
        w->cell_has_text = 1;
    return buf_add(w->out, s, n);
}

static int docx_start(docx_walk *w, const char *name, int is_empty)
{
    if (strcmp(name, "r") == 0) {
        w->in_run = !is_empty;
    } else if (strcmp(name, "t") == 0) {
        w->in_text = !is_empty;
    } else if (strcmp(name, "tab") == 0 && w->in_run) {
        return docx_emit(w, "\t", 1);
    } else if ((strcmp(name, "br") == 0 || strcmp(name, "cr") == 0) && w->in_run) {
        return docx_emit(w, "\n", 1);
    } else if (strcmp(name, "tbl") == 0 && !is_empty) {
        if (docx_break(w->out, w->tbl_depth > 0 ? 1 : 2) != 0)
            return -1;
        w->tbl_depth++;
        if (w->tbl_depth <= MAX_TABLE_DEPTH)
            w->cells[w->tbl_depth - 1] = 0;
    } else if (strcmp(name, "tr") == 0 && w->tbl_depth > 0) {
        if (w->tbl_depth <= MAX_TABLE_DEPTH)
            w->cells[w->tbl_depth - 1] = 0;
    } else if (strcmp(name, "tc") == 0 && w->tbl_depth > 0) {
        w->cell_gap = 0;
        w->cell_has_text = 0;
        if (w->tbl_depth <= MAX_TABLE_DEPTH && w->cells[w->tbl_depth - 1]++ > 0 &&
            buf_adds(w->out, "\t") != 0)
            return -1;
    } else if (strcmp(name, "p") == 0 && is_empty && w->tbl_depth == 0) {
        return docx_break(w->out, 2);
    }
    return 0;
}

static int docx_end(docx_walk *w, const char *name)
{
    if (strcmp(name, "r") == 0) {
        w->in_run = 0;
    } else if (strcmp(name, "t") == 0) {
        w->in_text = 0;
    } else if (strcmp(name, "p") == 0) {
        if (w->tbl_depth == 0)
            return docx_break(w->out, 2);
        if (w->cell_has_text)
            w->cell_gap = 1;
    } else if (strcmp(name, "tc") == 0) {
        w->cell_gap = 0;
        w->cell_has_text = 0;
    } else if (strcmp(name, "tr") == 0 && w->tbl_depth > 0) {
        w->cell_gap = 0;
        return docx_break(w->out, 1);
    } else if (strcmp(name, "tbl") == 0 && w->tbl_depth > 0) {
        w->tbl_depth--;
        return docx_break(w->out, w->tbl_depth > 0 ? 1 : 2);
    }
    return 0;
}

static void xml_quiet(void *arg, const char *msg, xmlParserSeverities severity,
                      xmlTextReaderLocatorPtr locator)
{
    (void)arg;
    (void)msg;
    (void)severity;
    (void)locator;
}

/* The text of a WordprocessingML body. Never loads a DTD, never substitutes
 * entities (no XML_PARSE_NOENT, DTDLOAD or HUGE), refuses a DOCTYPE. */
static int docx_xml_text(const char *xml, size_t len, buf *out)
{
    static const char *doctype = "the DOCX is not accepted: its XML declares a DOCTYPE";
    xmlTextReaderPtr r;
    docx_walk w = {.out = out};
    int rc, code = 0;

    if (len > INT_MAX)
        return fail(EX_BAD_INPUT, "the DOCX is too large once uncompressed");
    /* refuse before parsing: an internal subset is parsed with the DOCTYPE */
    if (memmem(xml, len, "<!DOCTYPE", 9) != NULL)
        return fail(EX_BAD_INPUT, "%s", doctype);
    r = xmlReaderForMemory(xml, (int)len, "word/document.xml", NULL,
                           XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (r == NULL)
        return fail(EX_INTERNAL, "out of memory");
    xmlTextReaderSetErrorHandler(r, xml_quiet, NULL);
    while (code == 0 && (rc = xmlTextReaderRead(r)) == 1) {
        int step = 0;

        switch (xmlTextReaderNodeType(r)) {
        case XML_READER_TYPE_DOCUMENT_TYPE:
        case XML_READER_TYPE_ENTITY:
        case XML_READER_TYPE_ENTITY_REFERENCE:
            code = fail(EX_BAD_INPUT, "%s", doctype);
            break;
        case XML_READER_TYPE_ELEMENT:
            if (is_w(r))
                step = docx_start(&w, (const char *)xmlTextReaderConstLocalName(r),
                                  xmlTextReaderIsEmptyElement(r));
            break;
        case XML_READER_TYPE_END_ELEMENT:
            if (is_w(r))
                step = docx_end(&w, (const char *)xmlTextReaderConstLocalName(r));
            break;
        case XML_READER_TYPE_TEXT:
        case XML_READER_TYPE_CDATA:
        case XML_READER_TYPE_WHITESPACE:
        case XML_READER_TYPE_SIGNIFICANT_WHITESPACE:
            if (w.in_text) {
                const char *v = (const char *)xmlTextReaderConstValue(r);

                if (v != NULL)
                    step = docx_emit(&w, v, strlen(v));
            }
            break;
        default:
            break;
        }
        if (step != 0)
            code = fail(EX_INTERNAL, "out of memory");
    }
    xmlFreeTextReader(r);
    if (code != 0)
        return code;
    if (rc != 0)
        return fail(EX_BAD_INPUT,
                    "the DOCX could not be read: its document.xml is not well-formed XML");
    return end_text(out);
}

static int extract_docx(const buf *in, buf *out, long long *pages)
{
    zip_error_t zerr;
    zip_source_t *src;
    zip_t *za;
    zip_stat_t st;
    zip_file_t *zf = NULL;
    buf xml = {0};
    int rc;

    zip_error_init(&zerr);
    src = zip_source_buffer_create(in->p, in->len, 0, &zerr);
    if (src == NULL) {
        zip_error_fini(&zerr);
        return fail(EX_INTERNAL, "out of memory");
    }
    za = zip_open_from_source(src, ZIP_RDONLY, &zerr);
    zip_error_fini(&zerr);
    if (za == NULL) {
        zip_source_free(src);
        return fail(EX_BAD_INPUT, "not a DOCX file: it is not a ZIP archive");
    }
    zip_stat_init(&st);
    if (zip_stat(za, "word/document.xml", 0, &st) != 0) {
        rc = fail(EX_BAD_INPUT, "not a DOCX file: it has no word/document.xml");
        goto done;
    }
    if ((st.valid & ZIP_STAT_SIZE) && st.size > MAX_XML_BYTES) {
        rc = fail(EX_BAD_INPUT, "the DOCX is too large once uncompressed (over %zu MiB of text)",
                  MAX_XML_BYTES >> 20);
        goto done;
    }
    zf = zip_fopen(za, "word/document.xml", 0);
    if (zf == NULL) {
        rc = fail(EX_BAD_INPUT, "the DOCX could not be read: its document.xml cannot be opened");
        goto done;
    }
    /* count what comes out: the directory's size may lie */
    for (;;) {
        zip_int64_t n;

        if (buf_reserve(&xml, 65536) != 0) {
            rc = fail(EX_INTERNAL, "out of memory");
            goto done;
        }
        n = zip_fread(zf, xml.p + xml.len, 65536);
        if (n < 0) {
            rc = fail(EX_BAD_INPUT, "the DOCX could not be read: its document.xml is damaged");
            goto done;
        }
        if (n == 0)
            break;
        xml.len += (size_t)n;
        if (xml.len > MAX_XML_BYTES) {
            rc =
                fail(EX_BAD_INPUT, "the DOCX is too large once uncompressed (over %zu MiB of text)",
                     MAX_XML_BYTES >> 20);
            goto done;
        }
    }
    zip_fclose(zf);
    zf = NULL;
    zip_discard(za); /* read-only: nothing to write back; frees src */
    za = NULL;
    *pages = 1;
    rc = docx_xml_text(xml.p != NULL ? xml.p : "", xml.len, out);

done:
    if (zf != NULL)
        zip_fclose(zf);
    if (za != NULL)
        zip_discard(za);
    free(xml.p);
    return rc;
}

/* ---------------------------------------------------------------- png, jpg */

#if STORAGE_HAVE_OCR
static int extract_image(const buf *in, const char *kind, buf *out, long long *pages)
{
    l_int32 format = 0, w = 0, h = 0;
    PIX *pix = NULL;
    TessBaseAPI *api = NULL;
    char *text = NULL;
    int rc = 0;

    setMsgSeverity(L_SEVERITY_NONE);
    if (pixReadHeaderMem((const l_uint8 *)in->p, in->len, &format, &w, &h, NULL, NULL, NULL) != 0)
        return fail(EX_BAD_INPUT, "the image could not be read: not a %s file", kind);
    /* decoding a small file into a huge bitmap is the image's zip bomb */
    if (w <= 0 || h <= 0 || (int64_t)w * h > MAX_IMAGE_PIXELS)
        return fail(EX_BAD_INPUT, "the image is too large (%d x %d pixels)", (int)w, (int)h);
    pix = pixReadMem((const l_uint8 *)in->p, in->len);
    if (pix == NULL)
        return fail(EX_BAD_INPUT, "the image could not be read: the %s file is damaged", kind);
    api = TessBaseAPICreate();
    if (api == NULL) {
        rc = fail(EX_INTERNAL, "out of memory");
        goto done;
    }
    if (TessBaseAPIInit3(api, NULL, "eng") != 0) {
        rc = fail(EX_INTERNAL, "OCR is not available: Tesseract's English data "
                               "(tesseract-ocr-eng) was not found");
        goto done;
    }
    TessBaseAPISetImage2(api, pix);
    text = TessBaseAPIGetUTF8Text(api);
    if (text == NULL) {
        rc = fail(EX_INTERNAL, "OCR failed");
        goto done;
    }
    if (buf_adds(out, text) != 0) {
        rc = fail(EX_INTERNAL, "out of memory");
        goto done;
    }
    *pages = 1;
    rc = end_text(out);

done:
    if (text != NULL)
        TessDeleteText(text);
    if (api != NULL) {
        TessBaseAPIEnd(api);
        TessBaseAPIDelete(api);
    }
    pixDestroy(&pix);
    return rc;
}
#else
static int extract_image(const buf *in, const char *kind, buf *out, long long *pages)
{
    (void)in;
    (void)out;
    (void)pages;
    return fail(EX_INTERNAL,
                "OCR is not available: this lexiaid was built without it (configure "
                "--disable-ocr), so the text of a %s image cannot be read",
                kind);
}
#endif

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    unsigned long long max_mem = DEFAULT_MAX_MEM, max_cpu = DEFAULT_MAX_CPU;
    const char *type = NULL;
    buf in = {0}, out = {0};
    long long pages = 0;
    int rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--max-mem") == 0 && i + 1 < argc) {
            if (parse_ull(argv[++i], &max_mem) != 0 || max_mem < (16ULL << 20))
                return say_why(
                    fail(EX_USAGE, "--max-mem wants bytes, at least 16 MiB; %s", usage_line));
        } else if (strcmp(argv[i], "--max-cpu") == 0 && i + 1 < argc) {
            if (parse_ull(argv[++i], &max_cpu) != 0 || max_cpu < 1 || max_cpu > 86400)
                return say_why(
                    fail(EX_USAGE, "--max-cpu wants seconds, 1 to 86400; %s", usage_line));
        } else if (argv[i][0] == '-') {
            return say_why(fail(EX_USAGE, "unknown option %.40s; %s", argv[i], usage_line));
        } else if (type == NULL) {
            type = argv[i];
        } else {
            return say_why(fail(EX_USAGE, "one file type only; %s", usage_line));
        }
    }
    if (type == NULL)
        return say_why(fail(EX_USAGE, "%s", usage_line));
    if (strcmp(type, "txt") != 0 && strcmp(type, "md") != 0 && strcmp(type, "pdf") != 0 &&
        strcmp(type, "docx") != 0 && strcmp(type, "png") != 0 && strcmp(type, "jpg") != 0 &&
        strcmp(type, "jpeg") != 0)
        return say_why(fail(EX_USAGE, "unknown file type %.20s; %s", type, usage_line));

    rc = limit_self(max_mem, max_cpu);
    oom_why_set(max_mem);
    catch_fatal_signals();
    /* a runner that went away: the write fails and we exit */
    signal(SIGPIPE, SIG_IGN);
    if (rc == 0)
        rc = silence_libraries();
    if (rc == 0)
        rc = read_input(&in);
    if (rc == 0) {
        if (strcmp(type, "txt") == 0 || strcmp(type, "md") == 0)
            rc = extract_text(&in, &out, &pages);
        else if (strcmp(type, "pdf") == 0)
            rc = extract_pdf(&in, &out, &pages);
        else if (strcmp(type, "docx") == 0)
            rc = extract_docx(&in, &out, &pages);
        else
            rc = extract_image(&in, strcmp(type, "png") == 0 ? "PNG" : "JPEG", &out, &pages);
    }
    free(in.p);
    /* A library may carry on after an allocation failed, with part of the
     * text: that run ran out of memory all the same. */
    if (rc == 0 && ran_out_of_memory)
        rc = fail(EX_INTERNAL, "%s", oom_why);
    if (rc == 0)
        rc = answer(pages, out.p != NULL ? out.p : "", out.len);
    else
        rc = say_why(rc);
    free(out.p);
    return rc;
}
