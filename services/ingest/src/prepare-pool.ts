import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { workerPath } from '@strata/runtime';
import { Piscina } from 'piscina';
import type { Preparer } from './accept-events.js';
import type { BatchInput, BatchOutcome, PreparerSettings } from './prepare-batch.js';

/**
 * Worker threads for the CPU of /v1/events (prepare-batch.ts: parse, validate, PII, encode), so
 * an instance with two or more CPUs uses them: on one thread, ingest is bound by one core while
 * the others idle. The request's thread keeps HTTP, keys, the rate limiter and the Pub/Sub client.
 * Piscina (the Node.js project's pool) queues tasks and replaces a worker that dies.
 *
 * Each worker builds its own registry source from the same settings (bundled schemas plus the
 * versions published to PostgreSQL, read again after the TTL), its own PII hasher and its own
 * ULID factory; the inputs and outcomes are plain data.
 */
export interface PrepareWorkerSettings extends PreparerSettings {
  schemaRegistryDatabaseUrl: string | undefined;
  schemaRegistryTtlMs: number;
  logLevel: string;
}

export interface PreparePool {
  prepare: Preparer;
  /** After the server stopped taking requests: ends the workers (and their registry pools). */
  close(): Promise<void>;
}

/**
 * One worker per CPU beyond the request's thread, at most 4: with one CPU the pool would only
 * add a hop, so there is none. availableParallelism() honours the CPU affinity the platform gives.
 */
export function defaultWorkerThreads(cpus: number = availableParallelism()): number {
  return Math.min(4, Math.max(0, cpus - 1));
}

// A worker overlaps one task's gzip (libuv's threadpool) with the next task's parse.
const TASKS_PER_WORKER = 2;

export function createPreparePool(threads: number, settings: PrepareWorkerSettings): PreparePool {
  const filename = workerPath(import.meta.url, './prepare-worker.ts', 'prepare-worker.mjs');
  // In the repo the worker is TypeScript: a process started through tsx passes its loader to
  // workers in execArgv; one that was not (a test runner) gets it here.
  const needsLoader = filename.endsWith('.ts') && !process.execArgv.some((arg) => arg.includes('tsx'));
  const pool = new Piscina<BatchInput, BatchOutcome>({
    filename: pathToFileURL(filename).href,
    minThreads: threads,
    maxThreads: threads,
    concurrentTasksPerWorker: TASKS_PER_WORKER,
    idleTimeout: Number.POSITIVE_INFINITY,
    workerData: settings,
    execArgv: needsLoader ? [...process.execArgv, '--import', 'tsx'] : process.execArgv,
  });
  return {
    prepare: (input) => pool.run(input),
    close: () => pool.destroy(),
  };
}
