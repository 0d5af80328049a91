#!/usr/bin/env bash
# Checks docs/openapi.json for client generators (check.mjs), with the validator
# that scripts/deps.sh installs here by `npm ci` from package-lock.json. Then
# shows the check can fail: a copy with an inline answer schema, a missing
# operationId and a broken $ref must be refused.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=${BATON_SRC:-$(cd "$here/../.." && pwd)}
cd "$here"
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
node check.mjs "$src/docs/openapi.json"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/baton-openapi-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
node -e '
const fs = require("fs");
const d = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
const op = d.paths["/v1/jobs/{id}"].get;
delete op.operationId;
op.responses["404"].content["application/json"].schema = { type: "object", properties: { a: { type: "string" } } };
d.paths["/v1/queues"].get.responses["200"].content["application/json"].schema = { $ref: "#/components/schemas/NoSuch" };
fs.writeFileSync(process.argv[2], JSON.stringify(d));
' "$src/docs/openapi.json" "$tmp/bad.json"
if node check.mjs "$tmp/bad.json" 2>"$tmp/err"; then
	echo "check.mjs accepted a broken document" >&2
	exit 1
fi
for want in "no operationId" "answer 404 application/json schema is not named" "not a valid OpenAPI document"; do
	if ! grep -q "$want" "$tmp/err"; then
		echo "check.mjs did not report: $want" >&2
		cat "$tmp/err" >&2
		exit 1
	fi
done
echo "openapi: the broken copy was refused for each of its 3 faults"
