#!/usr/bin/env bash
# tests/container/overrides.sh: the two compose overrides, with a real Docker engine.
#
#   tests/container/overrides.sh [postgres|emulator]...     (default: both)
#
# Not part of CI's tests/container/run.sh on purpose: the emulator image is built from the npm
# registry (an outside service CI should not depend on), a cold run adds about 3 minutes (two more
# image builds: PostgreSQL ~40 s, the emulator ~80 s) and ~0.6 GB of images. Run it when
# docker-compose.postgres.yml, docker-compose.emulator.yml or deploy/{postgres,emulator}/ change.
#
# - Engine and debian:bookworm-slim as in run.sh (../shared/tools/docker-offline-base.sh; a dockerd
#   started here is stopped at the end). Builds lexiaid:local (cached layers), lexiaid-postgres:local
#   and lexiaid-firebase-emulator:local.
# - The emulator is built from a temporary copy of deploy/emulator plus, as extra-ca.crt, the CA
#   bundle named by $LX_EXTRA_CA_CERTS (default: the host's /etc/ssl/certs/ca-certificates.crt,
#   which holds a TLS-intercepting proxy's CA where there is one; set it empty to build without).
#   Nothing is written into the repository.
# - postgres: up -> postgres and lexiaid healthy; postgres is PID 1 as uid 999; no host port;
#   LEXIAID_STORAGE/LEXIAID_DATABASE_URL reach lexiaid and its storage runs on PostgreSQL; that URL
#   logs in over the compose network, a wrong password does not; data survives a restart (no
#   second initdb); down -v.
# - emulator: up -> emulator and lexiaid healthy, LEXIAID_AUTH_MODE=emulator (/ready says EMULATOR);
#   POST /api/users through lexiaid -> 201; sign-in at the emulator -> ID token; GET /api/auth/me
#   with it -> 200 (same uid), without -> 401; down -v.
# Every wait is bounded; everything created (containers, volumes, networks, temp files) is removed
# on any exit. Prints "N passed, N failed"; exits non-zero when a check failed.
# The bash -c snippets below take their values as "$1"... on purpose: single quotes are right.
# shellcheck disable=SC2016
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

extra_ca="${LX_EXTRA_CA_CERTS-/etc/ssl/certs/ca-certificates.crt}"
run_id="lxov$$"
tmp="$(mktemp -d)"
# shellcheck source=tests/container/lib.sh
. "$root/tests/container/lib.sh"
up_projects=()
host_port=""
emu_port=""
pg_password=""
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(postgres emulator)
for w in "${targets[@]}"; do
    case "$w" in postgres | emulator) ;; *) echo "usage: $0 [postgres|emulator]..." >&2; exit 2 ;; esac
done

elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

compose() { # compose PROJECT OVERRIDE ARGS...: the base file plus one override
    local project="$1" override="$2"
    shift 2
    HOST_PORT="$host_port" EMULATOR_HOST_PORT="$emu_port" LEXIAID_CREDENTIALS_DIR="$tmp/credentials" \
    POSTGRES_PASSWORD="$pg_password" \
        timeout 180 docker-compose -p "$project" -f "$root/docker-compose.yml" -f "$root/$override" "$@"
}

cleanup() {
    local rc=$?
    set +e
    for p in "${up_projects[@]}"; do   # "PROJECT OVERRIDE"
        compose "${p% *}" "${p#* }" down -v --remove-orphans >/dev/null 2>&1
    done
    for n in $(dk network ls -q --filter "name=${run_id}" 2>/dev/null); do dk network rm "$n" >/dev/null 2>&1; done
    for v in $(dk volume ls -q --filter "name=${run_id}" 2>/dev/null); do dk volume rm -f "$v" >/dev/null 2>&1; done
    rm -rf "$tmp"
    engine_stop
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

health_status() { dk inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$1" 2>/dev/null || true; }
wait_healthy() { # wait_healthy CONTAINER SECONDS
    local i
    for ((i = 0; i < $2 * 5; i++)); do
        case "$(health_status "$1")" in
        healthy) return 0 ;;
        unhealthy) return 1 ;;
        esac
        sleep 0.2
    done
    return 1
}
pid1_env() { dk exec "$1" cat /proc/1/environ | tr '\0' '\n'; }
build() { # build IMAGE CONTEXT: prints the seconds it took
    local t0
    t0=$(now)
    if DK_TIMEOUT=1200 dk build -t "$1" "$2" >"$tmp/build-${1%%:*}.log" 2>&1; then
        ok "docker build $1 ($(elapsed "$t0" "$(now)") s)"
    else
        tail -n 60 "$tmp/build-${1%%:*}.log"
        bad "docker build $1"
        return 1
    fi
}

# ---------------------------------------------------------------- engine, base image, lexiaid
engine_start "overrides"
mkdir -p "$tmp/credentials"
t_all=$(now)
build lexiaid:local . || { echo "$pass passed, $fail failed"; exit 1; }

# ---------------------------------------------------------------- PostgreSQL
test_postgres() {
    local project="${run_id}pg" f=docker-compose.postgres.yml t0 pg lx url env
    host_port=$(free_port)
    pg_password="pw$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
    build lexiaid-postgres:local deploy/postgres || return 0
    t0=$(now)
    up_projects+=("$project $f")
    if ! compose "$project" "$f" up -d --no-build >"$tmp/pg-up.log" 2>&1; then
        cat "$tmp/pg-up.log"; bad "postgres: docker-compose up -d"; return 0
    fi
    pg=$(compose "$project" "$f" ps -q postgres)
    lx=$(compose "$project" "$f" ps -q lexiaid)
    if wait_healthy "$pg" 60 && wait_healthy "$lx" 30; then
        ok "postgres: up -> postgres and lexiaid healthy ($(elapsed "$t0" "$(now)") s)"
    else
        dk logs "$pg" 2>&1 | tail -n 30
        bad "postgres: healthy (postgres $(health_status "$pg"), lexiaid $(health_status "$lx"))"
        return 0
    fi
    check "postgres: PID 1 is postgres, as uid 999" bash -c '
        [ "$("$1" exec "$2" cat /proc/1/comm)" = postgres ] &&
        "$1" exec "$2" grep -qE "^Uid:\s+999\s" /proc/1/status' _ "$DOCKER" "$pg"
    check "postgres: no host port published" test -z "$(dk port "$pg")"
    env=$(pid1_env "$lx")
    url=$(sed -n 's/^LEXIAID_DATABASE_URL=//p' <<<"$env")
    check "postgres: lexiaid gets LEXIAID_STORAGE=postgres and the URL" bash -c '
        grep -qx LEXIAID_STORAGE=postgres <<<"$1" &&
        [ "$2" = "postgresql://lexiaid:$3@postgres:5432/lexiaid" ]' _ "$env" "$url" "$pg_password"
    # lexiaid's storage reached PostgreSQL by the service name (libpq, DNS through the image's
    # nsswitch.conf) and opened its schema there
    check "postgres: lexiaid's storage runs on PostgreSQL (its log)" bash -c '
        "$1" logs "$2" 2>&1 | grep -q "postgres database, schema version"' _ "$DOCKER" "$lx"
    check "postgres: that URL logs in over the compose network (user and database lexiaid)" bash -c '
        [ "$("$1" exec "$2" psql "$3" -Atc "select current_user || current_database()")" = lexiaidlexiaid ]' \
        _ "$DOCKER" "$pg" "$url"
    check "postgres: a wrong password is refused" bash -c '
        ! "$1" exec "$2" psql "${3/@postgres/x@postgres}" -Atc "select 1" >/dev/null 2>&1' _ "$DOCKER" "$pg" "$url"
    dk exec "$pg" psql "$url" -qc "create table lx_probe(v text); insert into lx_probe values ('$run_id')" >/dev/null
    t0=$(now)
    dk restart "$pg" >/dev/null
    echo "postgres: docker restart $(elapsed "$t0" "$(now)") s"
    check "postgres: data survives a restart, no second initdb" bash -c '
        for _ in $(seq 100); do "$1" exec "$2" pg_isready -q -h 127.0.0.1 && break; sleep 0.2; done
        [ "$("$1" exec "$2" psql "$3" -Atc "select v from lx_probe")" = "$4" ] &&
        [ "$("$1" logs "$2" 2>&1 | grep -c "postgres-entrypoint: initialising")" = 1 ]' _ "$DOCKER" "$pg" "$url" "$run_id"
    t0=$(now)
    if compose "$project" "$f" down -v >>"$tmp/pg-up.log" 2>&1; then
        up_projects=("${up_projects[@]/"$project $f"/}")
        ok "postgres: docker-compose down -v ($(elapsed "$t0" "$(now)") s)"
        check "postgres: the volumes are gone" test -z "$(dk volume ls -q --filter "name=${project}_")"
    else
        bad "postgres: docker-compose down -v"
    fi
}

# ---------------------------------------------------------------- Firebase Auth Emulator
test_emulator() {
    local project="${run_id}emu" f=docker-compose.emulator.yml t0 em lx email tok uid body code
    host_port=$(free_port)
    emu_port=$(free_port)
    check "deploy/emulator/package*.json are tests/auth-emulator's" \
        cmp -s tests/auth-emulator/package-lock.json deploy/emulator/package-lock.json
    cp -r deploy/emulator "$tmp/emulator-context"
    rm -f "$tmp/emulator-context/extra-ca.crt"
    if [ -n "$extra_ca" ]; then
        cp "$extra_ca" "$tmp/emulator-context/extra-ca.crt"
        echo "emulator: building with the extra CA certificates of $extra_ca"
    fi
    build lexiaid-firebase-emulator:local "$tmp/emulator-context" || return 0
    check "emulator image: Node 20, firebase-tools 15.34.2, no extra CA, uid 1000" bash -c '
        v=$("$1" run --rm --entrypoint sh "$2" -c "node --version; firebase --version; id -u;
            ls /usr/local/share/ca-certificates /etc/ssl/certs 2>/dev/null | wc -l")
        echo "$v" | tr "\n" " "; echo
        [[ "$v" == v20.*$'"'\n'"'15.34.2$'"'\n'"'1000$'"'\n'"'0 ]]' _ "$DOCKER" lexiaid-firebase-emulator:local
    t0=$(now)
    up_projects+=("$project $f")
    if ! compose "$project" "$f" up -d --no-build >"$tmp/emu-up.log" 2>&1; then
        cat "$tmp/emu-up.log"; bad "emulator: docker-compose up -d"; return 0
    fi
    em=$(compose "$project" "$f" ps -q firebase-emulator)
    lx=$(compose "$project" "$f" ps -q lexiaid)
    if wait_healthy "$em" 90 && wait_healthy "$lx" 30; then
        ok "emulator: up -> emulator and lexiaid healthy ($(elapsed "$t0" "$(now)") s)"
    else
        dk logs "$em" 2>&1 | tail -n 30
        bad "emulator: healthy (emulator $(health_status "$em"), lexiaid $(health_status "$lx"))"
        return 0
    fi
    check "emulator: lexiaid runs with LEXIAID_AUTH_MODE=emulator, /ready says so" bash -c '
        grep -qx LEXIAID_AUTH_MODE=emulator <<<"$1" &&
        curl -s --max-time 5 "http://127.0.0.1:$2/ready" | grep -q "EMULATOR MODE"' _ "$(pid1_env "$lx")" "$host_port"
    email="user-$run_id@example.com"
    body=$(curl -s --max-time 10 -w '\n%{http_code}' -X POST -H 'Content-Type: application/json' \
        -d "{\"email\":\"$email\",\"password\":\"secret-123\",\"display_name\":\"Container\"}" \
        "http://127.0.0.1:$host_port/api/users" || true)
    code=${body##*$'\n'}
    uid=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1]).get("userId", ""))' "${body%$'\n'*}" 2>/dev/null || true)
    check "emulator: POST /api/users through lexiaid -> 201 (got $code)" bash -c '[ "$1" = 201 ] && [ -n "$2" ]' _ "$code" "$uid"
    tok=$(curl -s --max-time 10 -X POST -H 'Content-Type: application/json' \
        -d "{\"email\":\"$email\",\"password\":\"secret-123\",\"returnSecureToken\":true}" \
        "http://127.0.0.1:$emu_port/identitytoolkit.googleapis.com/v1/accounts:signInWithPassword?key=fake-api-key" |
        python3 -c 'import json, sys; print(json.load(sys.stdin).get("idToken", ""))' 2>/dev/null || true)
    check "emulator: sign-in at the emulator -> an ID token" test -n "$tok"
    body=$(curl -s --max-time 10 -w '\n%{http_code}' -H "Authorization: Bearer $tok" \
        "http://127.0.0.1:$host_port/api/auth/me" || true)
    code=${body##*$'\n'}
    check "emulator: GET /api/auth/me with the token -> 200, same uid (got $code)" bash -c '
        [ "$1" = 200 ] && python3 -c "import json, sys; assert json.loads(sys.argv[1])[\"uid\"] == sys.argv[2]" "$2" "$3"' \
        _ "$code" "${body%$'\n'*}" "$uid"
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$host_port/api/auth/me" || true)
    check "emulator: GET /api/auth/me without a token -> 401 (got $code)" test "$code" = 401
    t0=$(now)
    if compose "$project" "$f" down -v >>"$tmp/emu-up.log" 2>&1; then
        up_projects=("${up_projects[@]/"$project $f"/}")
        ok "emulator: docker-compose down -v ($(elapsed "$t0" "$(now)") s)"
        check "emulator: the volumes are gone" test -z "$(dk volume ls -q --filter "name=${project}_")"
    else
        bad "emulator: docker-compose down -v"
    fi
}

for w in "${targets[@]}"; do "test_$w"; done
echo "overrides: $(elapsed "$t_all" "$(now)") s in all (builds included)"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
