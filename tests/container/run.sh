#!/usr/bin/env bash
# tests/container/run.sh: builds the image with a real Docker engine and tests it.
#
#   tests/container/run.sh [--write-doc]
#
# - Makes sure an engine answers and debian:bookworm-slim exists: present, pulled, or made by
#   ../shared/tools/docker-offline-base.sh where no image registry is reachable ($LX_SHARED_DIR
#   overrides ../shared); a clear failure when none works (tests/container/lib.sh). A dockerd
#   started here is stopped at the end.
# - Builds lexiaid:local from the repository, runs it on a free port of 127.0.0.1 and checks:
#   /health, uid 1000 and lexiaid as PID 1, the engine's health status, NAME_FILE secrets, data on
#   a named volume surviving `docker restart` and re-creation, `docker stop` < 2 s with exit 0,
#   first 200 < 1 s after `docker run`, docker-compose up -> healthy -> down -v, what the image must
#   not hold (compiler, curl, package manager, .env, sources) and its size (<= 200 MB; the 160 MB target reported), that every
#   shipped ELF file resolves its libraries inside the image, text extraction through the API
#   (text, PDF, DOCX, OCR of a PNG) surviving restart, read-aloud through the API with both speech
#   engines (the cache on the volume), and HTTPS from the image (libcurl, OpenSSL and the image's
#   CA bundle); plus the static checks of deploy/k8s and of the environment table.
# - --write-doc (or LX_CONTAINER_WRITE_DOC=1) writes the measured figures into the "Container"
#   section of docs/performance.md.
# Everything it creates (containers, volumes, networks, temp files) is removed on any exit.
# Prints "N passed, N failed"; exits non-zero when a check failed.
# The bash -c snippets below take their values as "$1"... on purpose: single quotes are right.
# shellcheck disable=SC2016
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
write_doc="${LX_CONTAINER_WRITE_DOC:-0}"
[ "${1:-}" = "--write-doc" ] && write_doc=1

IMAGE=lexiaid:local
# The issues' targets (first 200 within 1 s; stop under 2 s; the speech issue's 160 MB with speech
# inside) are measured and reported ("target: met / not met") but do not fail the run: timing
# never decides a test, and the size moves with Debian's packages (pocketsphinx's model and the
# libraries its Debian build links take ~49 MB). What fails is a regression far past them:
# build tools, sources or a second copy of a tree creeping in.
TARGET_IMAGE_MB=160
MAX_IMAGE_MB=200
target() { # target DESCRIPTION COMMAND...: prints whether a target is met, never fails
    local what="$1"; shift
    if "$@"; then echo "target met:     $what"; else echo "target NOT met: $what"; fi
}
run_id="lxct$$"
tmp="$(mktemp -d)"
# shellcheck source=tests/container/lib.sh
. "$root/tests/container/lib.sh"
containers=()
volumes=()
compose_up=0
certs_pid=""
tls_pid=""

elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

compose() {
    # docker-compose 1.29 talks to the engine itself; it must find the Debian client's engine.
    HOST_PORT="$compose_port" LEXIAID_CREDENTIALS_DIR="$tmp/credentials" \
        timeout 180 docker-compose -p "$run_id" -f "$root/docker-compose.yml" "$@"
}

cleanup() {
    local rc=$?
    set +e
    if [ "$compose_up" = 1 ]; then compose down -v --remove-orphans >/dev/null 2>&1; fi
    [ -n "$certs_pid" ] && kill "$certs_pid" 2>/dev/null
    [ -n "$tls_pid" ] && kill "$tls_pid" 2>/dev/null
    for c in "${containers[@]}"; do dk rm -f -v "$c" >/dev/null 2>&1; done
    for v in "${volumes[@]}"; do dk volume rm -f "$v" >/dev/null 2>&1; done
    for n in $(dk network ls -q --filter "name=${run_id}" 2>/dev/null); do dk network rm "$n" >/dev/null 2>&1; done
    for v in $(dk volume ls -q --filter "name=${run_id}" 2>/dev/null); do dk volume rm -f "$v" >/dev/null 2>&1; done
    rm -rf "$tmp"
    engine_stop
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

http_code() { # http_code URL
    curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" 2>/dev/null || true
}
wait_200() { # wait_200 URL SECONDS: prints the seconds it took, fails after SECONDS
    local t0 deadline
    t0=$(now)
    deadline=$(awk -v a="$t0" -v s="$2" 'BEGIN { printf "%.3f", a + s }')
    while :; do
        if [ "$(http_code "$1")" = 200 ]; then elapsed "$t0" "$(now)"; return 0; fi
        awk -v n="$(now)" -v d="$deadline" 'BEGIN { exit !(n > d) }' && return 1
        sleep 0.02
    done
}
wait_200q() { wait_200 "$@" >/dev/null; }
health_status() { dk inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$1" 2>/dev/null || true; }
wait_healthy() { # wait_healthy CONTAINER SECONDS: prints the seconds it took
    local t0 i
    t0=$(now)
    for ((i = 0; i < $2 * 5; i++)); do
        case "$(health_status "$1")" in
        healthy) elapsed "$t0" "$(now)"; return 0 ;;
        unhealthy) return 1 ;;
        esac
        sleep 0.2
    done
    return 1
}
run_lexiaid() { # run_lexiaid NAME PORT VOLUME [docker run options...]
    local name="$1" port="$2" vol="$3"
    shift 3
    containers+=("$name")
    dk run -d --name "$name" -p "127.0.0.1:$port:5000" -v "$vol:/app/data" "$@" "$IMAGE" >/dev/null
}

# ---------------------------------------------------------------- engine and base image
engine_start "container tests"

# ---------------------------------------------------------------- static checks
check "deploy/k8s manifests (tests/container/check-k8s.py)" \
    bash -c 'python3 tests/container/check-k8s.py > "$1" 2>&1 || { cat "$1"; exit 1; }' _ "$tmp/k8s.log"
check "environment table of DOCKER_DEPLOYMENT.md (tests/container/check-env-doc.py)" \
    bash -c 'python3 tests/container/check-env-doc.py > "$1" 2>&1 || { cat "$1"; exit 1; }' _ "$tmp/env.log"
# `FROM scratch` is no image (nothing is pulled): lexiaid's final stage starts from it.
check "Dockerfiles: no '# syntax' line, no --pull, bases are debian:bookworm-slim (lexiaid's final stage: scratch)" \
    bash -c '! grep -qiE "^# *syntax|--pull" Dockerfile deploy/emulator/Dockerfile deploy/postgres/Dockerfile &&
             ! grep -hE "^FROM " deploy/emulator/Dockerfile deploy/postgres/Dockerfile | grep -vqE "^FROM debian:bookworm-slim( AS [a-z]+)?$" &&
             ! grep -hE "^FROM " Dockerfile | grep -vqE "^FROM (debian:bookworm-slim( AS [a-z]+)?|scratch)$" &&
             [ "$(grep -E "^FROM " Dockerfile | tail -n 1)" = "FROM scratch" ]'
check "compose files are valid (docker-compose config, with both overrides)" \
    bash -c 'cd "$1" && export POSTGRES_PASSWORD=x &&
        timeout 60 docker-compose -f docker-compose.yml config -q &&
        timeout 60 docker-compose -f docker-compose.yml -f docker-compose.postgres.yml config -q &&
        timeout 60 docker-compose -f docker-compose.yml -f docker-compose.emulator.yml config -q' _ "$root"
check "the Dockerfile copies every automake fragment Makefile.am includes (before autoreconf)" \
    bash -c 'for f in $(sed -n "s/^include //p" Makefile.am); do
                 grep -qx "COPY $f $f" Dockerfile || { echo "missing: COPY $f $f"; exit 1; }; done'
check "the entrypoints are POSIX sh" bash -c 'sh -n deploy/docker-entrypoint.sh && sh -n deploy/postgres/docker-entrypoint.sh'
check "deploy/emulator pins the firebase-tools of tests/auth-emulator (identical package*.json)" \
    bash -c 'cmp -s tests/auth-emulator/package.json deploy/emulator/package.json &&
             cmp -s tests/auth-emulator/package-lock.json deploy/emulator/package-lock.json'
check "no CA certificate or key committed under deploy/" \
    bash -c '[ -z "$(git ls-files deploy | grep -E "\.(crt|pem|key)$")" ]'

# ---------------------------------------------------------------- build
echo "building $IMAGE (cold: a few minutes) ..."
t0=$(now)
# LX_CONTAINER_BUILD_ARGS: more `docker build` options, e.g. "--build-arg LX_JOBS=1" (a new value
# of an argument the compile step reads rebuilds the code as a code change would).
read -ra build_args <<<"${LX_CONTAINER_BUILD_ARGS:-}"
if DK_TIMEOUT=1800 dk build "${build_args[@]}" -t "$IMAGE" . >"$tmp/build.log" 2>&1; then
    build_s=$(elapsed "$t0" "$(now)")
    # cold, the package layers from the cache (a code change), or every layer from the cache
    if ! grep -q '^ ---> Running in ' "$tmp/build.log"; then
        build_kind="every layer from the cache"
    elif grep -q 'apt-get update' "$tmp/build.log" && [ "$(grep -c 'Using cache' "$tmp/build.log")" -ge 2 ]; then
        build_kind="package layers from the cache, the code rebuilt"
    else
        build_kind="cold"
    fi
    ok "docker build ($build_s s)"
else
    tail -n 80 "$tmp/build.log"
    bad "docker build"
    echo "$pass passed, $fail failed"
    exit 1
fi
grep -E '^(PASS|FAIL|ERROR): |^# (TOTAL|PASS|FAIL)' "$tmp/build.log" || true

size_b=$(dk image inspect -f '{{.Size}}' "$IMAGE")
size_mb=$(awk -v b="$size_b" 'BEGIN { printf "%.1f", b / 1000000 }')
base_mb=$(awk -v b="$(dk image inspect -f '{{.Size}}' debian:bookworm-slim)" 'BEGIN { printf "%.1f", b / 1000000 }')
echo "image size: $size_mb MB (base debian:bookworm-slim: $base_mb MB)"
target "image size $size_mb MB <= $TARGET_IMAGE_MB MB with speech inside" \
    awk -v s="$size_mb" -v m="$TARGET_IMAGE_MB" 'BEGIN { exit !(s <= m) }'
check "image size $size_mb MB <= $MAX_IMAGE_MB MB (no build tools or sources crept in)" awk -v s="$size_mb" -v m="$MAX_IMAGE_MB" 'BEGIN { exit !(s <= m) }'

# What the image holds: the file list of its filesystem (no shell or tool of the image needed).
cid=$(dk create "$IMAGE")
containers+=("$cid")
DK_TIMEOUT=120 dk export "$cid" | tar -tv >"$tmp/files-long.txt"
# names only (a symlink's "-> target" dropped); the long list keeps types and sizes
awk '{ for (i = 1; i <= 5; i++) $i = ""; sub(/^ +/, ""); sub(/ -> .*/, ""); print }' "$tmp/files-long.txt" >"$tmp/files.txt"
check "no compiler in the image (gcc, cc, cc1, clang, ld)" \
    bash -c '! grep -qE "^(usr/)?(local/)?bin/(gcc|cc|c\+\+|g\+\+|clang|ld)(-[0-9.]+)?$|/cc1$" "$1"' _ "$tmp/files.txt"
check "no curl or wget in the image" bash -c '! grep -qE "^(usr/)?(local/)?bin/(curl|wget)$" "$1"' _ "$tmp/files.txt"
check "no package manager, perl or their databases in the image (apt, dpkg, var/lib/{apt,dpkg})" \
    bash -c '! grep -qE "^(usr/)?s?bin/(apt|apt-get|dpkg|dpkg-query|perl)$|^var/lib/(apt|dpkg)/|^etc/(apt|dpkg)/" "$1"' _ "$tmp/files.txt"
check "no .env and no credentials in the image" bash -c '! grep -qE "(^|/)\.env$|^app/credentials/." "$1"' _ "$tmp/files.txt"
check "no sources or build files in the image (*.c, *.o, Makefile.am, .git)" \
    bash -c '! grep -qE "\.(c|o|lo|la)$|(^|/)(Makefile\.am|configure\.ac|\.git)(/|$)" "$1"' _ "$tmp/files.txt"
check "binary, HTTP client module, plugins, extractor, speech helper and its data, OCR data and config are installed" bash -c '
    for f in usr/local/bin/lexiaid usr/local/lib/lexiaid/lx_http_client.so \
             usr/local/lib/lexiaid/plugins/health.so usr/local/lib/lexiaid/plugins/auth.so \
             usr/local/lib/lexiaid/plugins/storage.so usr/local/libexec/lexiaid/lexiaid-extract \
             usr/local/lib/lexiaid/plugins/speech.so usr/local/libexec/lexiaid/lexiaid-speech \
             usr/lib/x86_64-linux-gnu/espeak-ng-data/phontab \
             usr/share/tesseract-ocr/5/tessdata/eng.traineddata usr/local/etc/lexiaid/lexiaid.conf \
             usr/local/bin/docker-entrypoint.sh etc/ssl/certs/ca-certificates.crt etc/passwd etc/group \
             usr/share/doc/lexiaid/debian-packages.txt; do
        grep -qx "$f" "$1" || { echo "missing $f"; exit 1; }; done' _ "$tmp/files.txt"
dk rm "$cid" >/dev/null
# Inside the image (no ldd there): the dynamic loader itself lists what each ELF file loads.
check "every shipped ELF file resolves its libraries inside the image (ld.so --list)" bash -c '
    out=$("$1" run --rm --entrypoint /bin/sh "$2" -c "
        for f in /usr/local/bin/lexiaid /usr/local/libexec/lexiaid/lexiaid-extract /usr/local/libexec/lexiaid/lexiaid-speech \$(echo /usr/local/lib/lexiaid/*.so /usr/local/lib/lexiaid/plugins/*.so) /bin/sh /bin/cat /usr/bin/id; do
            echo \"== \$f\"; /lib64/ld-linux-x86-64.so.2 --list \"\$f\" || echo \"FAILED \$f\"
        done" 2>&1)
    if grep -qE "not found|FAILED" <<<"$out"; then grep -E "^==|not found|FAILED" <<<"$out"; exit 1; fi
    [ "$(grep -c "^== " <<<"$out")" -ge 8 ]' _ "$DOCKER" "$IMAGE"
# What the size is made of, for the figures: shared libraries (files, not their symlinks), ICU's
# data library, Tesseract's data, and the Debian packages the image's files come from.
libs_n=$(awk '$1 ~ /^-/ && $NF ~ /^usr\/lib\/.*\.so(\.[0-9]+)*$/' "$tmp/files-long.txt" | wc -l)
libs_mb=$(awk '$1 ~ /^-/ && $NF ~ /^usr\/lib\/.*\.so(\.[0-9]+)*$/ { s += $3 } END { printf "%.1f", s / 1e6 }' "$tmp/files-long.txt")
icu_mb=$(awk '$1 ~ /^-/ && $NF ~ /\/libicudata\.so/ { s += $3 } END { printf "%.1f", s / 1e6 }' "$tmp/files-long.txt")
tess_mb=$(awk '$1 ~ /^-/ && $NF ~ /^usr\/share\/tesseract-ocr\// { s += $3 } END { printf "%.1f", s / 1e6 }' "$tmp/files-long.txt")
espeak_mb=$(awk '$1 ~ /^-/ && $NF ~ /\/espeak-ng-data\// { s += $3 } END { printf "%.1f", s / 1e6 }' "$tmp/files-long.txt")
pkgs_n=$(dk run --rm --entrypoint cat "$IMAGE" /usr/share/doc/lexiaid/debian-packages.txt | wc -l)
libs_top=$(awk '$1 ~ /^-/ && $NF ~ /^usr\/lib\/.*\.so(\.[0-9]+)*$/ { n = $NF; sub(/.*\//, "", n); sub(/\.so.*/, "", n); printf "%s %.1f\n", n, $3 / 1e6 }' \
    "$tmp/files-long.txt" | sort -k2,2nr | head -n 8 | awk '{ printf "%s%s %s MB", (NR > 1 ? ", " : ""), $1, $2 }')
echo "image content: $libs_n shared libraries ($libs_mb MB, of which ICU data $icu_mb MB), Tesseract data $tess_mb MB, espeak-ng data $espeak_mb MB, files from $pkgs_n Debian packages"
echo "plugins in the image: $(grep -oE '^usr/local/lib/lexiaid/plugins/[^/]+\.so$' "$tmp/files.txt" | xargs -n1 basename | tr '\n' ' ')"

check "image config: USER 1000, EXPOSE 5000, STOPSIGNAL SIGTERM, healthcheck, volumes" bash -c '
    f="{{.Config.User}}|{{json .Config.ExposedPorts}}|{{.Config.StopSignal}}|{{json .Config.Healthcheck.Test}}|{{json .Config.Volumes}}|{{json .Config.Env}}"
    v=$("$1" image inspect -f "$f" "$2"); echo "$v"
    [[ "$v" == 1000:1000\|*5000/tcp*\|SIGTERM\|*--probe*\|*/app/data*/app/logs*\|*LEXIAID_DATA_DIR=/app/data* ]]' _ "$DOCKER" "$IMAGE"

# ---------------------------------------------------------------- run
port=$(free_port)
vol="${run_id}-data"
volumes+=("$vol")
# The start is measured 5 times (a new container each time, the same volume). The best of 5 is
# judged, as the machine's capability: on a shared 2-vCPU machine under load a single `docker run`
# (container creation, network set-up) can take a second more. The median is printed as well, and
# the part that is lexiaid's (the engine's State.StartedAt -> first 200).
starts=()
inside=()
for i in 1 2 3 4 5; do
    c1="${run_id}-a$i"
    [ "$i" -gt 1 ] && dk rm -f "${run_id}-a$((i - 1))" >/dev/null
    t0=$(now)
    run_lexiaid "$c1" "$port" "$vol"
    if wait_200 "http://127.0.0.1:$port/health" 10 >/dev/null; then
        t1=$(now)
        starts+=("$(elapsed "$t0" "$t1")")
        inside+=("$(python3 -c 'import sys, datetime as d
s = sys.argv[1].rstrip("Z"); base, frac = (s.split(".") + ["0"])[:2]
t = d.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=d.timezone.utc).timestamp() + float("0." + frac)
print("%.3f" % (float(sys.argv[2]) - t))' "$(dk inspect -f '{{.State.StartedAt}}' "$c1")" "$t1")")
    else
        starts+=("99")
        dk logs "$c1" 2>&1 | tail -n 30
    fi
done
start_best=$(printf '%s\n' "${starts[@]}" | sort -n | head -n 1)
start_s=$(printf '%s\n' "${starts[@]}" | sort -n | sed -n 3p)
inside_s=$(printf '%s\n' "${inside[@]:-n/a}" | sort -n | sed -n "$(( (${#inside[@]} + 1) / 2 ))p")
echo "docker run -> first 200: ${starts[*]} s (best $start_best s, median $start_s s; load average $(cut -d' ' -f1-3 /proc/loadavg))"
echo "container started -> first 200: ${inside[*]:-n/a} s (median $inside_s s)"
check "/health answers 200 after docker run" test "$start_best" != 99
target "first 200 within 1 s of docker run (best of 5: $start_best s)" awk -v s="$start_best" 'BEGIN { exit !(s < 1.0) }'
body=$(curl -s --max-time 2 "http://127.0.0.1:$port/health" || true)
check "/health body is {\"status\":\"ok\"} ($body)" test "$body" = '{"status":"ok"}'
# /ready is 503 while a plugin is not configured (auth without a project id): the route answers.
ready=$(http_code "http://127.0.0.1:$port/ready")
check "/ready answers (200, or 503 while a plugin is unconfigured: $ready)" bash -c '[ "$1" = 200 ] || [ "$1" = 503 ]' _ "$ready"
check "runs as uid 1000 (docker exec id -u)" test "$(dk exec "$c1" id -u 2>/dev/null)" = 1000
check "lexiaid is PID 1" test "$(dk exec "$c1" cat /proc/1/comm 2>/dev/null)" = lexiaid
check "PID 1 runs as uid 1000" bash -c '"$1" exec "$2" cat /proc/1/status | grep -qE "^Uid:\s+1000\s"' _ "$DOCKER" "$c1"
if healthy_s=$(wait_healthy "$c1" 30); then
    ok "the engine reports healthy ($healthy_s s after the first 200)"
else
    healthy_s="n/a"
    bad "the engine reports healthy (status: $(health_status "$c1"))"
fi

# A document uploaded through the API (auth + storage, with a signed token) survives
# `docker restart` and re-creation of the container on the same volume. The container shares
# the host's network so that it can fetch the test's certificates from 127.0.0.1.
dk rm -f "$c1" >/dev/null
mkdir -p "$tmp/keys"
python3 tests/container/certs.py serve "$tmp/keys" >/dev/null 2>&1 &
certs_pid=$!
for _ in $(seq 50); do [ -s "$tmp/keys/port" ] && break; sleep 0.1; done
tok=$(python3 tests/container/certs.py token "$tmp/keys" "u-$run_id")
run_api() { # run_api NAME PORT: lexiaid on the host network with auth configured
    containers+=("$1")
    dk run -d --name "$1" --network host -v "$vol:/app/data" \
        -e LEXIAID_LISTEN="127.0.0.1:$2" -e FIREBASE_PROJECT_ID=p1 \
        -e LEXIAID_AUTH_CERTS_URL="http://127.0.0.1:$(cat "$tmp/keys/port")/certs" "$IMAGE" >/dev/null
}
# The documents: plain text, and one of each kind the extractor reads in the image (PDF through
# poppler, DOCX through libzip + libxml2, PNG through Leptonica + Tesseract with its eng data),
# made by tests/integration/lxsamples.py (the PNG needs python3-pil and DejaVu Sans).
mkdir -p "$tmp/docs"
printf 'The %s document: photosynthesis turns light into sugar.\n' "$run_id" >"$tmp/docs/doc.txt"
python3 - "$tmp/docs" <<'PY2' || echo "could not make the sample documents (python3-pil and fonts-dejavu-core: scripts/deps.sh --test)"
import os, sys
sys.path.insert(0, os.path.join(os.getcwd(), "tests", "integration"))
import lxsamples
d = sys.argv[1]
open(os.path.join(d, "doc.pdf"), "wb").write(lxsamples.make_pdf([["Chlorophyll absorbs sunlight.", "Plants store glucose."]]))
open(os.path.join(d, "doc.docx"), "wb").write(lxsamples.make_docx(["Mitochondria release energy.", "Cells divide often."]))
open(os.path.join(d, "doc.png"), "wb").write(lxsamples.make_png(["The quick brown fox", "jumps over the lazy dog"]))
PY2
# kind file type words-the-text-must-hold
doc_kinds=(txt pdf docx png)
declare -A doc_type=([txt]=text/plain [pdf]=application/pdf [docx]=application/vnd.openxmlformats-officedocument.wordprocessingml.document [png]=image/png)
declare -A doc_words=([txt]="photosynthesis turns light into sugar" [pdf]="chlorophyll absorbs sunlight plants store glucose"
                      [docx]="mitochondria release energy cells divide often" [png]="quick brown fox jumps over lazy dog")
declare -A doc_id=()
doc_ok() { # doc_ok PORT KIND: processed, its text holds the kind's words, its bytes are the file's
    local id="${doc_id[$2]:-}"
    [ -n "$id" ] || { echo "no $2 document"; return 1; }
    python3 - "http://127.0.0.1:$1/api/documents/$id?include_content=true" "$tok" "${doc_words[$2]}" <<'PY2' || return 1
import json, re, sys, time, urllib.request
url, tok, words = sys.argv[1], sys.argv[2], sys.argv[3].split()
deadline = time.time() + 60   # a bound, not a measure: extraction normally ends within the upload
while True:
    try:
        req = urllib.request.Request(url, headers={"Authorization": "Bearer " + tok})
        d = json.load(urllib.request.urlopen(req, timeout=5))
    except Exception as e:  # noqa: BLE001 - printed below
        d = {"error": repr(e)}
    if d.get("processing_status") not in ("processing", "pending", "uploaded") or time.time() > deadline:
        break
    time.sleep(0.2)
got = set(re.findall(r"[a-z]+", (d.get("content") or "").lower()))
missing = [w for w in words if w not in got]
if d.get("processing_status") != "processed" or missing:
    print("status %r, missing words %s: %s" % (d.get("processing_status"), missing, json.dumps(d)[:300]))
    sys.exit(1)
PY2
    curl -s --max-time 5 -H "Authorization: Bearer $tok" -o "$tmp/doc.out" \
        "http://127.0.0.1:$1/api/documents/$id/download" && cmp -s "$tmp/docs/doc.$2" "$tmp/doc.out"
}
docs_ok() { # docs_ok PORT: every document uploaded
    local k rc=0
    for k in "${doc_kinds[@]}"; do doc_ok "$1" "$k" || { echo "($k)"; rc=1; }; done
    return "$rc"
}
port=$(free_port)
c1="${run_id}-d"
run_api "$c1" "$port"
wait_200 "http://127.0.0.1:$port/health" 10 >/dev/null || true
for k in "${doc_kinds[@]}"; do
    up=""
    [ -f "$tmp/docs/doc.$k" ] &&
        up=$(curl -s --max-time 60 -H "Authorization: Bearer $tok" -F "file=@$tmp/docs/doc.$k;type=${doc_type[$k]}" \
             -F "metadata={\"name\":\"Container test $k\"}" "http://127.0.0.1:$port/api/documents/upload" || true)
    doc_id[$k]=$(python3 -c 'import json, sys
try: print(json.loads(sys.argv[1]).get("document_id", ""))
except ValueError: print("")' "$up")
    check "upload a $k document through the API with a signed token (id ${doc_id[$k]:-none})" test -n "${doc_id[$k]}"
done
for k in "${doc_kinds[@]}"; do
    check "the $k document is served: its bytes, and its text (extracted in the image: ${doc_words[$k]})" doc_ok "$port" "$k"
done
t0=$(now)
dk restart "$c1" >/dev/null
restart_s=$(elapsed "$t0" "$(now)")
check "back after docker restart ($restart_s s)" wait_200q "http://127.0.0.1:$port/health" 10
check "the uploaded documents (${doc_kinds[*]}) survive docker restart" docs_ok "$port"
dk rm -f "$c1" >/dev/null
port=$(free_port)
c2="${run_id}-b"
run_api "$c2" "$port"
wait_200 "http://127.0.0.1:$port/health" 10 >/dev/null || true
check "the uploaded documents survive re-creation of the container on the same volume" \
    docs_ok "$port"
# Read-aloud in the image: both engines in the helper, word times, the MP3, the cache on the volume.
tts_ok() { # tts_ok PORT VOICE: POST /api/tts/synthesize answers as the frontend needs
    curl -s --max-time 120 -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
        --data "{\"text\": \"Dr. Smith paid \$12 for 3.5 kg.\\n\\nNa\\u00efve caf\\u00e9.\", \"voice_name\": \"$2\"}" \
        "http://127.0.0.1:$1/api/tts/synthesize" >"$tmp/tts.json" || return 1
    python3 - "$tmp/tts.json" <<'PY3'
import base64, json, sys
j = json.load(open(sys.argv[1], encoding="utf-8"))
marks = [t["mark_name"] for t in j.get("timepoints", [])]
want = ["Dr.", "Smith", "paid", "$12", "for", "3.5", "kg.", "PARAGRAPH_BREAK", "Na\u00efve", "caf\u00e9."]
times = [t["time_seconds"] for t in j.get("timepoints", [])]
mp3 = base64.b64decode(j.get("audio_content", ""), validate=True)
ok = marks == want and times == sorted(times) and len(mp3) > 4000 and mp3[0] == 0xFF
print("marks %s, %d bytes of MP3" % (marks, len(mp3)))
sys.exit(0 if ok else 1)
PY3
}
check "read-aloud in the image with espeak-ng: one timepoint per word, an MP3" tts_ok "$port" espeak-ng:en-us
check "read-aloud in the image with flite (cmu_us_slt)" tts_ok "$port" flite:cmu_us_slt
# Dictation in the image: speech made on the host (flite, ffmpeg: test tools) is transcribed by
# pocketsphinx in the image's speech helper.
stt_ok() { # stt_ok PORT: POST /api/stt/transcribe recalls most words of a read sentence
    local text="The water cycle moves water from the ocean to the sky."
    flite -voice rms -t "$text" -o "$tmp/stt-raw.wav" &&
        ffmpeg -nostdin -loglevel error -y -i "$tmp/stt-raw.wav" -ar 16000 -ac 1 "$tmp/stt.wav" ||
        return 1
    curl -s --max-time 120 -H "Authorization: Bearer $tok" -F "audio=@$tmp/stt.wav;type=audio/wav" \
        "http://127.0.0.1:$1/api/stt/transcribe" >"$tmp/stt.json" || return 1
    python3 - "$tmp/stt.json" "$text" <<'PY3'
import json, re, sys
j = json.load(open(sys.argv[1], encoding="utf-8"))
said = re.findall(r"[a-z]+", sys.argv[2].lower())
heard = re.findall(r"[a-z]+", j.get("transcription", "").lower())
recall = sum(1 for w in said if w in heard) / len(said)
print("heard %r: recall %.2f" % (j.get("transcription"), recall))
sys.exit(0 if j.get("status") == "success" and recall >= 0.6 else 1)
PY3
}
check "dictation in the image: pocketsphinx transcribes a read sentence" stt_ok "$port"
check "the read-aloud cache is on the data volume" bash -c \
    '"$1" exec "$2" /bin/sh -c "cat /app/data/cache/tts/*/*.json" | grep -q audio_content' _ "$DOCKER" "$c2"

# HTTPS: lexiaid's HTTP client (libcurl + OpenSSL: Google's keys, the LLM APIs) inside the image.
# The key map is served over TLS with a certificate from a test CA. With that CA mounted as the
# image's CA bundle, the keys are fetched and a signed token is accepted; with the image's own
# bundle (Debian's ca-certificates) the same fetch is refused for its unknown issuer: the bundle is
# there, readable, and the one libcurl uses (a missing bundle fails with another error).
python3 tests/container/certs.py serve-tls "$tmp/keys" >/dev/null 2>&1 &
tls_pid=$!
for _ in $(seq 100); do [ -s "$tmp/keys/tls-port" ] && break; sleep 0.1; done
tls_url="https://127.0.0.1:$(cat "$tmp/keys/tls-port" 2>/dev/null)/certs"
chmod 644 "$tmp/keys/ca.crt" 2>/dev/null || true
run_tls() { # run_tls NAME PORT [docker run options...]: auth's keys from the TLS server
    local name="$1" p="$2"
    shift 2
    containers+=("$name")
    dk run -d --name "$name" --network host "$@" -e LEXIAID_LISTEN="127.0.0.1:$p" \
        -e FIREBASE_PROJECT_ID=p1 -e LEXIAID_AUTH_CERTS_URL="$tls_url" "$IMAGE" >/dev/null
}
list_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $tok" "http://127.0.0.1:$1/api/documents" || true; }
wait_list_code() { # wait_list_code PORT CODE: bounded (auth retries its key fetch)
    local i
    for ((i = 0; i < 75; i++)); do [ "$(list_code "$1")" = "$2" ] && return 0; sleep 0.2; done
    echo "GET /api/documents: $(list_code "$1")"; return 1
}
port=$(free_port)
c5="${run_id}-t"
run_tls "$c5" "$port" -v "$tmp/keys/ca.crt:/etc/ssl/certs/ca-certificates.crt:ro"
wait_200q "http://127.0.0.1:$port/health" 10 || true
check "HTTPS from the image (libcurl + OpenSSL): keys fetched over TLS from a server of a CA in the bundle, a signed token accepted" \
    wait_list_code "$port" 200
dk rm -f -v "$c5" >/dev/null
port=$(free_port)
c6="${run_id}-u"
run_tls "$c6" "$port"
wait_200q "http://127.0.0.1:$port/health" 10 || true
check "HTTPS from the image: the image's CA bundle is read, and refuses an unknown issuer" bash -c '
    for ((i = 0; i < 75; i++)); do
        log=$("$1" logs "$2" 2>&1)
        grep -q "cannot fetch https://" <<<"$log" && break
        sleep 0.2
    done
    grep "cannot fetch https://" <<<"$log" | head -n 1
    grep -q "cannot fetch https://.*unable to get local issuer certificate" <<<"$log" &&
        [ "$(curl -s -o /dev/null -w "%{http_code}" --max-time 5 -H "Authorization: Bearer $4" "http://127.0.0.1:$3/api/documents")" != 200 ]' \
    _ "$DOCKER" "$c6" "$port" "$tok"
dk rm -f -v "$c6" >/dev/null
kill "$tls_pid" 2>/dev/null || true
kill "$certs_pid" 2>/dev/null || true

# docker stop: SIGTERM to PID 1, drained, exit 0, fast
t0=$(now)
dk stop -t 10 "$c2" >/dev/null
stop_s=$(elapsed "$t0" "$(now)")
echo "docker stop: $stop_s s"
target "docker stop under 2 s ($stop_s s)" awk -v s="$stop_s" 'BEGIN { exit !(s < 2.0) }'
code=$(dk inspect -f '{{.State.ExitCode}}' "$c2")
check "exit code 0 after docker stop (got $code)" test "$code" = 0

# secrets as files: NAME_FILE -> NAME; both set is refused
mkdir -p "$tmp/credentials"
printf 'key-%s\n' "$run_id" >"$tmp/credentials/google_api_key"
chmod 644 "$tmp/credentials/google_api_key"
chmod 755 "$tmp/credentials"
port=$(free_port)
c3="${run_id}-c"
run_lexiaid "$c3" "$port" "${run_id}-sec" -v "$tmp/credentials:/app/credentials:ro" \
    -e GOOGLE_API_KEY_FILE=/app/credentials/google_api_key
volumes+=("${run_id}-sec")
wait_200 "http://127.0.0.1:$port/health" 10 >/dev/null || true
check "GOOGLE_API_KEY_FILE is read into GOOGLE_API_KEY of PID 1" bash -c '
    env=$("$1" exec "$2" cat /proc/1/environ | tr "\0" "\n")
    grep -qx "GOOGLE_API_KEY=key-$3" <<<"$env" && ! grep -q "^GOOGLE_API_KEY_FILE=" <<<"$env"' _ "$DOCKER" "$c3" "$run_id"
dk rm -f "$c3" >/dev/null
c4="${run_id}-d"
containers+=("$c4")
code=$(dk run --name "$c4" -e GOOGLE_API_KEY=x -e GOOGLE_API_KEY_FILE=/nope "$IMAGE" >/dev/null 2>&1; echo $?)
check "NAME and NAME_FILE both set is refused (exit $code)" test "$code" = 64

# ---------------------------------------------------------------- compose
compose_port=$(free_port)
mkdir -p "$tmp/credentials"
t0=$(now)
compose_up=1
if compose up -d --no-build >"$tmp/compose.log" 2>&1; then
    up_s=$(elapsed "$t0" "$(now)")
    ok "docker-compose up -d ($up_s s)"
    cc=$(compose ps -q lexiaid)
    if ch=$(wait_healthy "$cc" 30); then ok "compose service is healthy ($ch s after up)"; else bad "compose service is healthy ($(health_status "$cc"))"; fi
    check "compose: /health on 127.0.0.1:$compose_port" test "$(http_code "http://127.0.0.1:$compose_port/health")" = 200
    check "compose: read-only root, /app/data writable" bash -c '
        ! "$1" exec "$2" sh -c "echo x > /app/x" 2>/dev/null && "$1" exec "$2" sh -c "echo x > /app/data/x && echo x > /tmp/x"' \
        _ "$DOCKER" "$cc"
    check "compose: limits applied (memory 256m, pids 128, no capabilities)" bash -c '
        v=$("$1" inspect -f "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.ReadonlyRootfs}} {{json .HostConfig.CapDrop}}" "$2"); echo "$v"
        [[ "$v" == "268435456 128 true [\"ALL\"]" ]]' _ "$DOCKER" "$cc"
    t0=$(now)
    if compose down -v >>"$tmp/compose.log" 2>&1; then
        compose_up=0
        down_s=$(elapsed "$t0" "$(now)")
        ok "docker-compose down -v ($down_s s)"
        check "compose volumes are gone" test -z "$(dk volume ls -q --filter "name=${run_id}_")"
    else
        bad "docker-compose down -v"
    fi
else
    cat "$tmp/compose.log"
    bad "docker-compose up -d"
fi

# ---------------------------------------------------------------- figures
echo "figures: image $size_mb MB; docker run -> first 200 best $start_best s, median $start_s s; started -> 200 $inside_s s; healthy +$healthy_s s; docker stop $stop_s s; build $build_s s"
if [ "$write_doc" = 1 ]; then
    SIZE_MB="$size_mb" BASE_MB="$base_mb" START_S="$start_s" START_BEST="$start_best" INSIDE_S="$inside_s" LOAD="$(cut -d' ' -f1-3 /proc/loadavg)" HEALTHY_S="$healthy_s" STOP_S="$stop_s" \
    RESTART_S="$restart_s" BUILD_S="$build_s" BUILD_KIND="$build_kind" UP_S="${up_s:-n/a}" DOWN_S="${down_s:-n/a}" \
    LIBS_N="$libs_n" LIBS_MB="$libs_mb" LIBS_TOP="$libs_top" ICU_MB="$icu_mb" TESS_MB="$tess_mb" ESPEAK_MB="$espeak_mb" PKGS_N="$pkgs_n" \
    DOCKER_V="$("$DOCKER" version -f '{{.Server.Version}}' 2>/dev/null)" \
    REV="${LX_CONTAINER_REV:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}" \
    python3 - "$root/docs/performance.md" <<'PY'
import os, re, sys
path = sys.argv[1]
e = os.environ
section = f"""## Container

Measured by `tests/container/run.sh --write-doc` (Docker {e['DOCKER_V']}, repository {e['REV']}, a shared
2-vCPU VM): the image of `Dockerfile`, run with `docker run -p 127.0.0.1:PORT:5000`, `/health` polled
with curl every 20 ms from just before `docker run` (5 starts; load average at the end: {e['LOAD']}).

| figure | original (Flask + gunicorn image) | lexiaid | target |
|---|---|---|---|
| image size | ~800 MB (python:3.12-slim + venv) | {e['SIZE_MB']} MB with read-aloud and dictation (`FROM scratch`; dictation's language model pruned at build time: 177.1 MB with Debian's full one, 128.2 MB with read-aloud only, 93.7 MB before the speech plugin; was 164.9 MB on debian:bookworm-slim, {e['BASE_MB']} MB of it the base) | ≤ 160 MB with speech |
| start: `docker run` → first 200 | 10–15 s | best {e['START_BEST']} s, median {e['START_S']} s (5 runs) | < 1 s |
| of which lexiaid: container started → first 200 | | {e['INSIDE_S']} s (median) | |
| engine reports healthy | first check 30 s after the start (interval 30 s, start period 40 s) | +{e['HEALTHY_S']} s after the first 200 (interval 5 s, start period 2 s) | |
| `docker stop` (SIGTERM → exit 0) | not given | {e['STOP_S']} s | < 2 s, exit 0 |
| `docker restart` | | {e['RESTART_S']} s | |
| `docker-compose up -d` / `down -v` | | {e['UP_S']} s / {e['DOWN_S']} s | |
| build (3 stages, unit tests) | 3–5 min cold, ~30 s cached | {e['BUILD_S']} s ({e['BUILD_KIND']}) | |

The image is one layer on `FROM scratch`, assembled in a runtime stage that installs Debian's
packages as before and is not shipped. It holds the install tree (about 1 MB: binary, HTTP client
module, plugins, extractor, speech helper, config, entrypoint), `/bin/sh` (dash), `cat` and `id`, and the shared
libraries that `ldd` reports for all of these ELF files, with the dynamic loader and an
`ld.so.cache`: {e['LIBS_N']} libraries, {e['LIBS_MB']} MB. Then the data those libraries read at run
time, found by tracing the extractor on PDF, DOCX, PNG and JPEG and the server's start: Tesseract's
English data ({e['TESS_MB']} MB), espeak-ng's voices and dictionaries ({e['ESPEAK_MB']} MB), the CA
bundle libcurl uses for HTTPS, OpenSSL's config,
`nsswitch.conf`, `/etc/localtime`; pocketsphinx's acoustic model (6.4 MB) and, under `/usr/local`,
the language model `lexiaid-lm-prune` made from Debian's at build time (6.6 MB instead of 27.1 MB)
with its dictionary cut to the model's words (1.9 MB; "Dictation's language model in the image"
above). And `/etc/passwd` and `/etc/group` with appuser (uid 1000), and
the copyright files of the {e['PKGS_N']} Debian packages these files come from, listed with their
versions in `/usr/share/doc/lexiaid/debian-packages.txt` (there is no dpkg database to ask). No apt,
dpkg, perl or their databases, and none of the base image's other files. The build checks the root
on its own (`chroot`: `lexiaid -t`, the speech helper's `--check`, the extractor, the shell); the
suite checks every ELF file with the image's own loader, text extraction of each kind and read-aloud
with both engines through the API, and HTTPS with the image's CA bundle.

Most of the size is text extraction. The largest libraries: {e['LIBS_TOP']}. ICU's data
library ({e['ICU_MB']} MB) loads with the extractor: Debian's libxml2 (the DOCX reader, and a
dependency of libarchive, which Tesseract links) links ICU, so it stays. poppler-glib brings glib,
cairo and X11 client libraries that text extraction never calls but that must be there for it to
load. Speech adds flite's three clustergen voices (about 4 MB each, in their libraries),
espeak-ng with its data, LAME, and what libespeak-ng links for audio output it never opens here
(libpcaudio: PulseAudio, ALSA and their libraries); dictation, pocketsphinx's models and the LAPACK,
BLAS, gfortran and quadmath libraries Debian's sphinxbase links (10.8 MB). Before the `FROM scratch` change the image was
the base image plus a layer of runtime packages: 164.9 MB (93.4 MB before the storage plugin).

The start figure is mostly Docker's own container creation, network set-up and start; the row below
it is the part after the engine started the process. Under load (another build or test run on the
two vCPUs) `docker run` alone can take 1-2 s: compare the best of 5 with the target.

"""
text = open(path, encoding="utf-8").read()
m = re.search(r"^## Container\n.*?(?=^## )", text, re.S | re.M)
if m:
    text = text[:m.start()] + section + text[m.end():]
else:
    i = text.find("\n## Pitfalls")
    text = (text[:i + 1] + section + text[i + 1:]) if i >= 0 else text + "\n" + section
open(path, "w", encoding="utf-8").write(text)
print("wrote the Container section of " + os.path.relpath(path))
PY
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
