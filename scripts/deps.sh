#!/usr/bin/env bash
# Installs every Debian 12 package that baton's build, tests and benchmarks need,
# then runs `npm ci` in every folder with a committed package-lock.json (the
# TypeScript client's build tools, the examples, the OpenAPI validator). Idempotent: packages already
# present are left alone, apt-get update runs only when something is missing, and
# `npm ci` runs only when a lockfile is newer than its node_modules. Needs root
# (or sudo).
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config clang-format clang libclang-rt-14-dev
  libevent-dev libjansson-dev libsqlite3-dev sqlite3
  libcurl4-openssl-dev libssl-dev libcmocka-dev
  libpq-dev postgresql-15 postgresql-client-15
  tzdata libc-bin curl wrk procps jq
  golang-go python3
)
# Node.js 18 or newer with npm: Debian's nodejs and npm packages, unless a node
# is already installed (a nodejs package that bundles npm conflicts with
# Debian's npm, so neither is asked for then). libnode-dev carries the headers
# node-gyp compiles better-sqlite3 against (below) for Debian's nodejs.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  pkgs+=(nodejs npm libnode-dev)
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
  fi
  echo "deps: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# npm ci from each committed lockfile (clients/*/, examples/*/, tests/*/), only where
# node_modules is missing or older than the lockfile.
# better-sqlite3 (examples/settlement) is a native addon: it is compiled from source
# (build_from_source: its install step does not try to download a prebuilt binary),
# and node-gyp is pointed at the headers Debian's nodejs installs in /usr/include/node
# instead of downloading them (python3, make and g++ come with the packages above).
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/common.gypi ] && [ "$(command -v node)" = /usr/bin/node ]; then
  export npm_config_nodedir=/usr
fi
export npm_config_build_from_source=true
cd "$(dirname "$0")/.."
for lock in clients/*/package-lock.json examples/*/package-lock.json tests/*/package-lock.json; do
  [ -f "$lock" ] || continue
  dir=$(dirname "$lock")
  if [ ! -d "$dir/node_modules" ] || [ "$lock" -nt "$dir/node_modules" ]; then
    echo "deps: npm ci in $dir" >&2
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
    touch "$dir/node_modules"
  fi
done
