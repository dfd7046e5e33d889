# The storage plugin (included by Makefile.am). Each block names its owner
# file set; sources are listed once here.

plugin_LTLIBRARIES += plugins/storage/storage.la

# Pure pieces, also linked into unit tests and fuzzers.
# (The multipart parser is the SDK's: sdk/liblexiaid_sdk.la.)
LX_STORAGE_PURE = plugins/storage/text/sniff.c plugins/storage/text/sniff.h \
	plugins/storage/text/text.c plugins/storage/text/text.h plugins/storage/errf.h \
	plugins/storage/text/plain.c plugins/storage/text/plain.h
# The optional parts (configure --without-postgres, --disable-ocr): each is
# a 0/1 macro for the code, which says at run time what a build without it
# cannot do.
if LX_HAVE_POSTGRES
LX_STORAGE_PG = plugins/storage/db/store_pg.h plugins/storage/db/store_pg_sql.h \
	plugins/storage/db/store_pg.c plugins/storage/db/store_pg_docs.c plugins/storage/db/store_pg_users.c
LX_STORAGE_FEATURES = -DSTORAGE_HAVE_POSTGRES=1
else
LX_STORAGE_PG =
LX_STORAGE_FEATURES = -DSTORAGE_HAVE_POSTGRES=0
endif
if LX_HAVE_OCR
LX_STORAGE_FEATURES += -DSTORAGE_HAVE_OCR=1
else
LX_STORAGE_FEATURES += -DSTORAGE_HAVE_OCR=0
endif

# db/: the database layer (the pool, the table of operations, both
# backends).
LX_STORAGE_STORE = plugins/storage/db/store.c plugins/storage/db/store.h \
	plugins/storage/db/store_ops.h plugins/storage/db/store_backend.h \
	plugins/storage/db/store_sqlite.h plugins/storage/db/store_sqlite.c \
	plugins/storage/db/store_sqlite_docs.c plugins/storage/db/store_sqlite_users.c \
	$(LX_STORAGE_PG)
# Every file includes the others by their path under plugins/storage/.
LX_STORAGE_INC = -I$(top_srcdir)/plugins/storage
LX_STORAGE_DEPS_CFLAGS = $(LX_STORAGE_INC) $(LX_STORAGE_FEATURES) $(JSONC_CFLAGS) $(SQLITE_CFLAGS) $(LIBPQ_CFLAGS) \
	$(LIBCRYPTO_CFLAGS) $(LIBZIP_CFLAGS)
LX_STORAGE_DEPS_LIBS = $(JSONC_LIBS) $(SQLITE_LIBS) $(LIBPQ_LIBS) $(LIBCRYPTO_LIBS) $(PTHREAD_LIBS) $(LIBZIP_LIBS) -lm

# The plugin: its state and services at the top, http/ the routes, text/
# the text pipeline, db/ the database and the files.
plugins_storage_storage_la_SOURCES = plugins/storage/storage.c plugins/storage/storage.h \
	plugins/storage/pool_jobs.c plugins/storage/svc.c plugins/storage/svc_ops.c \
	plugins/storage/svc_call.h \
	plugins/storage/http/reply.c plugins/storage/http/users.c \
	plugins/storage/http/documents.c plugins/storage/http/download.c \
	plugins/storage/http/feedback.c plugins/storage/http/admin.c \
	plugins/storage/http/admin_users.c plugins/storage/http/progress.c \
	plugins/storage/text/extract_queue.c plugins/storage/text/extract_queue.h \
	plugins/storage/text/extract_steps.c \
	plugins/storage/text/extract_pool.c plugins/storage/text/extract_pool.h \
	plugins/storage/text/extract.c plugins/storage/text/extract.h \
	plugins/storage/db/backup.c plugins/storage/db/files.c plugins/storage/db/files.h \
	plugins/storage/db/asset_files.c plugins/storage/svc_assets.c \
	$(LX_STORAGE_STORE) $(LX_STORAGE_PURE)
plugins_storage_storage_la_CFLAGS = $(LX_PLUGIN_CFLAGS) $(LX_STORAGE_DEPS_CFLAGS)
# Where `make install` puts the extractor: the default of storage.extractor.
plugins_storage_storage_la_CPPFLAGS = $(AM_CPPFLAGS) \
	-DLX_EXTRACT_PATH='"$(pkglibexecdir)/lexiaid-extract"'
plugins_storage_storage_la_LIBADD = sdk/liblexiaid_sdk.la $(LX_STORAGE_DEPS_LIBS)
plugins_storage_storage_la_LDFLAGS = $(LX_PLUGIN_LDFLAGS)

# The text extractor: a separate program so that parsers of untrusted files
# never run inside a worker (extract.h).
pkglibexec_PROGRAMS = plugins/storage/extract/lexiaid-extract
# text/plain.c (and the SDK's UTF-8 check it uses) is the plugin's own
# txt and md decoder, compiled in here too: one implementation for both.
LX_EXTRACT_SHARED = plugins/storage/text/plain.c plugins/storage/text/plain.h sdk/utf8.c
plugins_storage_extract_lexiaid_extract_SOURCES = plugins/storage/extract/lexiaid-extract.c \
	$(LX_EXTRACT_SHARED)
plugins_storage_extract_lexiaid_extract_CFLAGS = $(AM_CFLAGS) $(LX_STORAGE_INC) $(LX_STORAGE_FEATURES) $(POPPLER_CFLAGS) \
	$(LIBZIP_CFLAGS) $(LIBXML_CFLAGS) $(TESSERACT_CFLAGS)
plugins_storage_extract_lexiaid_extract_LDADD = $(POPPLER_LIBS) $(LIBZIP_LIBS) $(LIBXML_LIBS) \
	$(TESSERACT_LIBS)

# The extractor once more, built without the sanitizers (which run it
# without its address-space limit and with their own malloc), so that the
# tests can meet its memory limit for real: never installed.
noinst_PROGRAMS = plugins/storage/extract/lexiaid-extract-plain
plugins_storage_extract_lexiaid_extract_plain_SOURCES = plugins/storage/extract/lexiaid-extract.c \
	$(LX_EXTRACT_SHARED)
plugins_storage_extract_lexiaid_extract_plain_CFLAGS = -std=c11 -O2 -g -Wall -Wextra $(LX_STORAGE_INC) \
	$(LX_STORAGE_FEATURES) $(POPPLER_CFLAGS) $(LIBZIP_CFLAGS) $(LIBXML_CFLAGS) $(TESSERACT_CFLAGS)
plugins_storage_extract_lexiaid_extract_plain_LDFLAGS =
plugins_storage_extract_lexiaid_extract_plain_LDADD = $(POPPLER_LIBS) $(LIBZIP_LIBS) \
	$(LIBXML_LIBS) $(TESSERACT_LIBS)

# ---------------------------------------------------------------- storage tests
LX_STORAGE_TEST_CFLAGS = $(LX_TEST_CFLAGS) $(LX_STORAGE_DEPS_CFLAGS)
LX_STORAGE_TEST_LIBS = $(LX_TEST_LIBS) $(LX_STORAGE_DEPS_LIBS)

# The store on SQLite, and on PostgreSQL when LX_TEST_PG_URL is set.
check_PROGRAMS += tests/unit/test_storage_store
tests_unit_test_storage_store_SOURCES = tests/unit/test_storage_store.c $(LX_STORAGE_STORE)
tests_unit_test_storage_store_CFLAGS = $(LX_STORAGE_TEST_CFLAGS)
tests_unit_test_storage_store_LDADD = $(LX_STORAGE_TEST_LIBS)

# multipart, sniffing, text.
check_PROGRAMS += tests/unit/test_storage_parse
tests_unit_test_storage_parse_SOURCES = tests/unit/test_storage_parse.c $(LX_STORAGE_PURE)
tests_unit_test_storage_parse_CFLAGS = $(LX_STORAGE_TEST_CFLAGS)
tests_unit_test_storage_parse_LDADD = sdk/liblexiaid_sdk.la $(LX_STORAGE_TEST_LIBS)

# The extractor on documents the test makes itself.
check_PROGRAMS += tests/unit/test_storage_extract
tests_unit_test_storage_extract_SOURCES = tests/unit/test_storage_extract.c \
	plugins/storage/text/extract.c plugins/storage/text/extract.h
tests_unit_test_storage_extract_CFLAGS = $(LX_STORAGE_TEST_CFLAGS) \
	-DLX_TEST_EXTRACT='"$(abs_top_builddir)/plugins/storage/extract/lexiaid-extract"'
tests_unit_test_storage_extract_LDADD = sdk/liblexiaid_sdk.la $(LX_STORAGE_TEST_LIBS)

# The txt and md decoder, and the same answers from the decoder and the
# child (text/plain.h).
check_PROGRAMS += tests/unit/test_storage_plain
tests_unit_test_storage_plain_SOURCES = tests/unit/test_storage_plain.c \
	plugins/storage/text/plain.c plugins/storage/text/plain.h \
	plugins/storage/text/extract.c plugins/storage/text/extract.h
tests_unit_test_storage_plain_CFLAGS = $(LX_STORAGE_TEST_CFLAGS) \
	-DLX_TEST_EXTRACT='"$(abs_top_builddir)/plugins/storage/extract/lexiaid-extract"'
tests_unit_test_storage_plain_LDADD = sdk/liblexiaid_sdk.la $(LX_STORAGE_TEST_LIBS)
