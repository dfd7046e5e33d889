/*
 * The public ABI as plugin.h's "Versioning" states it, pinned at compile
 * time: lx_host and lx_plugin only grow at their end (each member listed
 * here in order, with the minor it arrived in), and the structures handed
 * over in arrays are frozen. A change to a header that breaks either fails
 * to build this test; a member added at the end is added to its list here
 * (with a minor bump), which is the review point.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <lexiaid/plugin.h>
#include <lexiaid/svc/storage_v1.h>

/* ---------------------------------------------------------------- grows at its end */

/* lx_host: three uint32_t, then one function pointer per member, in this
 * order. X(member, minor it arrived in). */
/* clang-format off */
#define LX_HOST_MEMBERS(X) \
    X(log, 0) \
    X(log_enabled, 0) \
    X(cfg_string, 0) \
    X(cfg_int, 0) \
    X(cfg_bool, 0) \
    X(cfg_size, 0) \
    X(cfg_ms, 0) \
    X(cfg_child, 0) \
    X(cfg_count, 0) \
    X(cfg_elem, 0) \
    X(cfg_value, 0) \
    X(cfg_check_keys, 0) \
    X(cfg_where, 0) \
    X(data_dir, 0) \
    X(req_method, 0) \
    X(req_path, 0) \
    X(req_route, 0) \
    X(req_param, 0) \
    X(req_query, 0) \
    X(req_header, 0) \
    X(req_body, 0) \
    X(req_id, 0) \
    X(req_peer, 0) \
    X(req_worker, 0) \
    X(reply, 0) \
    X(reply_json, 0) \
    X(reply_error, 0) \
    X(set_header, 0) \
    X(reply_start, 0) \
    X(reply_chunk, 0) \
    X(reply_end, 0) \
    X(ctx_set, 0) \
    X(ctx_get, 0) \
    X(req_set_user, 0) \
    X(req_alloc, 0) \
    X(req_on_cleanup, 0) \
    X(req_resume, 0) \
    X(req_on_abort, 0) \
    X(req_is_gone, 0) \
    X(http_fetch, 0) \
    X(http_cancel, 0) \
    X(http_header, 0) \
    X(offload, 0) \
    X(timer_start, 0) \
    X(timer_stop, 0) \
    X(svc_register, 0) \
    X(svc_lookup, 0) \
    X(worker_index, 0) \
    X(worker_stopping, 0) \
    X(health_check, 0) \
    X(metrics_render, 0) \
    X(alloc, 0) \
    X(free, 0) \
    X(req_is_websocket, 3) \
    X(ws_accept, 3) \
    X(ws_reject, 3) \
    X(ws_send, 3) \
    X(ws_queued, 3) \
    X(ws_close, 3) \
    X(ws_resume, 3) \
    X(ws_id, 3) \
    X(ws_worker, 3) \
    X(watch_start, 4) \
    X(watch_set, 4) \
    X(watch_stop, 4)
/* clang-format on */

enum {
#define LX_COUNT(m, minor) lx_host_index_##m,
    LX_HOST_MEMBERS(LX_COUNT) lx_host_n_members
#undef LX_COUNT
};

#define LX_FN_SIZE sizeof(void (*)(void))
#define LX_HOST_FIRST_FN (((3 * sizeof(uint32_t)) + LX_FN_SIZE - 1) / LX_FN_SIZE * LX_FN_SIZE)
#define LX_HOST_AT(m, minor)                                                                       \
    _Static_assert(offsetof(lx_host, m) == LX_HOST_FIRST_FN + lx_host_index_##m * LX_FN_SIZE,      \
                   "lx_host." #m " moved: lx_host only grows at its end");                         \
    _Static_assert((minor) <= LX_ABI_MINOR, "lx_host." #m " is newer than the ABI");
LX_HOST_MEMBERS(LX_HOST_AT)
_Static_assert(sizeof(lx_host) == LX_HOST_FIRST_FN + lx_host_n_members * LX_FN_SIZE,
               "lx_host has a member this list lacks: add it at the end, with its minor");

/* lx_plugin: the members of 1.0, then 1.1's commands. */
struct abi_plugin_1_1 {
    uint32_t abi_major, abi_minor, struct_size, flags;
    const char *name, *version, *description;
    const lx_handler *handlers;
    const char *const *provides, *const *requires;
    void *init, *worker_start, *worker_stop, *shutdown, *health; /* 1.0 ends here */
    const lx_command *commands;                                  /* 1.1 */
};
#define LX_SAME(a, b, m) _Static_assert(offsetof(a, m) == offsetof(b, m), #a "." #m " moved")
LX_SAME(lx_plugin, struct abi_plugin_1_1, flags);
LX_SAME(lx_plugin, struct abi_plugin_1_1, name);
LX_SAME(lx_plugin, struct abi_plugin_1_1, handlers);
LX_SAME(lx_plugin, struct abi_plugin_1_1, requires);
LX_SAME(lx_plugin, struct abi_plugin_1_1, init);
LX_SAME(lx_plugin, struct abi_plugin_1_1, health);
LX_SAME(lx_plugin, struct abi_plugin_1_1, commands);
_Static_assert(sizeof(lx_plugin) == sizeof(struct abi_plugin_1_1),
               "lx_plugin grew: add the member here and its size to core/loader.c's table");

/* lx_ws_handler (1.3): struct_size, then its callbacks; grows at its end
 * (the core reads only what struct_size covers). */
struct abi_ws_handler_1_3 {
    uint32_t struct_size;
    void *on_message, *on_close, *on_drain;
};
LX_SAME(lx_ws_handler, struct abi_ws_handler_1_3, on_message);
LX_SAME(lx_ws_handler, struct abi_ws_handler_1_3, on_close);
LX_SAME(lx_ws_handler, struct abi_ws_handler_1_3, on_drain);
_Static_assert(sizeof(lx_ws_handler) == sizeof(struct abi_ws_handler_1_3),
               "lx_ws_handler grew: add the member here, at its end, with a minor bump");

/* ---------------------------------------------------------------- frozen */

struct abi_handler {
    const char *name;
    lx_handler_fn fn;
    unsigned flags;
};
struct abi_command {
    const char *name, *usage;
    void *run;
};
struct abi_health_item {
    const char *plugin;
    int is_ok;
    const char *detail;
};
struct abi_passage {
    int64_t seq;
    double score;
    const char *text;
};
struct abi_record {
    const char *key, *json;
    int64_t seq;
    const char *created_at, *updated_at;
};
struct abi_op {
    uint32_t type;
    const char *kind, *key, *json, *activity;
    int64_t points;
    double score, max_score;
};
#define LX_FROZEN(t, mirror)                                                                       \
    _Static_assert(sizeof(t) == sizeof(struct mirror), #t " is frozen (handed over in "            \
                                                          "arrays): a new field needs a new "      \
                                                          "structure")
LX_FROZEN(lx_handler, abi_handler);
LX_FROZEN(lx_command, abi_command);
LX_FROZEN(lx_health_item, abi_health_item);
LX_FROZEN(lx_storage_passage, abi_passage);
LX_FROZEN(lx_storage_record, abi_record);
LX_FROZEN(lx_storage_op, abi_op);
LX_SAME(lx_health_item, struct abi_health_item, detail);
LX_SAME(lx_storage_passage, struct abi_passage, text);
LX_SAME(lx_storage_record, struct abi_record, updated_at);
LX_SAME(lx_storage_op, struct abi_op, max_score);

/* ---------------------------------------------------------------- the minor test */

static void test_abi_host_has_minor_compares_the_cores_minor(void **s)
{
    (void)s;
    lx_host h = {.abi_major = LX_ABI_MAJOR, .abi_minor = 1, .struct_size = sizeof(lx_host)};
    assert_true(LX_HOST_HAS_MINOR(&h, 0));
    assert_true(LX_HOST_HAS_MINOR(&h, 1));
    assert_false(LX_HOST_HAS_MINOR(&h, 2));
    h.abi_major = LX_ABI_MAJOR + 1; /* another major: nothing of ours is there */
    assert_false(LX_HOST_HAS_MINOR(&h, 0));
}

static void test_abi_plugin_header_declares_this_headers_version(void **s)
{
    (void)s;
    lx_plugin p = {LX_PLUGIN_HEADER};
    assert_int_equal(p.abi_major, LX_ABI_MAJOR);
    assert_int_equal(p.abi_minor, LX_ABI_MINOR);
    assert_int_equal(p.struct_size, sizeof(lx_plugin));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_abi_host_has_minor_compares_the_cores_minor),
        cmocka_unit_test(test_abi_plugin_header_declares_this_headers_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
