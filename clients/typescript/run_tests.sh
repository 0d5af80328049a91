#!/usr/bin/env bash
# run_tests.sh: builds and tests baton-client (clients/typescript) against a
# real batond. CTest runs it as client_typescript with BATOND (the batond
# binary, absolute) and BATON_SRC (the repo root); it also runs standalone:
#   BATOND=$PWD/build/batond BATON_SRC=$PWD bash clients/typescript/run_tests.sh
# Steps: the ESM and CommonJS builds (npm run build), tsc --noEmit --strict over
# sources and tests, node --test over the compiled tests (each test file starts
# its own batond), then `npm pack` and an install of the tarball into an empty
# folder (offline: the package has no dependencies), where the README's quick
# start (ESM), a CommonJS consumer and a type check of the published .d.ts run
# against a batond this script starts. Needs node_modules from `npm ci`
# (scripts/deps.sh runs it from the committed package-lock.json); no network.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
: "${BATOND:?BATOND must name the batond binary to test}"
if [ ! -x node_modules/typescript/bin/tsc ] && [ ! -f node_modules/typescript/bin/tsc ]; then
  echo "run_tests.sh: node_modules is missing; run scripts/deps.sh (npm ci in clients/typescript)" >&2
  exit 1
fi
tsc=(node "$here/node_modules/typescript/bin/tsc")

tmp="$(mktemp -d)"
srv_pid=""
cleanup() {
  if [ -n "$srv_pid" ] && kill -0 "$srv_pid" 2>/dev/null; then
    kill -TERM "$srv_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$srv_pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$srv_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "== build (dist/esm, dist/cjs)"
npm run --silent build

echo "== tsc --noEmit --strict (sources and tests)"
"${tsc[@]}" -p tsconfig.test.json --noEmit --strict

echo "== node --test"
rm -rf build-test
"${tsc[@]}" -p tsconfig.test.json
node --test build-test/test/*.test.js

echo "== npm pack, install into an empty folder"
npm pack --silent --pack-destination "$tmp" >/dev/null
tgz="$(ls "$tmp"/baton-client-*.tgz)"
mkdir "$tmp/app"
cd "$tmp/app"
printf '{"name":"app","version":"1.0.0","private":true}\n' > package.json
npm install --offline --no-audit --no-fund --loglevel=error "$tgz" >/dev/null
test -f node_modules/baton-client/dist/esm/index.js
test -f node_modules/baton-client/dist/cjs/index.d.ts
if [ -e node_modules/baton-client/src ] || [ -e node_modules/baton-client/test ]; then
  echo "the tarball holds sources or tests" >&2
  exit 1
fi

# The README's quick start, verbatim: the first ```js block after "## Quick start".
awk '/^## Quick start/{q=1} q&&/^```js$/{c=1;next} c&&/^```$/{exit} c{print}' "$here/README.md" > quickstart.mjs
test -s quickstart.mjs
cp "$here/test/pack/consumer.cjs" "$here/test/pack/types-esm.mts" "$here/test/pack/types-cjs.cts" .

echo "== type check of the installed package (ESM and CJS consumers)"
"${tsc[@]}" --noEmit --strict --module node16 --moduleResolution node16 --target es2022 \
  --typeRoots "$here/node_modules/@types" --types node types-esm.mts types-cjs.cts

data="$tmp/data"
mkdir "$data"
"$BATOND" --listen 127.0.0.1:0 --data "$data" --sync normal --log-level warn > "$tmp/batond.out" 2>&1 &
srv_pid=$!
url=""
for _ in $(seq 1 100); do
  url="$(grep -o 'listening on http://127\.0\.0\.1:[0-9]*' "$tmp/batond.out" | head -1 | sed 's/^listening on //' || true)"
  [ -n "$url" ] && break
  sleep 0.05
done
[ -n "$url" ] || { echo "batond did not start:" >&2; cat "$tmp/batond.out" >&2; exit 1; }
for _ in $(seq 1 100); do
  node -e "require('http').get('$url/healthz', r => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))" && break
  sleep 0.05
done
export BATON_URL="$url"
BATON_KEY="$(cat "$data/admin.key")"
export BATON_KEY

echo "== README quick start (ESM, installed package)"
out="$(timeout 60 node quickstart.mjs)"
echo "$out"
grep -q 'completed' <<<"$out"
echo "== CommonJS consumer (installed package)"
timeout 60 node consumer.cjs
echo "run_tests.sh: all passed"
