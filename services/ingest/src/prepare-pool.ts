import { pathToFileURL } from 'node:url';
import { workerPath, type Logger } from '@strata/runtime';
import { Piscina } from 'piscina';
import type { Preparer } from './accept-events.js';
import { WORKER_YOUNG_GENERATION_MB } from './node-options.js';

export { defaultWorkerThreads } from './node-options.js';
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
  /**
   * A preparer that runs on the workers: `inline` (the request's thread) once no worker is left
   * (every one failed while starting), and a 503 `busy` refusal when the body bytes handed to the
   * workers and not yet prepared, plus this body's, would exceed `maxQueuedBytes`.
   */
  preparer(inline: Preparer): Preparer;
  /**
   * Settles once every worker has prepared a first (empty) request: rejects, naming the cause,
   * when a worker cannot start. Await it before serving, so a broken deployment fails at start-up
   * instead of answering every request 500.
   */
  ready: Promise<void>;
  /** After the server stopped taking requests: ends the workers (and their registry pools). */
  close(): Promise<void>;
}


/**
 * Tasks a worker holds at once. A task is synchronous, so more than one does not interleave them:
 * it queues the next body in the worker, which otherwise idles for a round trip through the
 * request's thread between tasks (with 1, one worker reached 34k events/s; with 4, 54k).
 */
const TASKS_PER_WORKER = 4;

/**
 * A body's bytes move to the worker instead of being copied (structured clone was the request
 * thread's biggest cost after HTTP itself) when they own their ArrayBuffer, as read bodies over
 * 4 KiB do; a small body sliced from Node's pool is copied.
 */
function transferable(input: BatchInput): ArrayBuffer[] {
  if (!('bytes' in input.body)) return [];
  const { bytes } = input.body;
  const owned = bytes.buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  return owned ? [bytes.buffer as ArrayBuffer] : [];
}

/**
 * How long the start-up check waits for the workers. Requests carry no such signal: the one bench
 * run with a per-request AbortSignal was the slowest of the session (on a noisy machine, so not a
 * clean measurement), and a request's worker either answers, fails its tasks (500) or, gone for
 * good, leaves the inline preparer.
 */
const TASK_TIMEOUT_MS = 10_000;

export interface PreparePoolOptions {
  /** Worker failures (a worker that died with nothing in flight) are logged here. */
  logger: Logger;
  /**
   * Body bytes handed to the workers and not yet prepared, past which new bodies are refused (503,
   * Retry-After) instead of queued. The request's thread reads bodies faster than the workers
   * prepare them, so without a bound a burst would queue bodies until the instance ran out of memory.
   * One body is always taken when nothing waits, however large.
   */
  maxQueuedBytes: number;
}

/** Seconds a producer should wait after a `busy` refusal: the shortest Retry-After; a producer backs off further on repeats. */
export const BUSY_RETRY_AFTER_SECONDS = '1';

/** The bytes a task holds until it settles: its body's, or nothing much for events mapped on the request's thread. */
const bodyBytes = (input: BatchInput): number => ('bytes' in input.body ? input.body.bytes.byteLength : 0);

export function createPreparePool(threads: number, settings: PrepareWorkerSettings, options: PreparePoolOptions): PreparePool {
  const filename = workerPath(import.meta.url, './prepare-worker.ts', 'prepare-worker.mjs');
  // Workers get their own execArgv, not the process's: V8 flags are refused in a worker, and a
  // preload of the process (the local stack's exit-with-parent.ts) has no business there. In the
  // repo the worker is TypeScript, so it gets tsx's loader, which the process may or may not have.
  const execArgv = filename.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const pool = new Piscina<BatchInput, BatchOutcome>({
    filename: pathToFileURL(filename).href,
    minThreads: threads,
    concurrentTasksPerWorker: TASKS_PER_WORKER,
    maxThreads: threads,
    idleTimeout: Number.POSITIVE_INFINITY,
    workerData: settings,
    execArgv,
    resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
  });
  // A worker failing with no task in flight is an 'error' event: without a listener it would crash
  // the service. One that fails while starting is not replaced, and the tasks queued for it would
  // wait forever: once no worker is left, requests are prepared on their own thread instead.
  let gone: unknown;
  pool.on('error', (err: unknown) => {
    options.logger.error({ err, workers: pool.threads.length }, 'prepare worker failed');
    if (pool.threads.length === 0) gone ??= err;
  });
  const probe: BatchInput = { key: { name: 'start-up-probe', rate: { points: 1, durationSeconds: 1 } }, atomic: false, body: { events: [] } };
  const ready = new Promise<void>((resolve, reject) => {
    const fail = (err: unknown) => {
      // piscina does not start a worker again that failed while starting.
      gone ??= err;
      reject(new Error(`ingest's prepare workers (${filename}) could not start: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
    };
    pool.once('error', fail);
    Promise.all(Array.from({ length: threads }, () => pool.run(probe, { signal: AbortSignal.timeout(TASK_TIMEOUT_MS) }))).then(() => {
      pool.off('error', fail);
      resolve();
    }, fail);
  });
  // Awaited by the entry points; a rejection is theirs to report, not an unhandled one.
  ready.catch(() => undefined);
  let queuedBytes = 0;
  const busy = (): BatchOutcome => ({
    kind: 'refused',
    status: 503,
    code: 'busy',
    reason: `ingest is still preparing ${queuedBytes} bytes of earlier requests (INGEST_MAX_QUEUED_BYTES ${options.maxQueuedBytes}); nothing was accepted, retry later`,
    retryAfterSeconds: BUSY_RETRY_AFTER_SECONDS,
  });
  return {
    ready,
    preparer: (inline) => async (input) => {
      if (gone !== undefined) return inline(input);
      // Read before the body's buffer is transferred (then it is empty on this thread).
      const size = bodyBytes(input);
      if (queuedBytes > 0 && queuedBytes + size > options.maxQueuedBytes) {
        // Load shed, not a fault: warn, so the platform's logs show how often it happens.
        options.logger.warn({ queuedBytes, bodyBytes: size, maxQueuedBytes: options.maxQueuedBytes }, 'prepare workers busy: request refused with 503');
        return busy();
      }
      queuedBytes += size;
      try {
        return await pool.run(input, { transferList: transferable(input) });
      } finally {
        queuedBytes -= size;
      }
    },
    close: () => pool.destroy(),
  };
}
