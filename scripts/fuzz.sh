#!/usr/bin/env bash
# fuzz.sh: builds one libFuzzer target of tests/fuzz/ with clang (ASan +
# UBSan + libFuzzer) and runs it for a bounded time from the corpus kept in
# tests/fuzz/corpus/<name>/. New inputs go to a temporary directory, never
# into the repo; a crash leaves its input in the build directory and fails.
#
#   scripts/fuzz.sh NAME SECONDS BUILD_DIR
#
# Run by CTest (tests/CMakeLists.txt) as the test fuzz_<NAME>.
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1
secs=$2
out=$3/fuzz
mkdir -p "$out"

# What each target links: the parser alone, or every library below main.c
# (request bodies go through the server's parsing and core's validation).
# The dashboard's assets are a C source the build generates (ui/embed.mjs).
server_srcs="$(ls src/common/*.c src/core/*.c src/store/*.c src/server/*.c | grep -v '/main\.c$') $3/ui/ui_assets.c"
[ -f "$3/ui/ui_assets.c" ] || { echo "fuzz.sh: $3/ui/ui_assets.c is missing: build $3 first" >&2; exit 2; }
declare -A srcs=(
  [http_parse]="src/server/http_parse.c"
  [request_body]="$server_srcs"
)
declare -A libs=(
  [http_parse]=""
  [request_body]="$(pkg-config --libs jansson sqlite3 libevent libevent_pthreads libpq libssl libcrypto) -lm -lpthread"
)
[ -n "${srcs[$name]:-}" ] || { echo "fuzz.sh: unknown target $name" >&2; exit 2; }

bin="$out/fuzz_$name"
# shellcheck disable=SC2086 # the lists are word lists
clang -g -O1 -std=gnu11 -D_GNU_SOURCE -DBATON_HAVE_POSTGRES=1 -Iinclude -Isrc \
  $(pkg-config --cflags libpq) \
  -Wall -Wextra -Wno-missing-field-initializers -Wno-unused-command-line-argument \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  "tests/fuzz/fuzz_$name.c" ${srcs[$name]} ${libs[$name]} -o "$bin"

work=$(mktemp -d /tmp/baton-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
# -max_total_time bounds the run; -timeout bounds one input (a hang fails).
"$bin" -max_total_time="$secs" -timeout=5 -rss_limit_mb=1024 -print_final_stats=1 \
  -artifact_prefix="$out/crash-$name-" "$work" "tests/fuzz/corpus/$name" 2>"$out/$name.log" || {
  tail -50 "$out/$name.log" >&2
  echo "fuzz_$name: failed (input saved under $out/crash-$name-*)" >&2
  exit 1
}
grep -E 'stat::number_of_executed_units|stat::new_units_added' "$out/$name.log" || true
echo "fuzz_$name: no failure in ${secs} s"
