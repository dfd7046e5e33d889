#!/bin/sh
# docker-entrypoint.sh: secrets as files, then `exec lexiaid`, so that lexiaid is PID 1.
#
# For each secret NAME below, NAME_FILE may name a file (a Docker or Kubernetes secret) whose
# content becomes NAME; a trailing newline is dropped. Setting both NAME and NAME_FILE (non-empty)
# is refused, and so is an unreadable NAME_FILE: a secret silently missing is worse than a clear
# start failure. lexiaid's config reads ${NAME} as usual, so the core knows nothing of this.
#
# Arguments: none or flags (-c FILE, -t, -v, --probe URL, ...) go to lexiaid; `lexiaid ARGS`
# too; any other command (sh, cat, ...) is exec'd as it is, for debugging.
set -eu

LX_SECRETS="GOOGLE_API_KEY OPENAI_API_KEY LEXIAID_STT_API_KEY LEXIAID_TTS_API_KEY LEXIAID_DATABASE_URL ADMIN_EMAILS FIREBASE_SERVICE_ACCOUNT_KEY_PATH LEXIAID_URL_SECRET"

for name in $LX_SECRETS; do
    eval "file=\${${name}_FILE:-}"
    [ -n "$file" ] || continue
    eval "value=\${${name}:-}"
    if [ -n "$value" ]; then
        echo "docker-entrypoint: both $name and ${name}_FILE are set; set only one" >&2
        exit 64
    fi
    if [ ! -r "$file" ] || [ -d "$file" ]; then
        echo "docker-entrypoint: ${name}_FILE=$file is not a readable file" >&2
        exit 66
    fi
    value=$(cat "$file")
    export "$name=$value"
    unset "${name}_FILE"
done
unset name file value LX_SECRETS

case "${1:-}" in
"" | -*) exec /usr/local/bin/lexiaid "$@" ;;
lexiaid) shift; exec /usr/local/bin/lexiaid "$@" ;;
*) exec "$@" ;;
esac
