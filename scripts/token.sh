#!/usr/bin/env bash
# Prints a Firebase ID token for EMAIL and PASSWORD from the local Firebase
# Auth Emulator that scripts/run.sh starts: signs in, or signs up first when
# the account does not exist yet. For the local instance only: emulator tokens
# are unsigned and mean nothing to a real Firebase project.
#   scripts/token.sh EMAIL PASSWORD
#   TOKEN=$(scripts/token.sh ada@example.com secret123)
#   curl -s localhost:5000/api/auth/me -H "Authorization: Bearer $TOKEN"
# FIREBASE_AUTH_EMULATOR_HOST: where the emulator is (default 127.0.0.1:9099).
# The token lasts an hour; run this again for a new one.
set -euo pipefail
if [ "$#" -ne 2 ]; then
    echo "usage: scripts/token.sh EMAIL PASSWORD" >&2
    exit 2
fi
host="${FIREBASE_AUTH_EMULATOR_HOST:-127.0.0.1:9099}"
base="http://$host/identitytoolkit.googleapis.com/v1/accounts"

# The request body, JSON-escaped; on stdin so that the password is not in
# curl's command line.
body=$(python3 -c 'import json, sys
print(json.dumps({"email": sys.argv[1], "password": sys.argv[2], "returnSecureToken": True}))' \
    "$1" "$2")

# call OP: POSTs the body to accounts:OP; prints the answer, fails on no answer.
call() {
    if ! printf '%s' "$body" | curl -sS --max-time 10 -X POST "$base:$1?key=fake-api-key" \
        -H 'Content-Type: application/json' --data-binary @-; then
        echo "token.sh: no Firebase Auth Emulator at $host (is scripts/run.sh running?)" >&2
        return 1
    fi
}

# field NAME: reads an answer on stdin, prints its idToken, or its error
# message (prefixed "error:").
field() {
    python3 -c 'import json, sys
try:
    j = json.load(sys.stdin)
except ValueError:
    print("error:not JSON (is this the Auth Emulator?)")
    sys.exit()
if isinstance(j, dict) and j.get("idToken"):
    print(j["idToken"])
else:
    e = j.get("error", {}) if isinstance(j, dict) else {}
    print("error:" + str(e.get("message", j) if isinstance(e, dict) else e))'
}

answer=$(call signInWithPassword | field)
case "$answer" in
error:EMAIL_NOT_FOUND* | error:INVALID_LOGIN_CREDENTIALS*)
    # no such account (the second code when email enumeration protection is on)
    up=$(call signUp | field)
    case "$up" in
    error:EMAIL_EXISTS*) ;;                # it exists: the password was wrong
    error:*) answer="$up" ;;
    *)
        echo "token.sh: signed up $1 in the emulator" >&2
        answer="$up"
        ;;
    esac
    ;;
esac
case "$answer" in
error:*)
    echo "token.sh: ${answer#error:}" >&2
    exit 1
    ;;
esac
printf '%s\n' "$answer"
