#!/usr/bin/env bash
# Builds every libFuzzer target of tests/fuzz/ and runs each for a bounded
# time over a scratch copy of its seed corpus (tests/fuzz/corpus/NAME/), so
# new corpus entries never land in the repository.
#
# Usage: tests/fuzz/run.sh [SECONDS_EACH]   (default 60; from any directory)
# Env:   LX_FUZZ_DIR  build and scratch directory (default: a fresh mktemp
#                     directory, removed at exit when nothing crashed)
#        CC           the compiler (default clang; it must support
#                     -fsanitize=fuzzer)
# Exit:  0 when every target ran clean; 1 on a crash, naming the target and
#        the crash file; 2 on a usage or build error.
set -euo pipefail

secs=${1:-60}
if ! [[ $secs =~ ^[0-9]+$ ]] || [ "$secs" -eq 0 ]; then
    echo "usage: $0 [SECONDS_EACH]" >&2
    exit 2
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cc=${CC:-clang}

# target name -> its core sources (relative to the root); extra flags below.
declare -A sources=(
    [fuzz_router]="core/router.c"
    [fuzz_http]="core/http_parse.c"
    [fuzz_env]="core/env.c"
    [fuzz_conf]="core/conf.c core/cfg.c core/env.c core/errs.c"
    [fuzz_jwt]="plugins/auth/jwt.c plugins/auth/keys.c plugins/auth/verify.c"
    [fuzz_keys]="plugins/auth/jwt.c plugins/auth/keys.c plugins/auth/verify.c"
    [fuzz_multipart]="sdk/multipart.c sdk/utf8.c"
    [fuzz_sniff]="plugins/storage/text/sniff.c plugins/storage/text/text.c sdk/utf8.c"
    [fuzz_plain]="plugins/storage/text/plain.c plugins/storage/text/text.c sdk/utf8.c"
    [fuzz_offline]="sdk/utf8.c plugins/tutoring/buf.c plugins/tutoring/offline.c plugins/tutoring/offline_quiz.c plugins/tutoring/offline_refine.c plugins/tutoring/offline_edit.c plugins/tutoring/offline_edit_args.c plugins/tutoring/offline_edit_text.c plugins/tutoring/offline_edit_sentences.c"
    [fuzz_llm]="plugins/tutoring/buf.c plugins/tutoring/llm_wire.c"
    [fuzz_chat_turns]="plugins/tutoring/buf.c plugins/tutoring/chat_turns.c"
    [fuzz_prompt]="sdk/utf8.c plugins/tutoring/buf.c plugins/tutoring/prompt.c plugins/tutoring/offline.c plugins/tutoring/offline_quiz.c plugins/tutoring/offline_refine.c plugins/tutoring/offline_edit.c plugins/tutoring/offline_edit_args.c plugins/tutoring/offline_edit_text.c plugins/tutoring/offline_edit_sentences.c"
    [fuzz_ws_session]="core/ws_session.c core/log.c core/metrics.c sdk/utf8.c"
    [fuzz_speech_words]="sdk/utf8.c plugins/speech/words.c plugins/speech/align.c"
    [fuzz_speech_proto]="plugins/speech/proto.c"
    [fuzz_speech_assets]="plugins/speech/assets_parse.c"
    [fuzz_speech_tts_wire]="sdk/utf8.c plugins/speech/tts_wire.c plugins/speech/words.c plugins/speech/proto.c"
    [fuzz_speech_webm]="plugins/speech/audio/webm.c"
    [fuzz_speech_ogg]="plugins/speech/audio/ogg.c"
    [fuzz_speech_input]="plugins/speech/audio/input.c plugins/speech/audio/webm.c plugins/speech/audio/ogg.c plugins/speech/audio/wav.c plugins/speech/audio/opusdec.c plugins/speech/audio/vad.c"
)
declare -A extra=(
    [fuzz_conf]="pkg-config --cflags --libs libconfig"
    [fuzz_jwt]="pkg-config --cflags --libs json-c libcrypto"
    [fuzz_keys]="pkg-config --cflags --libs json-c libcrypto"
    [fuzz_sniff]="pkg-config --cflags --libs libzip"
    [fuzz_prompt]="pkg-config --cflags --libs json-c"
    [fuzz_chat_turns]="pkg-config --cflags --libs json-c"
    [fuzz_llm]="pkg-config --cflags --libs json-c"
    [fuzz_speech_tts_wire]="pkg-config --cflags --libs json-c libcrypto"
    [fuzz_ws_session]="pkg-config --cflags --libs libevent"
    [fuzz_speech_ogg]="pkg-config --cflags --libs ogg"
    [fuzz_speech_input]="pkg-config --cflags --libs opus ogg speexdsp"
)
# target name -> libraries without a pkg-config file.
declare -A libs=(
    [fuzz_ws_session]="-lwslay"
)
# target name -> include directories (relative to the root) besides include/ and core/.
declare -A incdirs=(
    [fuzz_jwt]="plugins/auth"
    [fuzz_keys]="plugins/auth"
    [fuzz_sniff]="plugins/storage"
    [fuzz_plain]="plugins/storage"
    [fuzz_offline]="plugins/tutoring"
    [fuzz_prompt]="plugins/tutoring"
    [fuzz_chat_turns]="plugins/tutoring"
    [fuzz_llm]="plugins/tutoring"
    [fuzz_speech_words]="plugins/speech"
    [fuzz_speech_proto]="plugins/speech"
    [fuzz_speech_assets]="plugins/speech"
    [fuzz_speech_tts_wire]="plugins/speech"
    [fuzz_speech_webm]="plugins/speech/audio"
    [fuzz_speech_ogg]="plugins/speech/audio"
    [fuzz_speech_input]="plugins/speech/audio"
)
targets=(fuzz_router fuzz_http fuzz_env fuzz_conf fuzz_jwt fuzz_keys fuzz_multipart fuzz_sniff fuzz_plain fuzz_offline fuzz_prompt fuzz_llm
         fuzz_ws_session fuzz_speech_words fuzz_speech_proto fuzz_speech_tts_wire fuzz_speech_webm fuzz_speech_ogg fuzz_speech_input
         fuzz_speech_assets fuzz_chat_turns)

if [ -n "${LX_FUZZ_DIR:-}" ]; then
    work=$LX_FUZZ_DIR
    mkdir -p "$work"
    keep=1
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/lx-fuzz.XXXXXX")
    keep=0
fi
failed=0
cleanup() {
    if [ "$keep" -eq 0 ] && [ "$failed" -eq 0 ]; then
        rm -rf "$work"
    fi
}
trap cleanup EXIT

# The stand-in for the configure-generated config.h.
mkdir -p "$work/include"
cat >"$work/include/config.h" <<'CONFIG'
#define _GNU_SOURCE 1
#define PACKAGE_VERSION "0.1.0"
CONFIG

summary=()
for t in "${targets[@]}"; do
    srcs=("$root/tests/fuzz/$t.c")
    for s in ${sources[$t]}; do
        srcs+=("$root/$s")
    done
    missing=0
    for s in "${srcs[@]}"; do
        if [ ! -f "$s" ]; then
            echo "$t: skipped, ${s#"$root"/} does not exist" >&2
            missing=1
        fi
    done
    if [ "$missing" -eq 1 ]; then
        if [ "${CI:-}" = true ]; then # CI fuzzes every target or fails
            summary+=("$t: FAILED (sources missing)")
            failed=1
            keep=1
        else
            summary+=("$t: skipped (sources missing)")
        fi
        continue
    fi

    flags=()
    if [ -n "${extra[$t]:-}" ]; then
        read -r -a flags <<<"$(${extra[$t]})"
    fi
    for d in ${incdirs[$t]:-}; do
        flags+=("-I$root/$d")
    done
    for l in ${libs[$t]:-}; do
        flags+=("$l")
    done
    bin="$work/$t"
    echo "== building $t" >&2
    if ! "$cc" -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined \
        -fno-sanitize-recover=undefined \
        -I"$root/include" -I"$root/core" -I"$work/include" \
        "${srcs[@]}" ${flags[@]+"${flags[@]}"} -o "$bin"; then
        echo "$t: build failed" >&2
        failed=1
        keep=1
        exit 2
    fi

    corpus="$work/corpus/$t"
    artifacts="$work/artifacts/$t"
    mkdir -p "$corpus" "$artifacts"
    seeds="$root/tests/fuzz/corpus/${t#fuzz_}"
    if [ -d "$seeds" ]; then
        cp -R "$seeds/." "$corpus/"
    fi

    log="$work/$t.log"
    echo "== running $t for ${secs}s (log: $log)" >&2
    start=$(date +%s)
    rc=0
    "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
        -artifact_prefix="$artifacts/" -print_final_stats=1 "$corpus" >"$log" 2>&1 || rc=$?
    elapsed=$(($(date +%s) - start))
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)

    if [ "$rc" -ne 0 ]; then
        failed=1
        crash=$(find "$artifacts" -type f | head -n 1)
        echo "$t: FAILED (exit $rc) after ${elapsed}s; crash file: ${crash:-none}" >&2
        echo "  reproduce: $bin ${crash:-}" >&2
        tail -n 40 "$log" >&2
        summary+=("$t: CRASH after ${runs:-?} runs, ${elapsed}s: ${crash:-see $log}")
    else
        summary+=("$t: ${runs:-?} runs, ${elapsed}s, ok")
    fi
done

printf '%s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
    echo "fuzzing failed (a crash, or a target that could not run); artifacts kept in $work" >&2
    exit 1
fi
