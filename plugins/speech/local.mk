# The speech plugin (included by Makefile.am): read-aloud with word times,
# flite and espeak-ng in the lexiaid-speech helper (see plugins/speech/speech.h).

plugin_LTLIBRARIES += plugins/speech/speech.la

# Pure pieces (no host calls, no I/O), also linked into the helper, unit
# tests and fuzzers.
LX_SPEECH_PURE = plugins/speech/words.c plugins/speech/words.h \
	plugins/speech/align.c plugins/speech/align.h \
	plugins/speech/proto.c plugins/speech/proto.h
plugins_speech_speech_la_SOURCES = plugins/speech/speech.c plugins/speech/speech.h \
	plugins/speech/routes.c plugins/speech/routes.h plugins/speech/svc.c plugins/speech/svc.h \
	plugins/speech/synth.c plugins/speech/synth.h plugins/speech/prefs.c plugins/speech/prefs.h \
	plugins/speech/provider.h \
	plugins/speech/local.c plugins/speech/join.c plugins/speech/join.h \
	plugins/speech/pool.c plugins/speech/pool.h \
	plugins/speech/cache.c plugins/speech/cache.h plugins/speech/body.c plugins/speech/body.h \
	plugins/speech/voices.c plugins/speech/voices.h $(LX_SPEECH_PURE) \
	plugins/speech/tts_cloud.c plugins/speech/tts_cloud.h plugins/speech/tts_google.c \
	plugins/speech/tts_openai.c $(LX_SPEECH_TTS_WIRE) \
	plugins/speech/google_auth.c plugins/speech/google_auth.h \
	plugins/speech/assets.c plugins/speech/assets.h plugins/speech/assets_make.c \
	plugins/speech/assets_params.c \
	$(LX_SPEECH_ASSETS_PURE) \
	plugins/speech/sign.c
# The assets' Range header, chunk planner and MP3 frame counter (pure).
LX_SPEECH_ASSETS_PURE = plugins/speech/assets_parse.c plugins/speech/assets_parse.h
# Cloud read-aloud's wire formats (pure: json-c, OpenSSL's base64).
LX_SPEECH_TTS_WIRE = plugins/speech/tts_wire.c plugins/speech/tts_wire.h
plugins_speech_speech_la_CFLAGS = $(LX_PLUGIN_CFLAGS) $(JSONC_CFLAGS) $(LIBCRYPTO_CFLAGS)
# Where `make install` puts the helper: the default of speech.helper.
plugins_speech_speech_la_CPPFLAGS = $(AM_CPPFLAGS) \
	-DLX_SPEECH_HELPER_PATH='"$(pkglibexecdir)/lexiaid-speech"'
plugins_speech_speech_la_LIBADD = sdk/liblexiaid_sdk.la $(JSONC_LIBS) $(LIBCRYPTO_LIBS) -lm
plugins_speech_speech_la_LDFLAGS = $(LX_PLUGIN_LDFLAGS)
# Dictation (plugins/speech/dictation.mk): the routes (the WebSocket's
# too) and configuration always; the streams, the audio input and the recognizers unless
# --disable-dictation.
plugins_speech_speech_la_SOURCES += plugins/speech/stt.h plugins/speech/stt_conf.c \
	plugins/speech/stt_routes.c plugins/speech/stt_routes.h plugins/speech/stt_ws.c \
	plugins/speech/recognizer.h
if LX_HAVE_DICTATION
plugins_speech_speech_la_SOURCES += plugins/speech/stt.c plugins/speech/stt_local.c \
	plugins/speech/stt_net.c $(LX_SPEECH_STT_WIRE) $(LX_SPEECH_AUDIO)
plugins_speech_speech_la_CFLAGS += $(SPEECH_AUDIO_CFLAGS)
plugins_speech_speech_la_LIBADD += $(SPEECH_AUDIO_LIBS)
else
plugins_speech_speech_la_SOURCES += plugins/speech/stt_off.c
endif

# The helper: the engines' process-global state lives here, never in a
# worker (pool.h). Not built with --disable-speech-flite --disable-speech-espeak-ng.
if LX_SPEECH_HELPER
pkglibexec_PROGRAMS += plugins/speech/helper/lexiaid-speech
plugins_speech_helper_lexiaid_speech_SOURCES = plugins/speech/helper/lexiaid-speech.c \
	plugins/speech/helper/engine.h plugins/speech/helper/espeak.c \
	plugins/speech/helper/flite.c plugins/speech/helper/mp3.c $(LX_SPEECH_PURE)
plugins_speech_helper_lexiaid_speech_CFLAGS = $(AM_CFLAGS) $(ESPEAK_NG_CFLAGS)
plugins_speech_helper_lexiaid_speech_LDADD = sdk/liblexiaid_sdk.la $(FLITE_LIBS) \
	$(ESPEAK_NG_LIBS) $(LAME_LIBS) $(PTHREAD_LIBS) -lm
if LX_HAVE_POCKETSPHINX
# dictation's offline recognizer (plugins/speech/dictation.mk has the rest)
plugins_speech_helper_lexiaid_speech_SOURCES += plugins/speech/helper/sphinx.c \
	plugins/speech/helper/sphinx.h
plugins_speech_helper_lexiaid_speech_CFLAGS += $(POCKETSPHINX_CFLAGS)
plugins_speech_helper_lexiaid_speech_LDADD += $(POCKETSPHINX_LIBS)
endif
endif

# ---------------------------------------------------------------- speech tests
EXTRA_DIST += tests/unit/test_speech_tts_wire.c
check_PROGRAMS += tests/unit/test_speech_tts_wire
tests_unit_test_speech_tts_wire_SOURCES = tests/unit/test_speech_tts_wire.c $(LX_SPEECH_TTS_WIRE) \
	$(LX_SPEECH_PURE)
tests_unit_test_speech_tts_wire_CFLAGS = $(LX_TEST_CFLAGS) $(JSONC_CFLAGS) $(LIBCRYPTO_CFLAGS) \
	-I$(top_srcdir)/plugins/speech
tests_unit_test_speech_tts_wire_LDADD = sdk/liblexiaid_sdk.la $(LX_TEST_LIBS) $(JSONC_LIBS) \
	$(LIBCRYPTO_LIBS) -lm
check_PROGRAMS += tests/unit/test_speech_words
tests_unit_test_speech_words_SOURCES = tests/unit/test_speech_words.c $(LX_SPEECH_PURE)
tests_unit_test_speech_words_CFLAGS = $(LX_TEST_CFLAGS) -I$(top_srcdir)/plugins/speech
tests_unit_test_speech_words_LDADD = sdk/liblexiaid_sdk.la $(LX_TEST_LIBS)
EXTRA_DIST += tests/unit/test_speech_assets.c
check_PROGRAMS += tests/unit/test_speech_assets
tests_unit_test_speech_assets_SOURCES = tests/unit/test_speech_assets.c $(LX_SPEECH_ASSETS_PURE) \
	plugins/speech/sign.c plugins/speech/join.c plugins/speech/join.h plugins/speech/proto.c \
	plugins/speech/proto.h
tests_unit_test_speech_assets_CFLAGS = $(LX_TEST_CFLAGS) $(LIBCRYPTO_CFLAGS) \
	-I$(top_srcdir)/plugins/speech
tests_unit_test_speech_assets_LDADD = $(LX_TEST_LIBS) $(LIBCRYPTO_LIBS) -lm
