// check.mjs: what a user generating a client from docs/openapi.json (a Java user
// with openapi-generator, say) relies on. The document must validate as OpenAPI 3.0
// (swagger-parser checks it against the specification's JSON Schema and resolves
// every $ref), every operation must have a unique operationId (the method names
// of a generated client), and every schema a body or an answer uses must be named
// in components/schemas, as must every object nested in a named schema, so that
// a generator makes classes with our names rather than InlineResponse400 and the
// like. Prints each problem and exits 1 when there is one.
import SwaggerParser from "@apidevtools/swagger-parser";
import { readFileSync } from "node:fs";

const path = process.argv[2];
const doc = JSON.parse(readFileSync(path, "utf8"));
const problems = [];

try {
  // validate() dereferences in place: give it a copy.
  await SwaggerParser.validate(structuredClone(doc));
} catch (err) {
  problems.push(`not a valid OpenAPI document: ${err.message}`);
}
if (!/^3\.0\.\d+$/.test(doc.openapi ?? "")) {
  problems.push(`openapi is "${doc.openapi}", expected 3.0.x`);
}

const methods = ["get", "put", "post", "delete", "patch"];
const ids = new Map();
let operations = 0;
const named = (schema) => typeof schema?.$ref === "string" &&
  schema.$ref.startsWith("#/components/schemas/");

for (const [p, item] of Object.entries(doc.paths ?? {})) {
  for (const m of methods) {
    const op = item[m];
    if (!op) continue;
    operations++;
    const where = `${m.toUpperCase()} ${p}`;
    if (!op.operationId) problems.push(`${where}: no operationId`);
    else if (ids.has(op.operationId)) {
      problems.push(`${where}: operationId ${op.operationId} also on ${ids.get(op.operationId)}`);
    } else ids.set(op.operationId, where);
    for (const [ct, c] of Object.entries(op.requestBody?.content ?? {})) {
      if (!named(c.schema)) problems.push(`${where}: request ${ct} schema is not named`);
    }
    for (const [code, r] of Object.entries(op.responses ?? {})) {
      if (r.$ref) continue;
      for (const [ct, c] of Object.entries(r.content ?? {})) {
        if (!named(c.schema)) problems.push(`${where}: answer ${code} ${ct} schema is not named`);
      }
    }
  }
}
for (const [name, r] of Object.entries(doc.components?.responses ?? {})) {
  for (const [ct, c] of Object.entries(r.content ?? {})) {
    if (!named(c.schema)) problems.push(`components/responses/${name}: ${ct} schema is not named`);
  }
}

// Objects with properties nested in a named schema (other than the members of
// its own allOf, which extend it) must be $refs. A walk with an explicit stack:
// no recursion.
for (const [name, top] of Object.entries(doc.components?.schemas ?? {})) {
  const stack = [[top, name, true]];
  while (stack.length > 0) {
    const [s, at, own] = stack.pop();
    if (s === null || typeof s !== "object") continue;
    if (!own && !Array.isArray(s) && s.type === "object" && s.properties &&
        Object.keys(s.properties).length > 0) {
      problems.push(`components/schemas/${at}: an unnamed object schema`);
    }
    for (const [k, v] of Object.entries(s)) {
      const ownPart = own && (k === "allOf" || (Array.isArray(s) && own));
      stack.push([v, `${at}/${k}`, ownPart]);
    }
  }
}

if (operations === 0) problems.push("no operations");
for (const p of problems) console.error(`openapi: ${p}`);
console.log(`openapi: ${operations} operations, ${ids.size} operationIds, ` +
  `${Object.keys(doc.components?.schemas ?? {}).length} named schemas, ` +
  `${problems.length} problems`);
process.exit(problems.length === 0 ? 0 : 1);
