/*
 * index.ts: the public surface of baton-client (ESM and CommonJS builds share it).
 */
export { Client } from "./client.js";
export type { ClientOptions, CallOptions, EnqueueOptions, EnqueueBatchOptions } from "./client.js";
export { Worker, VERSION } from "./worker.js";
export type { WorkerOptions, WorkerEvents, JobContext, Handler } from "./worker.js";
export {
  BatonError,
  WaitTimeoutError,
  UnrecoverableError,
  RetryError,
  LeaseLostError,
  CancelledError,
} from "./errors.js";
export type { BatonErrorInit } from "./errors.js";
export { TERMINAL_STATES } from "./types.js";
export type * from "./types.js";
export { toWire, fromWire } from "./wire.js";
