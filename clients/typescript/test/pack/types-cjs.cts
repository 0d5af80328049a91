// types-cjs.cts: type-checks the packed package's CommonJS .d.ts from a consumer.
import baton = require("baton-client");
const client = new baton.Client({ url: "http://127.0.0.1:7700" });
export const p: Promise<baton.EnqueuedJob> = client.enqueue({ queue: "q", type: "t" }, { coalesce: false });
