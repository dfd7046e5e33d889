/*
 * Forced into every unit test (-include) when configure did not find
 * cmocka: lexiaid itself builds without it, but `make check` cannot.
 */
#error "the unit tests need cmocka: apt-get install libcmocka-dev (scripts/deps.sh --test), then run configure again"
