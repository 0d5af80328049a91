#!/usr/bin/env bash
# Tests of the Python client (CTest client_python): byte-compile every file, a cheap
# PEP 8 check (no line over 99 characters, no tab), then python3 -m unittest against
# a real batond that each test module starts itself ($BATOND). Standard library only.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export BATON_SRC="${BATON_SRC:-$(cd "$here/../.." && pwd)}"
: "${BATOND:?set BATOND to the batond binary to test}"
py=/usr/bin/python3
[ -x "$py" ] || py=python3
cd "$here"
files=$(find baton tests bench_worker.py -name '*.py' | sort)
# Byte-compile into a temporary prefix so the source tree gets no __pycache__.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
PYTHONPYCACHEPREFIX="$tmp" "$py" -m py_compile $files
bad=0
for f in $files run_tests.sh pyproject.toml; do
  if grep -n "$(printf '\t')" "$f" >&2; then echo "$f: tab character" >&2; bad=1; fi
  awk -v f="$f" 'length($0) > 99 { printf "%s:%d: line over 99 characters\n", f, NR; b=1 }
                 END { exit b }' "$f" >&2 || bad=1
done
[ "$bad" = 0 ] || { echo "style check failed" >&2; exit 1; }
PYTHONPYCACHEPREFIX="$tmp" PYTHONPATH="$here" "$py" -W error::DeprecationWarning \
  -m unittest discover -s tests -t . -v
