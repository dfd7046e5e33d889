# Dictation (included by Makefile.am). The audio input: pure code, linked into
# the speech plugin, its unit tests and fuzzers. Needs --enable-dictation
# (the default): libopus, libogg, speexdsp.

LX_SPEECH_AUDIO = plugins/speech/audio/audio.h \
	plugins/speech/audio/webm.c plugins/speech/audio/webm.h \
	plugins/speech/audio/ogg.c plugins/speech/audio/ogg.h \
	plugins/speech/audio/wav.c plugins/speech/audio/wav.h \
	plugins/speech/audio/opusdec.c plugins/speech/audio/opusdec.h \
	plugins/speech/audio/input.c plugins/speech/audio/input.h \
	plugins/speech/audio/vad.c plugins/speech/audio/vad.h \
	plugins/speech/dictate.c plugins/speech/dictate.h
EXTRA_DIST += $(LX_SPEECH_AUDIO) tests/unit/test_speech_audio.c plugins/speech/stt.c \
	plugins/speech/stt_local.c plugins/speech/stt_net.c plugins/speech/stt_off.c

if LX_HAVE_DICTATION
# Real audio made by espeak-ng and ffmpeg (test-only tools) in a scratch directory.
check_PROGRAMS += tests/unit/test_speech_audio
tests_unit_test_speech_audio_SOURCES = tests/unit/test_speech_audio.c $(LX_SPEECH_AUDIO)
tests_unit_test_speech_audio_CFLAGS = $(LX_TEST_CFLAGS) $(SPEECH_AUDIO_CFLAGS) \
	-I$(top_srcdir)/plugins/speech/audio -I$(top_srcdir)/plugins/speech
tests_unit_test_speech_audio_LDADD = $(LX_TEST_LIBS) $(SPEECH_AUDIO_LIBS) -lm
endif

EXTRA_DIST += plugins/speech/helper/sphinx.c plugins/speech/helper/sphinx.h \
	tests/unit/test_speech_sphinx.c
if LX_HAVE_POCKETSPHINX
# pocketsphinx on speech flite reads (flite and the model: test-only and runtime data).
check_PROGRAMS += tests/unit/test_speech_sphinx
tests_unit_test_speech_sphinx_SOURCES = tests/unit/test_speech_sphinx.c $(LX_SPEECH_AUDIO) \
	plugins/speech/helper/sphinx.c plugins/speech/helper/sphinx.h
tests_unit_test_speech_sphinx_CFLAGS = $(LX_TEST_CFLAGS) $(SPEECH_AUDIO_CFLAGS) $(POCKETSPHINX_CFLAGS) \
	-I$(top_srcdir)/plugins/speech/audio -I$(top_srcdir)/plugins/speech/helper \
	-DLX_TEST_SPHINX_MODEL='"$(LX_POCKETSPHINX_MODEL)"'
tests_unit_test_speech_sphinx_LDADD = $(LX_TEST_LIBS) $(SPEECH_AUDIO_LIBS) $(POCKETSPHINX_LIBS) -lm
endif

# Network recognizers' wire formats (OpenAI-compatible, Google).
LX_SPEECH_STT_WIRE = plugins/speech/stt_wire.c plugins/speech/stt_wire.h
EXTRA_DIST += $(LX_SPEECH_STT_WIRE) tests/unit/test_speech_stt_wire.c
check_PROGRAMS += tests/unit/test_speech_stt_wire
tests_unit_test_speech_stt_wire_SOURCES = tests/unit/test_speech_stt_wire.c $(LX_SPEECH_STT_WIRE)
tests_unit_test_speech_stt_wire_CFLAGS = $(LX_TEST_CFLAGS) $(JSONC_CFLAGS) $(LIBCRYPTO_CFLAGS) \
	-I$(top_srcdir)/plugins/speech
tests_unit_test_speech_stt_wire_LDADD = $(LX_TEST_LIBS) $(JSONC_LIBS) $(LIBCRYPTO_LIBS)

# lexiaid-lm-prune: a pruned language model for pocketsphinx (plugins/speech/lm/lm.h);
# the Dockerfile ships one (docs/performance.md, "Container").
LX_LM_PRUNE = plugins/speech/lm/lm.h plugins/speech/lm/lm_model.c plugins/speech/lm/lm_trie.c \
	plugins/speech/lm/lm_prune.c plugins/speech/lm/lm_sphinx.c
EXTRA_DIST += $(LX_LM_PRUNE) plugins/speech/lm/lexiaid-lm-prune.c
if LX_HAVE_POCKETSPHINX
bin_PROGRAMS += plugins/speech/lm/lexiaid-lm-prune
plugins_speech_lm_lexiaid_lm_prune_SOURCES = plugins/speech/lm/lexiaid-lm-prune.c $(LX_LM_PRUNE)
plugins_speech_lm_lexiaid_lm_prune_CFLAGS = $(AM_CFLAGS) $(POCKETSPHINX_CFLAGS)
plugins_speech_lm_lexiaid_lm_prune_LDADD = $(POCKETSPHINX_LIBS) -lm
endif
