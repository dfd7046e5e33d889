# The tutoring plugin (included by Makefile.am).

plugin_LTLIBRARIES += plugins/tutoring/tutoring.la
# Pure pieces (no host calls, no I/O), also linked into unit tests and fuzzers.
LX_TUTOR_PURE = plugins/tutoring/buf.c plugins/tutoring/buf.h plugins/tutoring/offline.c plugins/tutoring/offline.h \
	plugins/tutoring/offline_quiz.c plugins/tutoring/offline_refine.c plugins/tutoring/offline_edit.c \
	plugins/tutoring/offline_edit_args.c plugins/tutoring/offline_edit_text.c \
	plugins/tutoring/offline_edit_sentences.c plugins/tutoring/offline_edit.h \
	plugins/tutoring/offline_int.h
LX_TUTOR_WIRE = plugins/tutoring/llm_wire.c plugins/tutoring/llm.h \
	plugins/tutoring/prompt.c plugins/tutoring/prompt.h \
	plugins/tutoring/chat_turns.c plugins/tutoring/chat_turns.h
plugins_tutoring_tutoring_la_SOURCES = plugins/tutoring/tutoring.c plugins/tutoring/tutoring.h \
	plugins/tutoring/chat.c plugins/tutoring/chat_quiz.c plugins/tutoring/chat.h \
	plugins/tutoring/chat_model.c plugins/tutoring/chat_history.c \
	plugins/tutoring/chat_input.c plugins/tutoring/chat_input.h \
	plugins/tutoring/quiz.c plugins/tutoring/quiz.h \
	plugins/tutoring/llm.c \
	plugins/tutoring/answer.c plugins/tutoring/reply_audio.c plugins/tutoring/reply_audio.h \
	$(LX_TUTOR_PURE) $(LX_TUTOR_WIRE)
plugins_tutoring_tutoring_la_CFLAGS = $(LX_PLUGIN_CFLAGS) $(JSONC_CFLAGS)
plugins_tutoring_tutoring_la_LIBADD = sdk/liblexiaid_sdk.la $(JSONC_LIBS) -lm
plugins_tutoring_tutoring_la_LDFLAGS = $(LX_PLUGIN_LDFLAGS)

check_PROGRAMS += tests/unit/test_tutoring_offline
tests_unit_test_tutoring_offline_SOURCES = tests/unit/test_tutoring_offline.c $(LX_TUTOR_PURE)
tests_unit_test_tutoring_offline_CFLAGS = $(LX_TEST_CFLAGS) -I$(top_srcdir)/plugins/tutoring
tests_unit_test_tutoring_offline_LDADD = sdk/liblexiaid_sdk.la $(LX_TEST_LIBS)

# Provider wire formats: request bodies, answers, SSE streams.
check_PROGRAMS += tests/unit/test_tutoring_llm
tests_unit_test_tutoring_llm_SOURCES = tests/unit/test_tutoring_llm.c $(LX_TUTOR_PURE) $(LX_TUTOR_WIRE)
tests_unit_test_tutoring_llm_CFLAGS = $(LX_TEST_CFLAGS) $(JSONC_CFLAGS) -I$(top_srcdir)/plugins/tutoring
tests_unit_test_tutoring_llm_LDADD = sdk/liblexiaid_sdk.la $(LX_TEST_LIBS) $(JSONC_LIBS) -lm

# Prompts and the parsers of structured answers.
check_PROGRAMS += tests/unit/test_tutoring_prompt
tests_unit_test_tutoring_prompt_SOURCES = tests/unit/test_tutoring_prompt.c $(LX_TUTOR_PURE) $(LX_TUTOR_WIRE)
tests_unit_test_tutoring_prompt_CFLAGS = $(LX_TEST_CFLAGS) $(JSONC_CFLAGS) -I$(top_srcdir)/plugins/tutoring
tests_unit_test_tutoring_prompt_LDADD = sdk/liblexiaid_sdk.la $(LX_TEST_LIBS) $(JSONC_LIBS) -lm

# A thread's turns for the reply (copied when stored in json-c's form) and
# for the model: the same bytes either way.
check_PROGRAMS += tests/unit/test_tutoring_turns
tests_unit_test_tutoring_turns_SOURCES = tests/unit/test_tutoring_turns.c $(LX_TUTOR_PURE) $(LX_TUTOR_WIRE)
tests_unit_test_tutoring_turns_CFLAGS = $(LX_TEST_CFLAGS) $(JSONC_CFLAGS) -I$(top_srcdir)/plugins/tutoring
tests_unit_test_tutoring_turns_LDADD = sdk/liblexiaid_sdk.la $(LX_TEST_LIBS) $(JSONC_LIBS) -lm
