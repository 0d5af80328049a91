#!/usr/bin/env bash
# Installs every Debian 12 package that baton's build, tests and benchmarks need.
# Idempotent: packages already present are left alone, and apt-get update runs only
# when something is missing. Needs root (or sudo).
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config clang-format clang libclang-rt-14-dev
  libevent-dev libjansson-dev libsqlite3-dev sqlite3
  libcurl4-openssl-dev libssl-dev libcmocka-dev
  libpq-dev postgresql-15 postgresql-client-15
  tzdata libc-bin curl wrk procps
)

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
echo "deps: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
