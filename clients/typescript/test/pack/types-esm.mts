// types-esm.mts: type-checks the packed package's ESM .d.ts from a consumer (tsc --strict, node16 resolution).
import { Client, Worker, BatonError, UnrecoverableError, type Job } from "baton-client";
const client: Client = new Client({ url: "http://127.0.0.1:7700", key: "bk_x" });
const w = new Worker<{ user: number }, { sent: boolean }>({ client, queue: "emails", concurrency: 2, handler: async (job, ctx) => {
  await ctx.progress(50, "rendered");
  if (job.payload.user < 0) throw new UnrecoverableError("bad user");
  return { sent: true };
} });
w.on("completed", (job: Job<{ user: number }>, result: { sent: boolean }) => void [job.id, result.sent]);
export async function f(): Promise<string> {
  try {
    return (await client.enqueue({ queue: "q", type: "t", idempotencyKey: "k" })).id;
  } catch (e) {
    if (e instanceof BatonError) return `${e.status} ${e.code} ${e.field ?? ""} ${e.retryAfterMs ?? ""}`;
    throw e;
  }
}
