# lexiaid: a two-stage image from debian:bookworm-slim.
#
#   docker build -t lexiaid:local .
#   docker run --rm -p 127.0.0.1:5000:5000 lexiaid:local
#
# Stage 1 (builder) compiles with autotools, runs the unit tests and installs into /out.
# Stage 2 (final) holds the runtime libraries, the binary, the HTTP client module, every plugin
# that `make install` installs, and the default config: no compiler, no sources, no curl.
# The prefix is /usr/local everywhere (binary, plugins, config); data lives in /app/data.
#
# Build arguments:
#   LX_CHECK=unit   run the cmocka unit tests during the build (default)
#   LX_CHECK=all    run the whole `make check` (unit + integration; slower)
#   LX_CHECK=none   skip the tests
#   LX_JOBS=N       parallel make jobs (default: the builder's CPU count)

# ---------------------------------------------------------------- builder
FROM debian:bookworm-slim AS builder

ARG DEBIAN_FRONTEND=noninteractive
# The package layer comes first and depends on nothing in the sources, so a code change
# reuses it from the cache. python3 is only for LX_CHECK=all (the integration tests).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential autoconf automake libtool pkg-config \
      libevent-dev libjson-c-dev libcurl4-openssl-dev libsqlite3-dev libconfig-dev \
      libssl-dev libcmocka-dev libpq-dev libpoppler-glib-dev libzip-dev libxml2-dev \
      libtesseract-dev libleptonica-dev python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# The build system first: autoreconf reruns only when it changes. Every automake fragment that
# Makefile.am includes is copied here (tests/container/run.sh checks it).
COPY configure.ac Makefile.am lexiaid-plugin.pc.in ./
COPY tests/local.mk tests/local.mk
COPY plugins/storage/local.mk plugins/storage/local.mk
COPY plugins/tutoring/local.mk plugins/tutoring/local.mk
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
    ../configure --prefix=/usr/local >/dev/null; \
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

# ---------------------------------------------------------------- final
FROM debian:bookworm-slim

ARG DEBIAN_FRONTEND=noninteractive
# Runtime libraries only: libevent (+pthreads), json-c, libconfig, libcurl (the HTTP client
# module), libssl (libcrypto: auth), sqlite3 and libpq (storage), CA certificates for outbound
# HTTPS; for the text extractor (libexec/lexiaid/lexiaid-extract): poppler-glib (PDF), libzip
# and libxml2 (DOCX), Tesseract with its English data (OCR of PNG/JPEG).
# dpkg leaves out what nothing here reads: documentation (copyright files kept), manuals, message
# catalogues, X11 input-method data and fonts (text extraction and OCR draw nothing).
RUN printf '%s\n' 'path-exclude=/usr/share/doc/*' 'path-include=/usr/share/doc/*/copyright' \
      'path-exclude=/usr/share/man/*' 'path-exclude=/usr/share/info/*' 'path-exclude=/usr/share/locale/*' \
      'path-exclude=/usr/share/lintian/*' 'path-exclude=/usr/share/X11/locale/*' \
      'path-exclude=/usr/share/fonts/*' >/etc/dpkg/dpkg.cfg.d/90-lexiaid-slim \
 && apt-get update \
 && apt-get install -y --no-install-recommends \
      libevent-2.1-7 libevent-pthreads-2.1-7 libjson-c5 libconfig9 libcurl4 libssl3 \
      libsqlite3-0 libpq5 libpoppler-glib8 libzip4 libxml2 libtesseract5 liblept5 \
      tesseract-ocr-eng ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /var/log/apt /var/log/dpkg.log

# A fixed, non-root user: uid/gid 1000, home /app, no login shell.
RUN groupadd --gid 1000 appuser \
 && useradd --uid 1000 --gid 1000 --home-dir /app --no-create-home --shell /usr/sbin/nologin appuser \
 && mkdir -p /app/data /app/logs \
 && chown -R 1000:1000 /app \
 && chmod 0750 /app/data /app/logs

# The install tree: bin/lexiaid, lib/lexiaid/{lx_http_client.so,plugins/*.so},
# etc/lexiaid/lexiaid.conf (whatever plugins `make install` installs come along).
COPY --from=builder /out/usr/local/ /usr/local/
COPY deploy/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh

# Every shared object must resolve with the runtime packages above, and the shipped config
# (with every plugin it names) must pass `lexiaid -t`: a missing library fails the build here,
# not at the first request.
RUN set -eu; \
    chmod 0755 /usr/local/bin/docker-entrypoint.sh; \
    for f in /usr/local/bin/lexiaid /usr/local/libexec/lexiaid/lexiaid-extract \
             $(find /usr/local/lib/lexiaid -name '*.so'); do \
      if ldd "$f" | grep 'not found'; then echo "unresolved library in $f" >&2; exit 1; fi; \
    done; \
    d=$(mktemp -d); LEXIAID_DATA_DIR="$d" lexiaid -t; rm -rf "$d"; \
    printf 'extractor ok\n' | /usr/local/libexec/lexiaid/lexiaid-extract txt | grep -q 'extractor ok'; \
    lexiaid -v

ENV LEXIAID_DATA_DIR=/app/data

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
