#include "config.h"

/*
 * storage_extract(): the real lexiaid-extract on a text file and a small
 * PDF made here, and the runner's promises with small children that
 * misbehave on purpose (shell scripts written to a temporary directory):
 * a deadline kills and reaps, a crash is named, too much output is
 * refused, a child that does not read never deadlocks us, a missing
 * program is an I/O error, and no descriptor or zombie is ever left.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lexiaid/plugin.h>

#include "text/extract.h"

#ifndef LX_TEST_EXTRACT
#error "LX_TEST_EXTRACT must name the built lexiaid-extract"
#endif

typedef struct fx {
    char dir[64];
    char path[256];
    storage_extract_opts opts;
    storage_extract_result res;
    char err[256];
    int fds_before;
} fx;

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* No child of ours is left, running or zombie. */
static void assert_no_children(void)
{
    int status;

    errno = 0;
    assert_int_equal(waitpid(-1, &status, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/lxextract-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    f->opts.program = LX_TEST_EXTRACT;
    f->opts.timeout_ms = 60000;
    f->opts.max_mem = 1024u << 20;
    f->opts.max_output = 16u << 20;
    f->fds_before = count_fds();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    char cmd[128];

    free(f->res.text);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", f->dir);
    free(f);
    return 0;
}

/* Every test ends here: nothing leaked to the process. */
static void assert_clean(fx *f)
{
    assert_int_equal(count_fds(), f->fds_before);
    assert_no_children();
}

/* Writes an executable shell script; f->opts.program names it. */
static void child_script(fx *f, const char *name, const char *body)
{
    FILE *fp;

    snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, name);
    fp = fopen(f->path, "w");
    assert_non_null(fp);
    fprintf(fp, "#!/bin/sh\n%s\n", body);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(f->path, 0700), 0);
    f->opts.program = f->path;
}

static int run(fx *f, const char *type, const void *data, size_t len)
{
    free(f->res.text);
    memset(&f->res, 0, sizeof(f->res));
    f->err[0] = '\0';
    return storage_extract(&f->opts, type, data, len, &f->res, f->err, sizeof(f->err));
}

/* A one-page PDF 1.4 with Helvetica text, xref offsets computed. */
static size_t make_pdf(char *out, size_t cap, const char *line)
{
    char content[256];
    long off[6];
    size_t n = 0;
    int clen = snprintf(content, sizeof(content), "BT /F1 18 Tf 72 720 Td (%s) Tj ET\n", line);

#define PUT(...) (n += (size_t)snprintf(out + n, cap - n, __VA_ARGS__))
    PUT("%%PDF-1.4\n");
    off[1] = (long)n;
    PUT("1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n");
    off[2] = (long)n;
    PUT("2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n");
    off[3] = (long)n;
    PUT("3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << "
        "/F1 4 0 R >> >> /Contents 5 0 R >>\nendobj\n");
    off[4] = (long)n;
    PUT("4 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>\nendobj\n");
    off[5] = (long)n;
    PUT("5 0 obj\n<< /Length %d >>\nstream\n%sendstream\nendobj\n", clen, content);
    long xref = (long)n;
    PUT("xref\n0 6\n0000000000 65535 f \n");
    for (int i = 1; i <= 5; i++)
        PUT("%010ld 00000 n \n", off[i]);
    PUT("trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%ld\n%%%%EOF\n", xref);
#undef PUT
    assert_true(n < cap);
    return n;
}

/* ---------------------------------------------------------------- the real program */

static void test_extract_txt_strips_bom_and_keeps_utf8(void **state)
{
    fx *f = *state;
    static const char txt[] = "\xef\xbb\xbfH\xc3\xa9llo,\nworld \xe2\x9c\x93\n";

    assert_int_equal(run(f, "txt", txt, sizeof(txt) - 1), LX_OK);
    assert_string_equal(f->res.text, "H\xc3\xa9llo,\nworld \xe2\x9c\x93\n");
    assert_int_equal(f->res.len, strlen(f->res.text));
    assert_int_equal(f->res.pages, 1);
    assert_clean(f);
}

static void test_extract_empty_txt_is_empty_text(void **state)
{
    fx *f = *state;

    assert_int_equal(run(f, "md", "", 0), LX_OK);
    assert_non_null(f->res.text);
    assert_string_equal(f->res.text, "");
    assert_int_equal(f->res.len, 0);
    assert_clean(f);
}

static void test_extract_pdf_gives_its_text_and_pages(void **state)
{
    fx *f = *state;
    char pdf[2048];
    size_t n = make_pdf(pdf, sizeof(pdf), "Reading is fun for everyone");

    assert_int_equal(run(f, "pdf", pdf, n), LX_OK);
    assert_non_null(strstr(f->res.text, "Reading is fun for everyone"));
    assert_int_equal(f->res.pages, 1);
    assert_clean(f);
}

static void test_extract_invalid_utf8_fails_with_the_childs_message(void **state)
{
    fx *f = *state;

    assert_int_equal(run(f, "txt", "caf\xe9 au lait", 12), LX_ERROR);
    assert_string_equal(f->err, "the file is not valid UTF-8 text");
    assert_null(f->res.text);
    assert_clean(f);
}

static void test_extract_broken_pdf_fails_with_a_reason(void **state)
{
    fx *f = *state;
    static const char junk[] = "%PDF-1.4\nthis is no PDF at all\n%%EOF\n";

    assert_int_equal(run(f, "pdf", junk, sizeof(junk) - 1), LX_ERROR);
    assert_non_null(strstr(f->err, "PDF could not be read"));
    assert_clean(f);
}

typedef struct par_job {
    const char *program;
    char text[64];
    int rc;
    int ok;
} par_job;

static void *par_run(void *arg)
{
    par_job *j = arg;
    storage_extract_opts o = {
        .program = j->program, .timeout_ms = 60000, .max_mem = 1024u << 20, .max_output = 1u << 20};
    storage_extract_result res;
    char err[256];

    j->rc = storage_extract(&o, "txt", j->text, strlen(j->text), &res, err, sizeof(err));
    j->ok = j->rc == LX_OK && strcmp(res.text, j->text) == 0;
    if (j->rc == LX_OK)
        free(res.text);
    return NULL;
}

static void test_extract_runs_in_several_threads_at_once(void **state)
{
    fx *f = *state;
    pthread_t th[4];
    par_job jobs[4];

    for (int i = 0; i < 4; i++) {
        jobs[i].program = LX_TEST_EXTRACT;
        snprintf(jobs[i].text, sizeof(jobs[i].text), "thread %d says hello\n", i);
        assert_int_equal(pthread_create(&th[i], NULL, par_run, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(jobs[i].rc, LX_OK);
        assert_true(jobs[i].ok);
    }
    assert_clean(f);
}

/* ---------------------------------------------------------------- misbehaving children */

static void test_extract_child_past_deadline_is_killed_and_reaped(void **state)
{
    fx *f = *state;

    child_script(f, "sleeper", "exec sleep 30");
    f->opts.timeout_ms = 300;
    assert_int_equal(run(f, "txt", "hi", 2), LX_ETIMEDOUT);
    assert_non_null(strstr(f->err, "took longer than 300 ms"));
    assert_null(f->res.text);
    assert_clean(f);
}

static void test_extract_child_that_closes_its_output_and_hangs_times_out(void **state)
{
    fx *f = *state;

    child_script(f, "closer", "exec >&- 2>&- <&-\nexec sleep 30");
    f->opts.timeout_ms = 300;
    assert_int_equal(run(f, "txt", "hi", 2), LX_ETIMEDOUT);
    assert_clean(f);
}

static void test_extract_crashing_child_is_named_with_its_signal(void **state)
{
    fx *f = *state;

    child_script(f, "crasher", "kill -SEGV $$");
    assert_int_equal(run(f, "pdf", "%PDF", 4), LX_ERROR);
    assert_string_equal(f->err, "the extractor crashed (signal 11)");
    assert_clean(f);
}

static void test_extract_child_over_its_cpu_time_says_so(void **state)
{
    fx *f = *state;

    /* what RLIMIT_CPU does to the real program, without burning the CPU */
    child_script(f, "spinner", "kill -XCPU $$");
    f->opts.timeout_ms = 10000;
    assert_int_equal(run(f, "png", "x", 1), LX_ERROR);
    assert_string_equal(f->err, "text extraction used more than its 11 s of CPU time");
    assert_clean(f);
}

static void test_extract_output_over_max_output_is_too_big(void **state)
{
    fx *f = *state;

    child_script(f, "flood", "printf 'LXEXTRACT 1 pages=1\\n'\nexec head -c 3000000 /dev/zero");
    f->opts.max_output = 100000;
    assert_int_equal(run(f, "txt", "hi", 2), LX_ETOOBIG);
    assert_null(f->res.text);
    assert_clean(f);
}

static void test_extract_output_exactly_max_output_is_accepted(void **state)
{
    fx *f = *state;

    child_script(f, "exact", "printf 'LXEXTRACT 1 pages=3\\n'\nexec head -c 1000 /dev/zero");
    f->opts.max_output = 1000;
    assert_int_equal(run(f, "txt", "hi", 2), LX_OK);
    assert_int_equal(f->res.len, 1000);
    assert_int_equal(f->res.pages, 3);
    assert_clean(f);
}

static void test_extract_child_that_never_reads_stdin_does_not_deadlock(void **state)
{
    fx *f = *state;
    size_t n = 8u << 20;
    char *big = malloc(n);
    sigset_t pending;

    assert_non_null(big);
    memset(big, 'a', n);
    /* answers at once and exits: our writes meet a closed pipe (EPIPE,
     * and a SIGPIPE that must not kill this process nor stay pending) */
    child_script(f, "deaf", "printf 'LXEXTRACT 1 pages=1\\nnot listening'");
    assert_int_equal(run(f, "txt", big, n), LX_OK);
    assert_string_equal(f->res.text, "not listening");
    assert_int_equal(sigpending(&pending), 0);
    assert_false(sigismember(&pending, SIGPIPE));
    free(big);
    assert_clean(f);
}

static void test_extract_child_writing_before_reading_does_not_deadlock(void **state)
{
    fx *f = *state;
    size_t n = 8u << 20;
    char *big = malloc(n);

    assert_non_null(big);
    memset(big, 'a', n);
    /* 1 MiB out before reading any of our 8 MiB: both pipes fill up unless
     * the runner drains stdout while it feeds stdin */
    child_script(f, "chatty",
                 "printf 'LXEXTRACT 1 pages=1\\n'\n"
                 "head -c 1048576 /dev/zero\n"
                 "exec cat >/dev/null");
    assert_int_equal(run(f, "txt", big, n), LX_OK);
    assert_int_equal(f->res.len, 1048576);
    free(big);
    assert_clean(f);
}

static void test_extract_missing_program_is_an_io_error(void **state)
{
    fx *f = *state;

    snprintf(f->path, sizeof(f->path), "%s/no-such-extractor", f->dir);
    f->opts.program = f->path;
    assert_int_equal(run(f, "txt", "hi", 2), LX_EIO);
    assert_non_null(strstr(f->err, "could not start"));
    assert_clean(f);
}

static void test_extract_answer_without_header_is_an_error(void **state)
{
    fx *f = *state;

    child_script(f, "rude", "cat >/dev/null\necho 'here is your text'");
    assert_int_equal(run(f, "txt", "hi", 2), LX_ERROR);
    assert_null(f->res.text);
    assert_clean(f);
}

static void test_extract_failure_without_message_names_the_exit_status(void **state)
{
    fx *f = *state;

    child_script(f, "mute", "exit 7");
    assert_int_equal(run(f, "txt", "hi", 2), LX_ERROR);
    assert_string_equal(f->err, "the extractor failed (exit status 7)");
    assert_clean(f);
}

/* The fd numbers above 2 that are pipes or sockets in `ls -l` output. */
static int count_inherited(const char *ls)
{
    int n = 0;

    for (const char *line = ls; line != NULL && *line != '\0';) {
        const char *eol = strchr(line, '\n');
        const char *arrow = strstr(line, " -> ");

        if (arrow != NULL && (eol == NULL || arrow < eol) &&
            (strncmp(arrow + 4, "pipe:", 5) == 0 || strncmp(arrow + 4, "socket:", 7) == 0)) {
            const char *p = arrow;

            while (p > line && p[-1] >= '0' && p[-1] <= '9')
                p--;
            if (atoi(p) > 2)
                n++;
        }
        line = eol != NULL ? eol + 1 : NULL;
    }
    return n;
}

/* The mask after `name` in /proc/PID/status text. */
static unsigned long long sig_bits(const char *status, const char *name)
{
    const char *p = strstr(status, name);

    assert_non_null(p);
    return strtoull(p + strlen(name), NULL, 16);
}

static void test_extract_child_gets_a_clean_start(void **state)
{
    fx *f = *state;
    sigset_t all, old;
    struct sigaction ign = {.sa_handler = SIG_IGN}, old_pipe, old_hup;
    int extra[2];
    int rc;

    /* as on a worker's pool thread: every signal blocked, SIGPIPE and
     * SIGHUP ignored, and a pipe of ours open (not close-on-exec) */
    assert_int_equal(pipe(extra), 0);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    sigaction(SIGPIPE, &ign, &old_pipe);
    sigaction(SIGHUP, &ign, &old_hup);
    child_script(f, "inspect",
                 "cat >/dev/null\n"
                 "printf 'LXEXTRACT 1 pages=1\\n'\n"
                 "ls -l /proc/$$/fd\n"
                 /* builtins only: while dash waits for a child (grep)
                  * it blocks every signal for a moment, which a child
                  * reading /proc/$$/status may see */
                 "while IFS= read -r l; do case \"$l\" in Sig[BI][lg][kn]:*) "
                 "echo \"$l\";; esac; done </proc/$$/status\n"
                 "echo \"omp=$OMP_THREAD_LIMIT\"\n"
                 "echo \"args=$*\"");
    f->opts.timeout_ms = 5000;
    rc = run(f, "docx", "x", 1);
    sigaction(SIGHUP, &old_hup, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(extra[0]);
    close(extra[1]);

    assert_int_equal(rc, LX_OK);
    assert_int_equal(count_inherited(f->res.text), 0);
    /* the classic signals; glibc's posix_spawn leaves its two internal
     * real-time ones (32, 33) ignored, which the new program resets */
    assert_int_equal(sig_bits(f->res.text, "SigBlk:") & 0x7fffffffu, 0); /* signals 1-31 */
    assert_int_equal(sig_bits(f->res.text, "SigIgn:") & 0x7fffffffu, 0); /* signals 1-31 */
    assert_non_null(strstr(f->res.text, "omp=1\n"));
    assert_non_null(strstr(f->res.text, "args=--max-mem 1073741824 --max-cpu 6 docx\n"));
    assert_clean(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_extract_txt_strips_bom_and_keeps_utf8, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_extract_empty_txt_is_empty_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_extract_pdf_gives_its_text_and_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_extract_invalid_utf8_fails_with_the_childs_message,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_extract_broken_pdf_fails_with_a_reason, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_extract_runs_in_several_threads_at_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_extract_child_past_deadline_is_killed_and_reaped,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_extract_child_that_closes_its_output_and_hangs_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_extract_crashing_child_is_named_with_its_signal, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_extract_child_over_its_cpu_time_says_so, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_extract_output_over_max_output_is_too_big, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_extract_output_exactly_max_output_is_accepted, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_extract_child_that_never_reads_stdin_does_not_deadlock,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_extract_child_writing_before_reading_does_not_deadlock,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_extract_missing_program_is_an_io_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_extract_answer_without_header_is_an_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_extract_failure_without_message_names_the_exit_status,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_extract_child_gets_a_clean_start, setup, teardown),
    };

    /* A SIGPIPE left unblocked by the runner would end this process. */
    signal(SIGPIPE, SIG_DFL);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
