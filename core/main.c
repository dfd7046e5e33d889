/*
 * lexiaid: the command line. Reads the configuration, loads the plugins,
 * and hands over to the master; or checks a configuration (-t), prints the
 * version (-v), probes a URL for container health checks (--probe), or runs
 * a command that a plugin offers (`lexiaid backup DEST`).
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
            "       lexiaid [-c FILE] COMMAND ARGS...\n"
            "\n"
            "  -c, --config FILE   the configuration (default: $LEXIAID_CONFIG, else\n"
            "                      %s if it exists, else the embedded defaults)\n"
            "  -t, --test          check the configuration and the plugins, then exit\n"
            "                      (0: fine; 1: every problem printed as FILE:LINE: message)\n"
            "  -v, --version       print the version and the plugin ABI\n"
            "  -h, --help          print this help (and the commands of the configured plugins)\n"
            "      --probe URL     GET URL; exit 0 on a 2xx answer (container health checks)\n"
            "      --probe-timeout MS   (default 3000)\n"
            "\n"
            "A COMMAND is offered by a plugin: lexiaid loads the configuration and runs\n"
            "every plugin's init as it does before serving, but opens no socket; it runs\n"
            "the command, shuts the plugins down and exits with the command's code\n"
            "(0: done; 1: failed, with a message; 2: usage).\n"
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

/* Loads the configuration at path (NULL: the embedded one) and its plugins,
 * without init. Returns the runtime, or NULL with the problems in errs. */
static lx_runtime *lx_load(const char *path, lx_errs *errs)
{
    lx_conf *conf = NULL;
    int rc = path ? lx_conf_load(path, &conf, errs)
                  : lx_conf_load_string(lx_default_conf, "<embedded>", &conf, errs);
    if (conf == NULL)
        return NULL;
    if (rc != LX_OK) {
        lx_conf_free(conf);
        return NULL;
    }
    lx_log_setup(conf->server.log_level, conf->server.log_format, 0);
    lx_runtime *rt = NULL;
    if (lx_runtime_build(conf, 1, 0, lx_host_get(), &rt, errs) != LX_OK)
        return NULL;
    return rt;
}

/* "backup, foo" into buf: the commands of rt's plugins, in config order. */
static void lx_command_names(const lx_runtime *rt, char *buf, size_t cap)
{
    size_t len = 0;

    buf[0] = '\0';
    for (size_t i = 0; rt != NULL && i < rt->plugins->n; i++)
        for (const lx_command *c = lx_plugin_commands(rt->plugins->items[i].desc); c && c->name;
             c++) {
            int n = snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", c->name);
            if (n < 0 || (size_t)n >= cap - len)
                return;
            len += (size_t)n;
        }
}

/* -h: the usage, then the commands of the plugins the configuration loads
 * (nothing more when it does not load). */
static int lx_help(const char *conf_opt)
{
    lx_usage(stdout);
    lx_errs errs = {0};
    lx_runtime *rt = lx_load(lx_config_path(conf_opt), &errs);
    lx_errs_clear(&errs);
    if (rt == NULL)
        return 0;
    int has_header = 0;
    for (size_t i = 0; i < rt->plugins->n; i++)
        for (const lx_command *c = lx_plugin_commands(rt->plugins->items[i].desc); c && c->name;
             c++) {
            if (!has_header)
                printf("\nCommands (lexiaid [-c FILE] COMMAND ARGS...):\n");
            has_header = 1;
            printf("  %s\n", c->usage ? c->usage : c->name);
        }
    lx_runtime_free(rt, 0);
    return 0;
}

/* `lexiaid [-c FILE] NAME ARGS...`: load and init as for serving (no
 * socket, no fork), run the command, shut every plugin down. Exit code:
 * the command's (0, 1 or 2), 1 when the configuration or an init fails,
 * 2 for an unknown command. */
static int lx_command_main(const char *conf_opt, int argc, char **argv)
{
    const char *name = argv[0];
    const char *path = lx_config_path(conf_opt);
    const char *shown = path ? path : "<embedded>";
    lx_errs errs = {0};
    char err[1024] = "";
    int rc;

    lx_runtime *rt = lx_load(path, &errs);
    if (rt == NULL)
        goto fail_conf;

    lx_loaded *item = NULL;
    const lx_command *cmd = lx_plugins_command(rt->plugins, name, &item);
    if (cmd == NULL) {
        char names[512];
        lx_command_names(rt, names, sizeof(names));
        fprintf(stderr, "lexiaid: unknown command '%s' (%s%s)\n", name,
                names[0] ? "commands: " : "no configured plugin offers a command", names);
        lx_runtime_free(rt, 0);
        return 2;
    }
    if (lx_runtime_init(rt, lx_host_get(), &errs) != LX_OK) {
        lx_runtime_free(rt, 1);
        goto fail_conf;
    }

    lx_runtime *prev = lx_current_runtime;
    lx_current_runtime = rt; /* host->data_dir and the services, as in a worker */
    rc = cmd->run(item->state, argc, argv, err, sizeof(err));
    if (rc != 0) {
        if (rc != 2)
            rc = 1;
        if (err[0] != '\0')
            fprintf(stderr, "lexiaid %s: %s\n", name, err);
        else if (rc == 1)
            fprintf(stderr, "lexiaid %s: failed\n", name);
        if (rc == 2) {
            /* the usage line up to its description ("backup DEST  a copy...") */
            const char *u = cmd->usage ? cmd->usage : name;
            const char *gap = strstr(u, "  ");
            fprintf(stderr, "usage: lexiaid [-c FILE] %.*s\n",
                    gap ? (int)(gap - u) : (int)strlen(u), u);
        }
    }
    fflush(stdout);
    lx_runtime_free(rt, 1);
    lx_current_runtime = prev;
    lx_errs_clear(&errs);
    return rc;

fail_conf:
    for (size_t i = 0; i < errs.n_lines; i++)
        fprintf(stderr, "lexiaid: %s\n", errs.lines[i]);
    if (errs.n_lines == 0)
        fprintf(stderr, "lexiaid: %s: cannot use this configuration\n", shown);
    lx_errs_clear(&errs);
    return 1;
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
    int is_test = 0, is_help = 0, c;

    /* '+': options end at the first word, so a command's own options
     * (`lexiaid backup --x`) are left to the command. */
    while ((c = getopt_long(argc, argv, "+c:tvh", opts, NULL)) != -1) {
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
            is_help = 1;
            break;
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
    if (is_help)
        return lx_help(conf_opt);
    if (optind < argc) {
        if (is_test || probe_url != NULL) {
            fprintf(stderr, "lexiaid: %s takes no command ('%s')\n",
                    is_test ? "-t" : "--probe", argv[optind]);
            lx_usage(stderr);
            return 2;
        }
        return lx_command_main(conf_opt, argc - optind, argv + optind);
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
        /* The master runs the plugins' init once it holds the data
         * directory's lock and the listening socket (master.h). */
        int brc = lx_runtime_build(conf, 1, 0, lx_host_get(), &rt, &errs);
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
