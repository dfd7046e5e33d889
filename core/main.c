/*
 * lexiaid: the command line. Reads the configuration, loads the plugins,
 * and hands over to the master; or checks a configuration (-t), prints the
 * version (-v), or probes a URL for container health checks (--probe).
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "default_conf.h"
#include "host.h"
#include "log.h"
#include "master.h"
#include "probe.h"
#include "runtime.h"
#include "worker.h"

#ifndef LX_SYSCONF_FILE
#define LX_SYSCONF_FILE "/usr/local/etc/lexiaid/lexiaid.conf"
#endif

static void lx_usage(FILE *f)
{
    fprintf(f,
            "usage: lexiaid [-c FILE] [-t] [-v] [-h] [--probe URL [--probe-timeout MS]]\n"
            "\n"
            "  -c, --config FILE   the configuration (default: $LEXIAID_CONFIG, else\n"
            "                      %s if it exists, else the embedded defaults)\n"
            "  -t, --test          check the configuration and the plugins, then exit\n"
            "                      (0: fine; 1: every problem printed as FILE:LINE: message)\n"
            "  -v, --version       print the version and the plugin ABI\n"
            "  -h, --help          print this help\n"
            "      --probe URL     GET URL; exit 0 on a 2xx answer (container health checks)\n"
            "      --probe-timeout MS   (default 3000)\n"
            "\n"
            "Signals: TERM/INT stop after the requests in flight; QUIT stops at once;\n"
            "HUP reloads the configuration with a new generation of workers.\n",
            LX_SYSCONF_FILE);
}

/* The config path: -c, $LEXIAID_CONFIG, the installed file, or NULL for the
 * embedded defaults. */
static const char *lx_config_path(const char *opt)
{
    if (opt != NULL)
        return opt;
    const char *env = getenv("LEXIAID_CONFIG");
    if (env != NULL && *env != '\0')
        return env;
    if (access(LX_SYSCONF_FILE, R_OK) == 0)
        return LX_SYSCONF_FILE;
    return NULL;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"test", no_argument, NULL, 't'},
        {"version", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"probe", required_argument, NULL, 'p'},
        {"probe-timeout", required_argument, NULL, 'T'},
        {NULL, 0, NULL, 0},
    };
    const char *conf_opt = NULL, *probe_url = NULL;
    long probe_timeout = 3000;
    int is_test = 0, c;

    while ((c = getopt_long(argc, argv, "c:tvh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            conf_opt = optarg;
            break;
        case 't':
            is_test = 1;
            break;
        case 'v':
            printf("lexiaid %s (plugin ABI %d.%d)\n", PACKAGE_VERSION, LX_ABI_MAJOR,
                   LX_ABI_MINOR);
            return 0;
        case 'h':
            lx_usage(stdout);
            return 0;
        case 'p':
            probe_url = optarg;
            break;
        case 'T':
            probe_timeout = strtol(optarg, NULL, 10);
            if (probe_timeout <= 0)
                probe_timeout = 3000;
            break;
        default:
            lx_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "lexiaid: unexpected argument '%s'\n", argv[optind]);
        lx_usage(stderr);
        return 2;
    }
    if (probe_url != NULL)
        return lx_probe(probe_url, probe_timeout);

    const char *path = lx_config_path(conf_opt);
    const char *shown = path ? path : "<embedded>";
    lx_errs errs = {0};
    lx_conf *conf = NULL;
    int rc = is_test ? lx_conf_check(path, lx_default_conf, &conf, &errs)
             : path  ? lx_conf_load(path, &conf, &errs)
                     : lx_conf_load_string(lx_default_conf, "<embedded>", &conf, &errs);

    if (conf != NULL) {
        lx_log_setup(conf->server.log_level, conf->server.log_format, 0);
        lx_runtime *rt = NULL;
        int brc = lx_runtime_build(conf, 1, !is_test && rc == LX_OK, lx_host_get(), &rt, &errs);
        conf = NULL; /* the runtime owns it now */
        if (brc == LX_OK && rt->uses_http_client && !is_test) {
            char err[512];
            if (lx_httpc_preload(err, sizeof(err)) != LX_OK) {
                lx_errs_add(&errs, "%s: %s", shown, err);
                brc = LX_ERROR;
            }
        }
        if (rc == LX_OK)
            rc = brc;
        if (rc == LX_OK && !is_test) {
            lx_errs_clear(&errs);
            return lx_master_run(path, lx_default_conf, rt);
        }
        lx_runtime_free(rt, 0);
    }
    if (rc != LX_OK) {
        for (size_t i = 0; i < errs.n_lines; i++)
            fprintf(stderr, "lexiaid: %s\n", errs.lines[i]);
        if (errs.n_lines == 0)
            fprintf(stderr, "lexiaid: %s: cannot use this configuration\n", shown);
        if (is_test)
            fprintf(stderr, "lexiaid: configuration %s test failed\n", shown);
        lx_errs_clear(&errs);
        return 1;
    }
    lx_errs_clear(&errs);
    fprintf(stderr, "lexiaid: configuration %s test is successful\n", shown);
    return 0;
}
