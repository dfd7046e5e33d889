# Tests: `make check` runs the cmocka unit tests, then the integration tests
# that start the real binary with the test plugins of tests/plugins/.

LX_TEST_CFLAGS = $(LX_CORE_CPPFLAGS) $(AM_CFLAGS) $(LX_CORE_DEPS_CFLAGS) $(CMOCKA_CFLAGS)
LX_TEST_LIBS = $(LX_CORE_DEPS_LIBS) $(CMOCKA_LIBS)

# ---------------------------------------------------------------- unit tests
check_PROGRAMS += tests/unit/test_env tests/unit/test_conf tests/unit/test_router \
	tests/unit/test_loader tests/unit/test_abi tests/unit/test_offload tests/unit/test_http_client \
	tests/unit/test_http_parse tests/unit/test_ws_handshake

tests_unit_test_env_SOURCES = tests/unit/test_env.c core/env.c
tests_unit_test_env_CFLAGS = $(LX_TEST_CFLAGS)
tests_unit_test_env_LDADD = $(LX_TEST_LIBS)

tests_unit_test_conf_SOURCES = tests/unit/test_conf.c core/conf.c core/cfg.c core/env.c core/errs.c
tests_unit_test_conf_CFLAGS = $(LX_TEST_CFLAGS)
tests_unit_test_conf_LDADD = $(LX_TEST_LIBS)

tests_unit_test_router_SOURCES = tests/unit/test_router.c core/router.c
tests_unit_test_router_CFLAGS = $(LX_TEST_CFLAGS)
tests_unit_test_router_LDADD = $(LX_TEST_LIBS)

tests_unit_test_http_parse_SOURCES = tests/unit/test_http_parse.c core/http_parse.c
tests_unit_test_http_parse_CFLAGS = $(LX_TEST_CFLAGS)
tests_unit_test_http_parse_LDADD = $(LX_TEST_LIBS)

tests_unit_test_ws_handshake_SOURCES = tests/unit/test_ws_handshake.c core/ws_handshake.c core/log.c
tests_unit_test_ws_handshake_CFLAGS = $(LX_TEST_CFLAGS)
tests_unit_test_ws_handshake_LDADD = $(LX_TEST_LIBS)

tests_unit_test_loader_SOURCES = tests/unit/test_loader.c core/loader.c core/errs.c
tests_unit_test_loader_CFLAGS = $(LX_TEST_CFLAGS)
tests_unit_test_loader_LDADD = $(LX_TEST_LIBS)

tests_unit_test_abi_SOURCES = tests/unit/test_abi.c
tests_unit_test_abi_CFLAGS = $(LX_TEST_CFLAGS)
tests_unit_test_abi_LDADD = $(LX_TEST_LIBS)

tests_unit_test_offload_SOURCES = tests/unit/test_offload.c core/offload.c
tests_unit_test_offload_CFLAGS = $(LX_TEST_CFLAGS)
tests_unit_test_offload_LDADD = $(LX_TEST_LIBS)

tests_unit_test_http_client_SOURCES = tests/unit/test_http_client.c
tests_unit_test_http_client_CFLAGS = $(LX_TEST_CFLAGS) \
	-DLX_TEST_HTTPC_MODULE='"$(abs_top_builddir)/core/.libs/lx_http_client.so"'
tests_unit_test_http_client_LDADD = $(LX_TEST_LIBS)

check_PROGRAMS += tests/unit/test_auth_jwt tests/unit/test_auth_keys tests/unit/test_auth_verify
LX_AUTH_TEST_CFLAGS = $(LX_TEST_CFLAGS) $(JSONC_CFLAGS) $(LIBCRYPTO_CFLAGS) -I$(top_srcdir)/plugins/auth
LX_AUTH_TEST_LIBS = $(LX_TEST_LIBS) $(JSONC_LIBS) $(LIBCRYPTO_LIBS)
tests_unit_test_auth_jwt_SOURCES = tests/unit/test_auth_jwt.c $(LX_AUTH_PURE)
tests_unit_test_auth_jwt_CFLAGS = $(LX_AUTH_TEST_CFLAGS)
tests_unit_test_auth_jwt_LDADD = $(LX_AUTH_TEST_LIBS)
tests_unit_test_auth_keys_SOURCES = tests/unit/test_auth_keys.c $(LX_AUTH_PURE)
tests_unit_test_auth_keys_CFLAGS = $(LX_AUTH_TEST_CFLAGS)
tests_unit_test_auth_keys_LDADD = $(LX_AUTH_TEST_LIBS)
tests_unit_test_auth_verify_SOURCES = tests/unit/test_auth_verify.c $(LX_AUTH_PURE)
tests_unit_test_auth_verify_CFLAGS = $(LX_AUTH_TEST_CFLAGS)
tests_unit_test_auth_verify_LDADD = $(LX_AUTH_TEST_LIBS)

TESTS += $(check_PROGRAMS)

# ---------------------------------------------------------------- test plugins
# Small plugins that behave, and misbehave on purpose, to pin down the
# kernel's promises (as Redis's tests/modules). -rpath makes libtool build
# real shared objects for check targets.
LX_TEST_PLUGIN_LDFLAGS = $(LX_PLUGIN_LDFLAGS) -rpath /nowhere
check_LTLIBRARIES += tests/plugins/testplug.la tests/plugins/bad_abi_major.la \
	tests/plugins/newer_minor.la tests/plugins/no_entry.la tests/plugins/init_fails.la \
	tests/plugins/needs_missing.la tests/plugins/svc_provider.la tests/plugins/svc_consumer.la \
	tests/plugins/no_init.la tests/plugins/storage_client.la tests/plugins/ws_echo.la

tests_plugins_testplug_la_SOURCES = tests/plugins/testplug.c
tests_plugins_testplug_la_CFLAGS = $(LX_PLUGIN_CFLAGS)
tests_plugins_testplug_la_LDFLAGS = $(LX_TEST_PLUGIN_LDFLAGS)
tests_plugins_bad_abi_major_la_SOURCES = tests/plugins/bad_abi_major.c
tests_plugins_bad_abi_major_la_CFLAGS = $(LX_PLUGIN_CFLAGS)
tests_plugins_bad_abi_major_la_LDFLAGS = $(LX_TEST_PLUGIN_LDFLAGS)
tests_plugins_newer_minor_la_SOURCES = tests/plugins/newer_minor.c
tests_plugins_newer_minor_la_CFLAGS = $(LX_PLUGIN_CFLAGS)
tests_plugins_newer_minor_la_LDFLAGS = $(LX_TEST_PLUGIN_LDFLAGS)
tests_plugins_no_entry_la_SOURCES = tests/plugins/no_entry.c
tests_plugins_no_entry_la_CFLAGS = $(LX_PLUGIN_CFLAGS)
tests_plugins_no_entry_la_LDFLAGS = -module -avoid-version -shared -rpath /nowhere $(LX_SAN_FLAGS)
tests_plugins_init_fails_la_SOURCES = tests/plugins/init_fails.c
tests_plugins_init_fails_la_CFLAGS = $(LX_PLUGIN_CFLAGS)
tests_plugins_init_fails_la_LDFLAGS = $(LX_TEST_PLUGIN_LDFLAGS)
tests_plugins_needs_missing_la_SOURCES = tests/plugins/needs_missing.c
tests_plugins_needs_missing_la_CFLAGS = $(LX_PLUGIN_CFLAGS)
tests_plugins_needs_missing_la_LDFLAGS = $(LX_TEST_PLUGIN_LDFLAGS)
tests_plugins_svc_provider_la_SOURCES = tests/plugins/svc_provider.c
tests_plugins_svc_provider_la_CFLAGS = $(LX_PLUGIN_CFLAGS)
tests_plugins_svc_provider_la_LDFLAGS = $(LX_TEST_PLUGIN_LDFLAGS)
tests_plugins_svc_consumer_la_SOURCES = tests/plugins/svc_consumer.c
tests_plugins_svc_consumer_la_CFLAGS = $(LX_PLUGIN_CFLAGS)
tests_plugins_svc_consumer_la_LDFLAGS = $(LX_TEST_PLUGIN_LDFLAGS)
tests_plugins_no_init_la_SOURCES = tests/plugins/no_init.c
tests_plugins_no_init_la_CFLAGS = $(LX_PLUGIN_CFLAGS)
tests_plugins_no_init_la_LDFLAGS = $(LX_TEST_PLUGIN_LDFLAGS)
tests_plugins_ws_echo_la_SOURCES = tests/plugins/ws_echo.c
tests_plugins_ws_echo_la_CFLAGS = $(LX_PLUGIN_CFLAGS)
tests_plugins_ws_echo_la_LDFLAGS = $(LX_TEST_PLUGIN_LDFLAGS)
tests_plugins_storage_client_la_SOURCES = tests/plugins/storage_client.c
tests_plugins_storage_client_la_CFLAGS = $(LX_PLUGIN_CFLAGS)
tests_plugins_storage_client_la_LDFLAGS = $(LX_TEST_PLUGIN_LDFLAGS)

# Plugins that must not build: one includes a core header, one calls a core
# function. Not built by `make` or `make check`; tests/build/test_plugin_boundary.sh
# asks make for each and expects the compiler's (or the linker's) refusal.
EXTRA_LTLIBRARIES = tests/plugins/bad_core_include.la tests/plugins/bad_core_call.la
tests_plugins_bad_core_include_la_SOURCES = tests/plugins/bad_core_include.c
tests_plugins_bad_core_include_la_CFLAGS = $(LX_PLUGIN_CFLAGS)
tests_plugins_bad_core_include_la_LDFLAGS = $(LX_TEST_PLUGIN_LDFLAGS)
tests_plugins_bad_core_call_la_SOURCES = tests/plugins/bad_core_call.c
tests_plugins_bad_core_call_la_CFLAGS = $(LX_PLUGIN_CFLAGS)
tests_plugins_bad_core_call_la_LDFLAGS = $(LX_TEST_PLUGIN_LDFLAGS)

# ---------------------------------------------------------------- integration tests
TEST_EXTENSIONS = .py .sh
PY_LOG_COMPILER = $(PYTHON3)
SH_LOG_COMPILER = $(SHELL)
AM_TESTS_ENVIRONMENT = \
	LX_SRCDIR='$(abs_top_srcdir)'; LX_BUILDDIR='$(abs_top_builddir)'; \
	LX_BINARY='$(abs_top_builddir)/lexiaid'; \
	LEXIAID_HTTP_CLIENT_MODULE='$(abs_top_builddir)/core/.libs/lx_http_client.so'; \
	LEXIAID_EXTRACTOR='$(abs_top_builddir)/plugins/storage/extract/lexiaid-extract'; \
	LEXIAID_SPEECH_HELPER='$(abs_top_builddir)/plugins/speech/helper/lexiaid-speech'; \
	MAKE='$(MAKE)'; LX_NOUNDEF='$(LX_NOUNDEF)'; \
	LX_HAVE_POSTGRES='$(LX_HAVE_POSTGRES)'; LX_HAVE_OCR='$(LX_HAVE_OCR)'; \
	LX_HAVE_SPEECH_FLITE='$(LX_HAVE_SPEECH_FLITE)'; LX_HAVE_SPEECH_ESPEAK_NG='$(LX_HAVE_SPEECH_ESPEAK_NG)'; \
	LX_HAVE_DICTATION='$(LX_HAVE_DICTATION)'; LX_HAVE_POCKETSPHINX='$(LX_HAVE_POCKETSPHINX)'; \
	ASAN_OPTIONS='handle_segv=0:handle_abort=0:detect_leaks=1:abort_on_error=0'; \
	LSAN_OPTIONS='suppressions=$(abs_top_srcdir)/tests/lsan.supp:print_suppressions=0'; \
	UBSAN_OPTIONS='print_stacktrace=1:halt_on_error=1'; \
	TSAN_OPTIONS='handle_segv=0:handle_abort=0:exitcode=66:second_deadlock_stack=1:suppressions=$(abs_top_srcdir)/tests/tsan.supp'; \
	export LX_SRCDIR LX_BUILDDIR LX_BINARY LEXIAID_HTTP_CLIENT_MODULE LEXIAID_EXTRACTOR MAKE LX_NOUNDEF \
	LEXIAID_SPEECH_HELPER LX_HAVE_POSTGRES LX_HAVE_OCR LX_HAVE_SPEECH_FLITE LX_HAVE_SPEECH_ESPEAK_NG \
	LX_HAVE_DICTATION LX_HAVE_POCKETSPHINX \
	ASAN_OPTIONS \
	LSAN_OPTIONS UBSAN_OPTIONS TSAN_OPTIONS;
LX_INTEGRATION_TESTS = \
	tests/integration/test_cli.py \
	tests/integration/test_config.py \
	tests/integration/test_http.py \
	tests/integration/test_cors_browser.py \
	tests/integration/test_hostile.py \
	tests/integration/test_plugins.py \
	tests/integration/test_log.py \
	tests/integration/test_signals.py \
	tests/integration/test_generations.py \
	tests/integration/test_instance.py \
	tests/integration/test_health.py \
	tests/integration/test_auth.py \
	tests/integration/test_auth_emulator.py \
	tests/integration/test_frontend_accounts.py \
	tests/integration/test_emulator_restart.py \
	tests/integration/test_sdk.sh \
	tests/build/test_plugin_boundary.sh \
	tests/build/test_default_paths.sh \
	tests/integration/test_container_base.sh \
	tests/integration/test_storage_extract.py \
	tests/integration/test_storage_docs.py \
	tests/integration/test_storage_users.py \
	tests/integration/test_storage_crash.py \
	tests/integration/test_storage_faults.py \
	tests/integration/test_storage_backup.py \
	tests/integration/test_storage_options.py \
	tests/integration/test_tutoring_chat.py \
	tests/integration/test_tutoring_answer.py \
	tests/integration/test_tutoring_providers.py \
	tests/integration/test_tutoring_stream.py \
	tests/integration/test_storage_svc.py \
	tests/integration/test_storage_replicas.py \
	tests/integration/test_websocket.py \
	tests/integration/test_websocket_auth.py \
	tests/integration/test_websocket_browser.py \
	tests/integration/test_speech_helper.py \
	tests/integration/test_speech_tts.py \
	tests/integration/test_speech_reply.py \
	tests/integration/test_speech_assets.py \
	tests/integration/test_speech_stt.py \
	tests/integration/test_speech_stt_net.py \
	tests/integration/test_speech_tts_cloud.py \
	tests/integration/test_speech_google_sa.py \
	tests/integration/test_speech_stt_ws.py \
	tests/integration/test_speech_stt_browser.py \
	tests/integration/test_speech_lm_prune.py
TESTS += $(LX_INTEGRATION_TESTS)
EXTRA_DIST += $(LX_INTEGRATION_TESTS) tests/integration/lxtest.py tests/integration/lxkeys.py \
	tests/integration/lxstorage.py tests/integration/lxsamples.py tests/integration/lxtutor.py \
	tests/integration/lxfakellm.py tests/integration/lxemulator.py tests/integration/gated_extract.py \
	tests/integration/lxws.py \
	tests/integration/lxspeech.py \
	tests/integration/lxaudio.py \
	tests/integration/lxfakestt.py \
	tests/integration/lxfaketts.py \
	tests/integration/lxfakeoauth.py \
	tests/integration/data/lm/small.arpa tests/integration/data/lm/make_small.py \
	tests/lsan.supp tests/tsan.supp tests/unit/no_cmocka.h \
	tests/container/certs.py tests/container/check-env-doc.py tests/container/check-k8s.py \
	tests/container/lib.sh tests/container/overrides.sh tests/container/run.sh \
	tests/fuzz/run.sh tests/fuzz/check_utf8.h tests/fuzz/corpus tests/fuzz/make-speech-seeds.sh \
	tests/fuzz/fuzz_conf.c tests/fuzz/fuzz_env.c tests/fuzz/fuzz_http.c tests/fuzz/fuzz_jwt.c \
	tests/fuzz/fuzz_keys.c \
	tests/fuzz/fuzz_llm.c tests/fuzz/fuzz_multipart.c tests/fuzz/fuzz_offline.c \
	tests/fuzz/fuzz_prompt.c tests/fuzz/fuzz_router.c tests/fuzz/fuzz_sniff.c tests/fuzz/fuzz_plain.c \
	tests/fuzz/fuzz_ws_session.c tests/fuzz/fuzz_speech_words.c tests/fuzz/fuzz_speech_proto.c \
	tests/fuzz/fuzz_speech_tts_wire.c \
	tests/fuzz/fuzz_speech_webm.c tests/fuzz/fuzz_speech_ogg.c tests/fuzz/fuzz_speech_input.c \
	tests/fuzz/fuzz_speech_assets.c tests/fuzz/fuzz_chat_turns.c
