/* Unit tests for the loader's decisions: descriptor checks and start order. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "loader.h"

static int t_init(const lx_host *host, const lx_cfg *cfg, void **state, char *err, size_t errlen)
{
    (void)host;
    (void)cfg;
    (void)state;
    (void)err;
    (void)errlen;
    return LX_OK;
}

static lx_rc t_handler(lx_req *req, void *state)
{
    (void)req;
    (void)state;
    return LX_DONE;
}

static const lx_handler t_handlers[] = {{"a", t_handler, 0}, {"b", t_handler, 0}, {NULL, NULL, 0}};
static const lx_handler t_dup_handlers[] = {
    {"a", t_handler, 0}, {"a", t_handler, 0}, {NULL, NULL, 0}};
static const lx_handler t_bad_handlers[] = {{"has space", t_handler, 0}, {NULL, NULL, 0}};
static const lx_handler t_no_handlers[] = {{NULL, NULL, 0}};

static lx_plugin good(void)
{
    lx_plugin p = {LX_PLUGIN_HEADER, .name = "good", .handlers = t_handlers, .init = t_init};
    return p;
}

static void expect_refused(const lx_plugin *p, const char *conf_name, const char *needle)
{
    char err[512] = "";
    assert_int_equal(lx_loader_check(p, "/x/plug.so", conf_name, err, sizeof(err)), LX_EINVAL);
    assert_non_null(strstr(err, "/x/plug.so"));
    if (strstr(err, needle) == NULL)
        fail_msg("'%s' not found in '%s'", needle, err);
}

static void test_loader_accepts_a_good_descriptor(void **s)
{
    (void)s;
    lx_plugin p = good();
    char err[256] = "";
    assert_int_equal(lx_loader_check(&p, "/x/plug.so", "good", err, sizeof(err)), LX_OK);
    lx_plugin q = {LX_PLUGIN_HEADER, .name = "svc", .handlers = t_no_handlers, .init = t_init};
    assert_int_equal(lx_loader_check(&q, "/x/plug.so", "svc", err, sizeof(err)), LX_OK);
}

static void test_loader_refuses_major_mismatch_naming_both_versions(void **s)
{
    (void)s;
    lx_plugin p = good();
    p.abi_major = LX_ABI_MAJOR + 1;
    char want[64];
    snprintf(want, sizeof(want), "plugin ABI %d.%d, core ABI %d.%d", LX_ABI_MAJOR + 1,
             LX_ABI_MINOR, LX_ABI_MAJOR, LX_ABI_MINOR);
    expect_refused(&p, "good", want);
}

static void test_loader_refuses_a_newer_minor(void **s)
{
    (void)s;
    lx_plugin p = good();
    p.abi_minor = LX_ABI_MINOR + 1;
    expect_refused(&p, "good", "needs a newer core");
}

static void test_loader_accepts_an_older_minor_shape(void **s)
{
    (void)s;
    lx_plugin p = good();
    char err[256];
    /* minor 0 is the oldest there is; a plugin at our minor is accepted */
    p.abi_minor = 0;
    assert_int_equal(lx_loader_check(&p, "/x/plug.so", "good", err, sizeof(err)), LX_OK);
}

static void test_loader_refuses_a_short_descriptor(void **s)
{
    (void)s;
    lx_plugin p = good();
    p.struct_size = 16;
    expect_refused(&p, "good", "bytes");
}

/* The one version rule: a descriptor is read up to lx_plugin's size in the
 * minor it declares, so it must be at least that long. A descriptor of the
 * 1.0 shape that claims 1.1 was built with a mismatched header: refused,
 * naming the file and both versions. */
static void test_loader_refuses_a_descriptor_shorter_than_its_minor(void **s)
{
    (void)s;
    lx_plugin p = good();
    char want[96];
    p.abi_minor = 1;
    p.struct_size = (uint32_t)(offsetof(lx_plugin, health) + sizeof(p.health));
    snprintf(want, sizeof(want), "plugin ABI %d.1, core ABI %d.%d: its descriptor is %u bytes",
             LX_ABI_MAJOR, LX_ABI_MAJOR, LX_ABI_MINOR, (unsigned)p.struct_size);
    expect_refused(&p, "good", want);
    expect_refused(&p, "good", "does not match its version");
    /* the same descriptor declaring 1.0 is a good 1.0 plugin */
    p.abi_minor = 0;
    char err[256] = "";
    assert_int_equal(lx_loader_check(&p, "/x/plug.so", "good", err, sizeof(err)), LX_OK);
    /* a longer descriptor than its minor needs is fine (built with a newer
     * header, declaring an older minor to load on older cores) */
    p.struct_size = (uint32_t)sizeof(lx_plugin) + 64;
    assert_int_equal(lx_loader_check(&p, "/x/plug.so", "good", err, sizeof(err)), LX_OK);
}

static void test_loader_refuses_missing_mandatory_parts(void **s)
{
    (void)s;
    lx_plugin p = good();
    p.init = NULL;
    expect_refused(&p, "good", "no init hook");
    p = good();
    p.handlers = NULL;
    expect_refused(&p, "good", "no handler table");
    expect_refused(NULL, "good", "returned NULL");
}

static void test_loader_refuses_a_name_other_than_the_configs(void **s)
{
    (void)s;
    lx_plugin p = good();
    expect_refused(&p, "other", "calls itself 'good'");
    p.name = "bad name";
    expect_refused(&p, "bad name", "name");
}

static void test_loader_refuses_bad_or_duplicate_handlers(void **s)
{
    (void)s;
    lx_plugin p = good();
    p.handlers = t_dup_handlers;
    expect_refused(&p, "good", "two handlers named 'a'");
    p.handlers = t_bad_handlers;
    expect_refused(&p, "good", "bad name");
}

/* --- commands (ABI 1.1) --- */

static int t_run(void *state, int argc, char **argv, char *err, size_t errlen)
{
    (void)state;
    (void)argc;
    (void)argv;
    (void)err;
    (void)errlen;
    return 0;
}

static const lx_command t_cmds[] = {{"backup", "backup DEST", t_run}, {"do-it2", NULL, t_run},
                                    {NULL, NULL, NULL}};
static const lx_command t_other_cmds[] = {{"restore", NULL, t_run}, {"backup", NULL, t_run},
                                          {NULL, NULL, NULL}};
static const lx_command t_dup_cmds[] = {{"x", NULL, t_run}, {"x", NULL, t_run},
                                        {NULL, NULL, NULL}};
static const lx_command t_bad_cmds[] = {{"Backup", NULL, t_run}, {NULL, NULL, NULL}};
static const lx_command t_norun_cmds[] = {{"x", NULL, NULL}, {NULL, NULL, NULL}};

static void test_loader_reads_commands_only_when_the_plugins_minor_has_them(void **s)
{
    (void)s;
    lx_plugin p = good();
    char err[256] = "";
    p.commands = t_cmds;
    assert_ptr_equal(lx_plugin_commands(&p), t_cmds);
    assert_int_equal(lx_loader_check(&p, "/x/plug.so", "good", err, sizeof(err)), LX_OK);
    /* A 1.0 plugin's descriptor ends at `health`: what lies beyond is not
     * its own (here a bad table that must never be read). */
    p.abi_minor = 0;
    p.struct_size = (uint32_t)(offsetof(lx_plugin, health) + sizeof(p.health));
    p.commands = t_bad_cmds;
    assert_null(lx_plugin_commands(&p));
    assert_int_equal(lx_loader_check(&p, "/x/plug.so", "good", err, sizeof(err)), LX_OK);
    /* The minor decides, not struct_size: a descriptor that declares 1.0
     * has no commands even when it is long enough to hold the member. */
    p.struct_size = (uint32_t)sizeof(lx_plugin);
    assert_null(lx_plugin_commands(&p));
    assert_int_equal(lx_loader_check(&p, "/x/plug.so", "good", err, sizeof(err)), LX_OK);
    /* a 1.1 plugin without commands */
    lx_plugin q = good();
    assert_null(lx_plugin_commands(&q));
    assert_int_equal(lx_loader_check(&q, "/x/plug.so", "good", err, sizeof(err)), LX_OK);
}

static void test_loader_refuses_bad_or_duplicate_commands(void **s)
{
    (void)s;
    lx_plugin p = good();
    p.commands = t_dup_cmds;
    expect_refused(&p, "good", "two commands named 'x'");
    p.commands = t_bad_cmds;
    expect_refused(&p, "good", "bad name");
    p.commands = t_norun_cmds;
    expect_refused(&p, "good", "no run function");
}

static void test_loader_refuses_one_command_offered_by_two_plugins(void **s)
{
    (void)s;
    lx_plugin d[3] = {good(), good(), good()};
    d[0].name = "p";
    d[0].commands = t_cmds;
    d[1].name = "q"; /* no commands */
    d[2].name = "r";
    d[2].commands = t_other_cmds;
    lx_loaded items[3];
    lx_errs errs = {0};
    memset(items, 0, sizeof(items));
    for (size_t i = 0; i < 3; i++) {
        items[i].desc = &d[i];
        items[i].path = i == 0 ? "/x/p.so" : i == 1 ? "/x/q.so" : "/x/r.so";
    }
    assert_int_equal(lx_loader_check_commands(items, 2, &errs), LX_OK);
    assert_int_equal(errs.n_lines, 0);
    assert_int_equal(lx_loader_check_commands(items, 3, &errs), LX_EINVAL);
    assert_int_equal(errs.n_lines, 1);
    const char *line = errs.lines[0];
    assert_non_null(strstr(line, "command 'backup'"));
    assert_non_null(strstr(line, "/x/p.so"));
    assert_non_null(strstr(line, "/x/r.so"));
    lx_errs_clear(&errs);
}

/* --- ordering --- */

static const char *const svc_a[] = {"a.v1", NULL};
static const char *const svc_b[] = {"b.v1", NULL};
static const char *const svc_ab[] = {"a.v1", "b.v1", NULL};
static const char *const svc_missing[] = {"nothing.v1", NULL};

static void make_items(lx_loaded *items, lx_plugin *descs, size_t n)
{
    memset(items, 0, n * sizeof(*items));
    for (size_t i = 0; i < n; i++)
        items[i].desc = &descs[i];
}

static void test_loader_orders_providers_first(void **s)
{
    (void)s;
    lx_plugin d[3] = {
        {.name = "consumer", .requires = svc_ab},
        {.name = "b", .provides = svc_b, .requires = svc_a},
        {.name = "a", .provides = svc_a},
    };
    lx_loaded items[3];
    size_t order[3];
    lx_errs errs = {0};
    make_items(items, d, 3);
    assert_int_equal(lx_loader_order(items, 3, order, &errs), LX_OK);
    assert_int_equal(order[0], 2); /* a */
    assert_int_equal(order[1], 1); /* b needs a */
    assert_int_equal(order[2], 0); /* consumer needs both */
    lx_errs_clear(&errs);
}

static void test_loader_keeps_config_order_without_dependencies(void **s)
{
    (void)s;
    lx_plugin d[3] = {{.name = "x"}, {.name = "y"}, {.name = "z"}};
    lx_loaded items[3];
    size_t order[3];
    lx_errs errs = {0};
    make_items(items, d, 3);
    assert_int_equal(lx_loader_order(items, 3, order, &errs), LX_OK);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(order[i], i);
}

static void test_loader_names_an_unmet_requirement(void **s)
{
    (void)s;
    lx_plugin d[2] = {{.name = "needy", .requires = svc_missing}, {.name = "a", .provides = svc_a}};
    lx_loaded items[2];
    size_t order[2];
    lx_errs errs = {0};
    make_items(items, d, 2);
    assert_int_equal(lx_loader_order(items, 2, order, &errs), LX_EINVAL);
    assert_int_equal(errs.n_lines, 1);
    assert_non_null(strstr(errs.lines[0], "'nothing.v1'"));
    assert_non_null(strstr(errs.lines[0], "'needy'"));
    lx_errs_clear(&errs);
}

static void test_loader_refuses_a_cycle(void **s)
{
    (void)s;
    lx_plugin d[2] = {{.name = "p", .provides = svc_a, .requires = svc_b},
                      {.name = "q", .provides = svc_b, .requires = svc_a}};
    lx_loaded items[2];
    size_t order[2];
    lx_errs errs = {0};
    make_items(items, d, 2);
    assert_int_equal(lx_loader_order(items, 2, order, &errs), LX_EINVAL);
    assert_true(errs.n_lines >= 1);
    assert_non_null(strstr(errs.lines[0], "cycle"));
    lx_errs_clear(&errs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loader_accepts_a_good_descriptor),
        cmocka_unit_test(test_loader_refuses_major_mismatch_naming_both_versions),
        cmocka_unit_test(test_loader_refuses_a_newer_minor),
        cmocka_unit_test(test_loader_accepts_an_older_minor_shape),
        cmocka_unit_test(test_loader_refuses_a_short_descriptor),
        cmocka_unit_test(test_loader_refuses_a_descriptor_shorter_than_its_minor),
        cmocka_unit_test(test_loader_refuses_missing_mandatory_parts),
        cmocka_unit_test(test_loader_refuses_a_name_other_than_the_configs),
        cmocka_unit_test(test_loader_refuses_bad_or_duplicate_handlers),
        cmocka_unit_test(test_loader_reads_commands_only_when_the_plugins_minor_has_them),
        cmocka_unit_test(test_loader_refuses_bad_or_duplicate_commands),
        cmocka_unit_test(test_loader_refuses_one_command_offered_by_two_plugins),
        cmocka_unit_test(test_loader_orders_providers_first),
        cmocka_unit_test(test_loader_keeps_config_order_without_dependencies),
        cmocka_unit_test(test_loader_names_an_unmet_requirement),
        cmocka_unit_test(test_loader_refuses_a_cycle),
    };
    return cmocka_run_group_tests_name("loader", tests, NULL, NULL);
}
