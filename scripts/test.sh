#!/usr/bin/env bash
# Runs every test tier: builds the release tree (build/) and the ASan+UBSan tree
# (build-asan/), then runs CTest in each. Called by `make test` and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

bash scripts/deps.sh

echo "== format check"
if ! clang-format --dry-run --Werror $(git ls-files '*.c' '*.h' 2>/dev/null || find src include tests bench -name '*.[ch]') ; then
  echo "format check failed: run 'make format'" >&2
  exit 1
fi

echo "== release build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"

echo "== sanitizer build (ASan + UBSan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DBATON_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$jobs"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# A throwaway PostgreSQL 15 for the PostgreSQL runs of the store conformance
# and end-to-end suites (scripts/pg_server.sh), stopped by its pid on exit.
pgdir=$(mktemp -d /tmp/baton-pg.XXXXXX)
trap 'bash scripts/pg_server.sh stop "$pgdir"' EXIT
echo "== PostgreSQL test server"
BATON_TEST_PG_URI=$(bash scripts/pg_server.sh start "$pgdir")
export BATON_TEST_PG_URI
echo "   $BATON_TEST_PG_URI"

status=0
echo "== tests (release)"
ctest --test-dir build --output-on-failure -j "$jobs" || status=1
echo "== tests (ASan + UBSan)"
ctest --test-dir build-asan --output-on-failure -j "$jobs" || status=1

if [ "$status" -ne 0 ]; then
  echo "tests failed" >&2
fi
exit "$status"
