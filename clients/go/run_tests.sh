#!/usr/bin/env bash
# Builds and tests the Go client: gofmt, go vet, go test (against the batond
# in $BATOND, started by the tests themselves), then go test -race, and a
# build of cmd/batonbench. No network: GOPROXY=off, the module has no requires.
set -euo pipefail
cd "$(dirname "$0")"
: "${BATOND:?BATOND must be the absolute path of a batond binary}"
export BATOND
export GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local GO111MODULE=on
export GOCACHE="${GOCACHE:-${HOME:-/tmp}/.cache/baton-go-build}"
export GOPATH="${GOPATH:-${HOME:-/tmp}/.cache/baton-go-path}"
mkdir -p "$GOCACHE" "$GOPATH"

unformatted="$(gofmt -l .)"
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi
go vet ./...
go build ./...
go test -count=1 -timeout 180s ./...
# The race detector needs cgo; skip it (saying so) where cgo is unavailable.
if [ "$(go env CGO_ENABLED)" = "1" ]; then
  go test -count=1 -race -timeout 240s .
else
  echo "skipping go test -race: CGO_ENABLED=0" >&2
fi
echo "clients/go: all checks passed"
