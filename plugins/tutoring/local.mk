# The tutoring plugin (included by Makefile.am).

plugin_LTLIBRARIES += plugins/tutoring/tutoring.la
LX_TUTOR_PURE = plugins/tutoring/offline.c plugins/tutoring/offline.h \
	plugins/tutoring/offline_quiz.c plugins/tutoring/offline_edit.c plugins/tutoring/offline_int.h
plugins_tutoring_tutoring_la_SOURCES = plugins/tutoring/tutoring.c plugins/tutoring/tutoring.h \
	plugins/tutoring/chat.c plugins/tutoring/chat_quiz.c plugins/tutoring/chat.h \
	plugins/tutoring/quiz.c plugins/tutoring/quiz.h \
	plugins/tutoring/answer.c $(LX_TUTOR_PURE)
plugins_tutoring_tutoring_la_CFLAGS = $(LX_PLUGIN_CFLAGS) $(JSONC_CFLAGS)
plugins_tutoring_tutoring_la_LIBADD = $(JSONC_LIBS) -lm
plugins_tutoring_tutoring_la_LDFLAGS = $(LX_PLUGIN_LDFLAGS)

check_PROGRAMS += tests/unit/test_tutoring_offline
tests_unit_test_tutoring_offline_SOURCES = tests/unit/test_tutoring_offline.c $(LX_TUTOR_PURE)
tests_unit_test_tutoring_offline_CFLAGS = $(LX_TEST_CFLAGS) -I$(top_srcdir)/plugins/tutoring
tests_unit_test_tutoring_offline_LDADD = $(LX_TEST_LIBS)
