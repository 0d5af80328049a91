// consumer.cjs: the packed baton-client loaded through require() (the CommonJS
// build) in an empty project: enqueue one job, process it with a Worker, and
// check the result. BATON_URL and BATON_KEY name the batond that
// run_tests.sh started. Exits non-zero on any failure.
"use strict";
const assert = require("node:assert/strict");
const { Client, Worker, BatonError, UnrecoverableError } = require("baton-client");

async function main() {
  const url = process.env.BATON_URL;
  const key = process.env.BATON_KEY;
  const client = new Client({ url, key });
  const job = await client.enqueue({ queue: "cjs", type: "sum", payload: { a: 2, b: 3 } });
  const worker = new Worker({ client, queue: "cjs", handler: async (j) => j.payload.a + j.payload.b });
  const running = worker.run();
  const done = await client.waitJob(job.id, { timeoutMs: 10000 });
  await worker.close();
  await running;
  assert.equal(done.state, "completed");
  assert.equal(done.result, 5);
  assert.ok(typeof BatonError === "function" && typeof UnrecoverableError === "function");
  await assert.rejects(client.getJob("987654321"), (e) => e instanceof BatonError && e.status === 404);
  client.close();
  console.log("cjs ok", job.id, done.result);
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
