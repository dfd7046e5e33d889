#!/bin/sh
# The installed SDK: `make install` into a DESTDIR, build examples/hello-plugin
# against it with pkg-config alone, check the plugin exports only
# lx_plugin_entry, and serve it with the installed binary.
# Exit 0 on success, 1 on failure (each failure says what and why).

set -u

: "${LX_BUILDDIR:?LX_BUILDDIR is not set}"
: "${LX_SRCDIR:?LX_SRCDIR is not set}"
MAKE=${MAKE:-make}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
CC=${CC:-cc}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lx-sdk.XXXXXX")
dest="$tmp/dest"
work="$tmp/work"
pid=""

cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        sleep 1
        kill -KILL "$pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

n_fail=0
fail() { echo "FAIL: $*"; n_fail=$((n_fail + 1)); }
die() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok: $*"; }

mkdir -p "$dest" "$work" || die "cannot create $tmp"

# ---------------------------------------------------------------- install
if ! $MAKE -C "$LX_BUILDDIR" install DESTDIR="$dest" >"$tmp/install.log" 2>&1; then
    tail -n 40 "$tmp/install.log"
    die "make install DESTDIR=$dest failed"
fi
ok "make install DESTDIR"

pc="$LX_BUILDDIR/lexiaid-plugin.pc"
[ -f "$pc" ] || die "$pc missing (configure should make it)"
prefix=$($PKG_CONFIG --variable=prefix "$pc" 2>/dev/null)
[ -n "$prefix" ] || prefix=$(sed -n 's/^prefix=//p' "$pc")
[ -n "$prefix" ] || die "no prefix in $pc"
root="$dest$prefix"
echo "prefix: $prefix (installed under $root)"

for f in bin/lexiaid lib/lexiaid/plugins/health.so etc/lexiaid/lexiaid.conf \
         include/lexiaid/plugin.h include/lexiaid/multipart.h lib/liblexiaid_sdk.a \
         lib/pkgconfig/lexiaid-plugin.pc; do
    if [ -f "$root/$f" ]; then ok "installed $f"; else fail "not installed: $f"; fi
done
[ -x "$root/bin/lexiaid" ] || fail "bin/lexiaid is not executable"
if ls "$root/lib/lexiaid/plugins/"*.la >/dev/null 2>&1; then
    fail "libtool .la files left in lib/lexiaid/plugins"
fi

# ---------------------------------------------------------------- build the example
cp "$LX_SRCDIR/examples/hello-plugin/hello.c" "$LX_SRCDIR/examples/hello-plugin/Makefile" \
    "$work/" || die "examples/hello-plugin is missing"
PKG_CONFIG_PATH="$root/lib/pkgconfig"
PKG_CONFIG_SYSROOT_DIR="$dest"
PKG_CONFIG_LIBDIR="$root/lib/pkgconfig"   # only the installed SDK, not the system's
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_LIBDIR

cflags=$($PKG_CONFIG --cflags lexiaid-plugin) || die "pkg-config --cflags lexiaid-plugin failed"
libs=$($PKG_CONFIG --libs lexiaid-plugin) || die "pkg-config --libs lexiaid-plugin failed"
echo "cflags: $cflags"
echo "libs:   $libs"
case "$cflags" in
    *"$dest"*) ok "cflags point into the installed tree" ;;
    *) fail "cflags do not point at the installed headers: $cflags" ;;
esac

# Build from the copy, so that nothing of the source tree can leak in.
(cd "$work" && $CC $cflags hello.c -o hello.so $libs) >"$tmp/cc.log" 2>&1 ||
    { cat "$tmp/cc.log"; die "cc hello.c against the installed SDK failed"; }
ok "hello.so built with pkg-config flags"

# Every SDK header of the source tree is installed, and each compiles on
# its own from the installed tree: -H lists every header the compiler
# opened, and each lexiaid one must come from the DESTDIR, none from the
# source tree or the build tree (a plugin sees the installed SDK only).
(cd "$LX_SRCDIR/include" && find lexiaid -name '*.h' | sort) >"$tmp/src-headers"
(cd "$root/include" && find lexiaid -name '*.h' | sort) >"$tmp/inst-headers"
if cmp -s "$tmp/src-headers" "$tmp/inst-headers"; then
    ok "every header of include/lexiaid is installed ($(wc -l <"$tmp/src-headers"))"
else
    fail "installed headers differ from include/lexiaid: $(diff "$tmp/src-headers" "$tmp/inst-headers" | grep '^[<>]' | tr '\n' ' ')"
fi
while read -r h; do
    printf '#include <%s>\n#include <%s>\nint lx_sdk_probe(void);\nint lx_sdk_probe(void) { return 0; }\n' \
        "$h" "$h" >"$work/one.c"
    if (cd "$work" && $CC -std=c11 -Wall -Wextra -Werror -H $cflags -c one.c -o one.o) \
        >"$tmp/h.log" 2>&1; then
        leaked=$(grep '^\.* ' "$tmp/h.log" | sed 's/^\.* //' | grep 'lexiaid' | grep -v "^$dest" || true)
        [ -z "$leaked" ] || fail "$h pulls headers from outside the installed SDK: $leaked"
    else
        cat "$tmp/h.log"
        fail "$h does not compile on its own from the installed SDK"
    fi
done <"$tmp/inst-headers"
ok "each installed header compiles alone, from the installed tree only"

mkdir -p "$work/viamake" && cp "$work/hello.c" "$work/Makefile" "$work/viamake/"
if (cd "$work/viamake" && env -u MAKEFLAGS -u MFLAGS make) >"$tmp/make.log" 2>&1 &&
    [ -f "$work/viamake/hello.so" ]; then
    ok "examples/hello-plugin/Makefile builds hello.so"
else
    cat "$tmp/make.log"
    fail "examples/hello-plugin/Makefile failed"
fi

exported=$(nm -D --defined-only "$work/hello.so" | awk '{print $NF}' | grep '^lx_' | sort)
if [ "$exported" = "lx_plugin_entry" ]; then
    ok "hello.so exports only lx_plugin_entry"
else
    fail "hello.so exports lx_ symbols: [$exported] (want only lx_plugin_entry)"
fi

# ---------------------------------------------------------------- serve it
conf="$work/lexiaid.conf"
cat >"$conf" <<EOC
server = { listen = "127.0.0.1:0"; workers = 1; log_format = "json"; data_dir = "$work/data"; };
plugins = (
  { name = "hello"; file = "$work/hello.so"; },
  { name = "health"; file = "$root/lib/lexiaid/plugins/health.so"; }
);
routes = (
  { method = "GET"; path = "/hello"; handler = "hello.greet"; },
  { method = "POST"; path = "/hello/form"; handler = "hello.form"; },
  { path = "/hello/ws"; websocket = "hello.ws"; },
  { method = "GET"; path = "/health"; handler = "health.live"; }
);
EOC

"$root/bin/lexiaid" -t -c "$conf" >"$tmp/t.log" 2>&1 || { cat "$tmp/t.log"; fail "lexiaid -t rejects the config"; }

"$root/bin/lexiaid" -c "$conf" >"$tmp/out.log" 2>"$tmp/err.log" &
pid=$!
port=""
i=0
while [ $i -lt 100 ]; do
    port=$(sed -n 's/.*listening on [^ "]*:\([0-9][0-9]*\).*/\1/p' "$tmp/out.log" "$tmp/err.log" | head -n 1)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
    i=$((i + 1))
done
if [ -z "$port" ]; then
    cat "$tmp/out.log" "$tmp/err.log"
    die "the installed lexiaid did not start"
fi
ok "installed lexiaid listening on port $port"

body=$(python3 -c '
import json, sys, urllib.request
with urllib.request.urlopen("http://127.0.0.1:%s/hello" % sys.argv[1], timeout=5) as r:
    assert r.status == 200, r.status
    print(json.dumps(json.loads(r.read().decode()), sort_keys=True))
' "$port") || fail "GET /hello failed"
if [ "$body" = '{"hello": "world"}' ]; then
    ok "GET /hello -> $body"
else
    fail "GET /hello returned [$body], want {\"hello\": \"world\"}"
fi

# The SDK's helper library, linked through the pkg-config flags: a
# multipart form parsed by <lexiaid/multipart.h> inside the plugin, and a
# malformed one refused with the parser's message.
form=$(python3 -c '
import json, sys, urllib.error, urllib.request
def post(body):
    rq = urllib.request.Request("http://127.0.0.1:%s/hello/form" % sys.argv[1], data=body,
        headers={"Content-Type": "multipart/form-data; boundary=XyZ"}, method="POST")
    try:
        with urllib.request.urlopen(rq, timeout=5) as r:
            return r.status, json.loads(r.read().decode())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode())
good = (b"--XyZ\r\nContent-Disposition: form-data; name=\"query\"\r\n\r\nhi\r\n"
        b"--XyZ\r\nContent-Disposition: form-data; name=\"mode\"\r\n\r\nquiz\r\n--XyZ--\r\n")
print(post(good), post(b"--XyZ\r\nno headers--XyZ--\r\n")[0])
' "$port") || fail "POST /hello/form failed"
case "$form" in
    "(200, {'fields': 2, 'first': 'query'}) 400") ok "POST /hello/form -> $form (liblexiaid_sdk)" ;;
    *) fail "POST /hello/form returned [$form], want 2 fields then a 400" ;;
esac

# A WebSocket route of an out-of-tree plugin: the handshake, one masked
# text frame, its JSON answer (python3's stdlib over a socket).
wsr=$(python3 -c '
import base64, os, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET /hello/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % key).encode())
buf = b""
while b"\r\n\r\n" not in buf:
    buf += s.recv(4096)
head, buf = buf.split(b"\r\n\r\n", 1)
mask = os.urandom(4)
s.sendall(bytes([0x81, 0x85]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(b"hello")))
while len(buf) < 2 or len(buf) < 2 + (buf[1] & 0x7f):
    buf += s.recv(4096)
print(head.split(b"\r\n")[0].decode(), buf[2:2 + (buf[1] & 0x7f)].decode())
' "$port") || fail "the WebSocket route failed"
case "$wsr" in
    'HTTP/1.1 101 Switching Protocols {"messages":1,"bytes":5}') ok "GET /hello/ws -> $wsr" ;;
    *) fail "GET /hello/ws gave [$wsr], want 101 then {\"messages\":1,\"bytes\":5}" ;;
esac

kill -TERM "$pid"
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$pid" 2>/dev/null; then
    fail "lexiaid still running 10 s after SIGTERM"
else
    wait "$pid"
    rc=$?
    [ "$rc" -eq 0 ] && ok "stopped, exit 0" || fail "exit code $rc after SIGTERM"
fi
pid=""

if [ "$n_fail" -ne 0 ]; then
    echo "$n_fail check(s) failed"
    exit 1
fi
echo "all SDK checks passed"
exit 0
