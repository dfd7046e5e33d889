#!/bin/sh
# Remakes the seed corpora of the speech audio fuzzers (tests/fuzz/corpus/
# speech_webm, speech_ogg, speech_input) from a word espeak-ng speaks:
# WebM/Opus as MediaRecorder writes it (unknown sizes come from ffmpeg's
# live mode for the Segment), Ogg/Opus and WAV, each a fraction of a second.
# Each fuzzer's input starts with its own control bytes (see its header).
# Needs espeak-ng and ffmpeg (scripts/deps.sh --test).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
ff="ffmpeg -nostdin -loglevel error -y"
espeak-ng -w "$t/w.wav" "yes"
$ff -i "$t/w.wav" -t 0.3 -ar 8000 -c:a pcm_s16le "$t/s.wav"
$ff -i "$t/w.wav" -t 0.3 -c:a libopus -b:a 16k -frame_duration 60 -f webm -live 1 \
    -cluster_time_limit 100 "$t/s.webm"
$ff -i "$t/w.wav" -t 0.3 -c:a libopus -b:a 16k "$t/s.ogg"
c=$root/tests/fuzz/corpus
mkdir -p "$c/speech_webm" "$c/speech_ogg" "$c/speech_input"
{ printf '\100\000'; cat "$t/s.webm"; } >"$c/speech_webm/seed1"
{ printf '\077'; cat "$t/s.ogg"; } >"$c/speech_ogg/seed1"
{ printf '\020\000'; cat "$t/s.webm"; } >"$c/speech_input/seed_webm"
{ printf '\020\000'; cat "$t/s.ogg"; } >"$c/speech_input/seed_ogg"
{ printf '\020\000'; cat "$t/s.wav"; } >"$c/speech_input/seed_wav"
ls -l "$c/speech_webm" "$c/speech_ogg" "$c/speech_input"
