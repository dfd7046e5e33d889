# lexiaid: an image built from debian:bookworm-slim, shipped as a flat root.
#
#   docker build -t lexiaid:local .
#   docker run --rm -p 127.0.0.1:5000:5000 lexiaid:local
#
# Stage 1 (builder) compiles with autotools, runs the unit tests and installs into /out.
# Stage 2 (runtime) installs Debian's runtime packages, puts the install tree on top, checks that
# everything resolves and that the config passes `lexiaid -t`, then assembles /rootfs: the install
# tree, /bin/sh, cat and id, the shared libraries all of them load (computed with ldd), the data
# those libraries read (Tesseract's eng data, the CA bundle, OpenSSL's config), appuser.
# Stage 3 (final) is `FROM scratch` plus /rootfs: no package manager, no apt/dpkg databases, no
# compiler, no sources, no curl, and nothing of the base image that lexiaid does not load.
# The prefix is /usr/local everywhere (binary, plugins, config); data lives in /app/data.
#
# Build arguments:
#   LX_CHECK=unit   run the cmocka unit tests during the build (default)
#   LX_CHECK=all    run the whole `make check` (unit + integration; slower)
#   LX_CHECK=none   skip the tests
#   LX_JOBS=N       parallel make jobs (default: the builder's CPU count)
#   LX_LM_PRUNE=T   dictation's language model: pocketsphinx-en-us's pruned by lexiaid-lm-prune,
#   LX_LM_PRUNE_BIGRAMS=T2  trigrams at threshold T, bigrams at T2 (defaults 1e-7 and 1e-6:
#                   6.6 MB of 27.1 MB; 0 and 0 keep every n-gram; docs/performance.md,
#                   "Container", has the size and recall of several)

# ---------------------------------------------------------------- builder
FROM debian:bookworm-slim AS builder

ARG DEBIAN_FRONTEND=noninteractive
# The package layer comes first and depends on nothing in the sources, so a code change
# reuses it from the cache. python3 is only for LX_CHECK=all (the integration tests).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential autoconf automake libtool pkg-config \
      libevent-dev libwslay-dev libjson-c-dev libcurl4-openssl-dev libsqlite3-dev libconfig-dev \
      libssl-dev libcmocka-dev libpq-dev libpoppler-glib-dev libzip-dev libxml2-dev \
      libtesseract-dev libleptonica-dev flite1-dev libespeak-ng-dev libmp3lame-dev \
      libopus-dev libogg-dev libspeexdsp-dev libpocketsphinx-dev libsphinxbase-dev \
      python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# The build system first: autoreconf reruns only when it changes. Every automake fragment that
# Makefile.am includes is copied here (tests/container/run.sh checks it).
COPY configure.ac Makefile.am lexiaid-plugin.pc.in ./
COPY tests/local.mk tests/local.mk
COPY plugins/storage/local.mk plugins/storage/local.mk
COPY plugins/tutoring/local.mk plugins/tutoring/local.mk
COPY plugins/speech/local.mk plugins/speech/local.mk
COPY plugins/speech/dictation.mk plugins/speech/dictation.mk
RUN autoreconf -fi

# Then everything else (.dockerignore keeps .git, build outputs, data and .env out).
COPY . .

ARG LX_CHECK=unit
ARG LX_JOBS=
# LX_CHECK=unit: the unit tests are the check programs under tests/unit/, read from the
# generated Makefile, so that a new unit test is picked up without editing this file.
RUN set -eu; \
    jobs="${LX_JOBS:-$(nproc)}"; \
    mkdir -p _build && cd _build; \
    ../configure --prefix=/usr/local \
      --with-stt-model=/usr/local/share/lexiaid/pocketsphinx/en-us >/dev/null; \
    make -j"$jobs"; \
    case "$LX_CHECK" in \
    none) echo "tests skipped (LX_CHECK=none)" ;; \
    all) make -j"$jobs" check || { cat test-suite.log; exit 1; } ;; \
    *) \
      units=$(printf 'lx-print-units:\n\t@echo $(filter tests/unit/%%,$(check_PROGRAMS))\n' \
              | make -s -f Makefile -f - lx-print-units); \
      [ -n "$units" ] || { echo "no unit tests found" >&2; exit 1; }; \
      echo "unit tests: $units"; \
      make -j"$jobs" check TESTS="$units" || { cat test-suite.log; exit 1; } ;; \
    esac; \
    make install-strip DESTDIR=/out; \
    rm -rf /out/usr/local/include /out/usr/local/lib/pkgconfig; \
    find /out -name '*.la' -delete; \
    ls -lR /out/usr/local

# ---------------------------------------------------------------- runtime
# The runtime packages installed the Debian way, the install tree on top, checked; then the
# final root (/rootfs) is assembled from what lexiaid really uses. This stage is not shipped.
FROM debian:bookworm-slim AS runtime

ARG DEBIAN_FRONTEND=noninteractive
# Runtime libraries only: libevent (+pthreads), wslay (WebSocket frames), json-c, libconfig,
# libcurl (the HTTP client module), libssl (libcrypto: auth, the WebSocket handshake), sqlite3 and libpq (storage), CA certificates for outbound
# HTTPS; for the text extractor (libexec/lexiaid/lexiaid-extract): poppler-glib (PDF), libzip
# and libxml2 (DOCX), Tesseract with its English data (OCR of PNG/JPEG); for the speech helper
# (libexec/lexiaid/lexiaid-speech): flite's voices, espeak-ng with its data, LAME, and for
# dictation pocketsphinx with its US English model; in the speech plugin: Opus, Ogg, speexdsp.
# dpkg leaves out what nothing here reads (documentation but the copyright files, manuals,
# message catalogues, X11 input-method data, fonts): less to unpack.
RUN printf '%s\n' 'path-exclude=/usr/share/doc/*' 'path-include=/usr/share/doc/*/copyright' \
      'path-exclude=/usr/share/man/*' 'path-exclude=/usr/share/info/*' 'path-exclude=/usr/share/locale/*' \
      'path-exclude=/usr/share/lintian/*' 'path-exclude=/usr/share/X11/locale/*' \
      'path-exclude=/usr/share/fonts/*' >/etc/dpkg/dpkg.cfg.d/90-lexiaid-slim \
 && apt-get update \
 && apt-get install -y --no-install-recommends \
      libevent-2.1-7 libevent-pthreads-2.1-7 libwslay1 libjson-c5 libconfig9 libcurl4 libssl3 \
      libsqlite3-0 libpq5 libpoppler-glib8 libzip4 libxml2 libtesseract5 liblept5 \
      tesseract-ocr-eng libflite1 libespeak-ng1 espeak-ng-data libmp3lame0 \
      libopus0 libogg0 libspeexdsp1 libpocketsphinx3 libsphinxbase3 pocketsphinx-en-us \
      ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /var/log/apt /var/log/dpkg.log

# The install tree: bin/lexiaid, lib/lexiaid/{lx_http_client.so,plugins/*.so},
# libexec/lexiaid/{lexiaid-extract,lexiaid-speech}, etc/lexiaid/lexiaid.conf (whatever
# `make install` installs).
COPY --from=builder /out/usr/local/ /usr/local/
COPY deploy/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh

# Dictation's model, the directory the build named (--with-stt-model): Debian's acoustic model as
# it is, and pocketsphinx-en-us's language model pruned by lexiaid-lm-prune (relative-entropy
# pruning, back-off weights recomputed; checked against sphinxbase's reading of what it wrote)
# with the dictionary cut to the words the model knows. The full model (27.1 MB) would take the
# image past 160 MB; an operator can mount it (DOCKER_DEPLOYMENT.md, LEXIAID_STT_MODEL_DIR).
ARG LX_LM_PRUNE=1e-7
ARG LX_LM_PRUNE_BIGRAMS=1e-6
RUN set -eu; \
    m=/usr/share/pocketsphinx/model/en-us; d=/usr/local/share/lexiaid/pocketsphinx/en-us; \
    mkdir -p "$d"; ln -s "$m/en-us" "$d/en-us"; \
    lexiaid-lm-prune -t "$LX_LM_PRUNE" -t2 "$LX_LM_PRUNE_BIGRAMS" --verify 97 --dict "$m/cmudict-en-us.dict" \
      "$d/cmudict-en-us.dict" "$m/en-us.lm.bin" "$d/en-us.lm.bin"

# Every shared object must resolve with the runtime packages above, and the shipped config
# (with every plugin it names) must pass `lexiaid -t`: a missing library fails the build here,
# not at the first request.
RUN set -eu; \
    chmod 0755 /usr/local/bin/docker-entrypoint.sh; \
    for f in /usr/local/bin/lexiaid /usr/local/libexec/lexiaid/lexiaid-extract \
             /usr/local/libexec/lexiaid/lexiaid-speech \
             $(find /usr/local/lib/lexiaid -name '*.so'); do \
      if ldd "$f" | grep 'not found'; then echo "unresolved library in $f" >&2; exit 1; fi; \
    done; \
    d=$(mktemp -d); LEXIAID_DATA_DIR="$d" lexiaid -t; rm -rf "$d"; \
    printf 'extractor ok\n' | /usr/local/libexec/lexiaid/lexiaid-extract txt | grep -q 'extractor ok'; \
    /usr/local/libexec/lexiaid/lexiaid-speech --check; \
    /usr/local/libexec/lexiaid/lexiaid-speech --check --stt-model /usr/local/share/lexiaid/pocketsphinx/en-us; \
    lexiaid -v

# The final root, computed rather than listed by hand:
# - /usr/local as installed (binary, HTTP client module, plugins, extractor, config, entrypoint);
# - the entrypoint's /bin/sh (dash) and cat, and id for `docker exec ... id` (no other tools);
# - the shared libraries all of these load: the closure that ldd reports for every ELF file
#   (it follows DT_NEEDED through every level), the dynamic loader, and an ld.so.cache for them;
# - data the libraries read at run time: Tesseract's tessdata (eng), espeak-ng's voices and
#   dictionaries, pocketsphinx's acoustic model (the pruned language model and the dictionary
#   are under /usr/local), the CA bundle that libcurl uses for HTTPS, OpenSSL's config, nsswitch.conf,
#   localtime; /etc/passwd and /etc/group;
# - the Debian copyright files of every package a shipped file comes from, and the list of those
#   packages with their versions (/usr/share/doc/lexiaid/debian-packages.txt: no dpkg database
#   in the image, so this is what says which Debian builds it holds).
# Top-level symlinks (/bin -> usr/bin, /lib -> usr/lib, ...) are kept as in Debian, and every
# file goes to its canonical path, with the symlinks that lead to it.
# ldd sees only what is linked: a library that something dlopen()s by name, or a data file read at
# run time (found by tracing: strace -f -e trace=openat), must be added to the `put` lines below.
RUN set -eu; \
    R=/rootfs; \
    mkdir -p "$R/etc" "$R/tmp" "$R/var/tmp" "$R/app/data" "$R/app/logs" "$R/usr/share/doc/lexiaid"; \
    chmod 1777 "$R/tmp" "$R/var/tmp"; \
    for l in /bin /sbin /lib /lib32 /lib64 /libx32; do [ ! -L "$l" ] || cp -a "$l" "$R$l"; done; \
    put() { \
      p="$1"; \
      while :; do \
        d=$(readlink -f "$(dirname "$p")"); n=$(basename "$p"); \
        mkdir -p "$R$d"; \
        if [ ! -e "$R$d/$n" ] && [ ! -L "$R$d/$n" ]; then cp -a "$d/$n" "$R$d/$n"; echo "$d/$n" >>/tmp/shipped; fi; \
        [ -L "$d/$n" ] || break; \
        t=$(readlink "$d/$n"); case "$t" in /*) p="$t" ;; *) p="$d/$t" ;; esac; \
      done; \
    }; \
    : >/tmp/shipped; \
    find /usr/local -depth -type d -empty -delete; \
    put /usr/local; \
    for t in sh cat id; do put "$(command -v "$t")"; done; \
    put /usr/share/tesseract-ocr; \
    for d in /usr/lib/*/espeak-ng-data; do put "$d"; done; \
    put /usr/share/pocketsphinx/model/en-us/en-us; \
    put /etc/ssl/certs/ca-certificates.crt; put /etc/ssl/openssl.cnf; \
    put /usr/lib/ssl/openssl.cnf; put /usr/lib/ssl/cert.pem; \
    put /etc/nsswitch.conf; put /etc/localtime; \
    elves=$(find "$R" -type f -perm -u+x ! -name '*.sh'; find "$R" -type f -name '*.so*'); \
    for f in $elves; do \
      ldd "$f" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'; \
    done | sort -u >/tmp/libs; \
    for l in $(cat /tmp/libs); do put "$l"; done; \
    printf '%s\n' 'root:x:0:0:root:/root:/usr/sbin/nologin' \
      'appuser:x:1000:1000:lexiaid:/app:/usr/sbin/nologin' >"$R/etc/passwd"; \
    printf '%s\n' 'root:x:0:' 'appuser:x:1000:' >"$R/etc/group"; \
    : >"$R/etc/ld.so.conf"; ldconfig -r "$R"; rm -rf "$R/etc/ld.so.conf" "$R/var/cache"; \
    for f in $(grep -v '^/usr/local' /tmp/shipped); do \
      dpkg -S "$f" 2>/dev/null || dpkg -S "${f#/usr}" 2>/dev/null || true; \
    done | grep -E '^[^ ]+(, [^ ]+)*: /' | sed -e 's/: \/.*//' -e 's/, /\n/g' | sed 's/:.*//' | sort -u >/tmp/pkgs; \
    for p in $(cat /tmp/pkgs); do \
      dpkg-query -W -f='${binary:Package} ${Version}\n' "$p"; \
      c="/usr/share/doc/$p/copyright"; \
      if [ -f "$c" ]; then mkdir -p "$R/usr/share/doc/$p"; cp "$c" "$R/usr/share/doc/$p/"; fi; \
    done >"$R/usr/share/doc/lexiaid/debian-packages.txt"; \
    for l in "$R"/*; do [ ! -L "$l" ] || [ -e "$l" ] || rm "$l"; done; \
    chown -R 1000:1000 "$R/app"; \
    chmod 0750 "$R/app/data" "$R/app/logs"; \
    echo "final root: $(du -sh "$R" | cut -f1), $(wc -l </tmp/libs) libraries from $(wc -l </tmp/pkgs) packages"; \
    cat "$R/usr/share/doc/lexiaid/debian-packages.txt"

# The final root on its own, as appuser: lexiaid loads every plugin of the shipped config
# (`lexiaid -t`), the speech helper (a word from each engine), the extractor and the shell
# start. The extractor wants /dev/null, made here for
# the check only (skipped where the builder may not mknod, e.g. rootless engines).
RUN set -eu; \
    R=/rootfs; \
    mkdir -p "$R/tmp/lx-check"; chown 1000:1000 "$R/tmp/lx-check"; \
    LEXIAID_DATA_DIR=/tmp/lx-check chroot --userspec=1000:1000 "$R" /usr/local/bin/lexiaid -t; \
    chroot --userspec=1000:1000 "$R" /bin/sh -c 'cat /etc/group && id appuser'; \
    chroot --userspec=1000:1000 "$R" /usr/local/libexec/lexiaid/lexiaid-speech --check; \
    chroot --userspec=1000:1000 "$R" /usr/local/libexec/lexiaid/lexiaid-speech --check \
      --stt-model /usr/local/share/lexiaid/pocketsphinx/en-us; \
    if mkdir "$R/dev" && mknod -m 666 "$R/dev/null" c 1 3; then \
      printf 'extractor ok\n' | chroot --userspec=1000:1000 "$R" /usr/local/libexec/lexiaid/lexiaid-extract txt \
        | grep -q 'extractor ok'; \
    else echo "extractor check skipped: no mknod here"; fi; \
    rm -rf "$R/dev" "$R/tmp/lx-check"

# ---------------------------------------------------------------- final
# Only the assembled root: no package manager, no shell tools beyond sh/cat/id, no apt or dpkg
# databases, nothing of the base image that lexiaid does not load.
FROM scratch

COPY --from=runtime /rootfs/ /

ENV PATH=/usr/local/bin:/usr/bin:/bin \
    LEXIAID_DATA_DIR=/app/data

WORKDIR /app
VOLUME ["/app/data", "/app/logs"]
EXPOSE 5000
USER 1000:1000

# lexiaid starts in milliseconds: a short start period and interval report "healthy" within
# seconds. --probe is lexiaid's own client (no curl in the image).
HEALTHCHECK --interval=5s --timeout=3s --start-period=2s --retries=3 \
  CMD ["lexiaid", "--probe", "http://127.0.0.1:5000/health", "--probe-timeout", "2000"]

# SIGTERM: lexiaid drains requests in flight (LEXIAID_SHUTDOWN_GRACE) and exits 0.
STOPSIGNAL SIGTERM

# The entrypoint turns NAME_FILE secrets into NAME, then `exec`s lexiaid: lexiaid is PID 1
# (it reaps its children and handles signals itself).
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
CMD []
