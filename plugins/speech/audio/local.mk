# Dictation's audio input (included by Makefile.am): pure code, linked into
# the speech plugin, its unit tests and fuzzers. Needs --enable-dictation
# (the default): libopus, libogg, speexdsp.

LX_SPEECH_AUDIO = plugins/speech/audio/audio.h \
	plugins/speech/audio/webm.c plugins/speech/audio/webm.h \
	plugins/speech/audio/ogg.c plugins/speech/audio/ogg.h \
	plugins/speech/audio/wav.c plugins/speech/audio/wav.h \
	plugins/speech/audio/opusdec.c plugins/speech/audio/opusdec.h \
	plugins/speech/audio/input.c plugins/speech/audio/input.h \
	plugins/speech/audio/vad.c plugins/speech/audio/vad.h
EXTRA_DIST += $(LX_SPEECH_AUDIO) tests/unit/test_speech_audio.c

if LX_HAVE_DICTATION
# Real audio made by espeak-ng and ffmpeg (test-only tools) in a scratch directory.
check_PROGRAMS += tests/unit/test_speech_audio
tests_unit_test_speech_audio_SOURCES = tests/unit/test_speech_audio.c $(LX_SPEECH_AUDIO)
tests_unit_test_speech_audio_CFLAGS = $(LX_TEST_CFLAGS) $(SPEECH_AUDIO_CFLAGS) \
	-I$(top_srcdir)/plugins/speech/audio
tests_unit_test_speech_audio_LDADD = $(LX_TEST_LIBS) $(SPEECH_AUDIO_LIBS) -lm
endif
