import { availableParallelism } from 'node:os';

/**
 * How ingest's Node process must be started (as NODE_OPTIONS): the local stack sets it, and so must
 * the Cloud Run service.
 *
 * `--max-semi-space-size=64`: each request parses, copies and re-serialises its events, all
 * short-lived; with V8's default 16 MB semi-spaces the scavenger runs every few requests and
 * promotes objects still in use by requests in flight. 64 MB semi-spaces cut ingest's CPU per
 * event by about a fifth (npm run bench -w @strata/ingest runs every endpoint with these options).
 * It costs at most 3 × 64 MB of address space, committed only as the young generation grows.
 */
export const INGEST_NODE_OPTIONS = '--max-semi-space-size=64';

/**
 * The same young generation for prepare-pool.ts's worker threads, which now do most of that
 * allocation: a worker takes no V8 flags (NODE_OPTIONS' semi-space size does not reach it), only
 * resourceLimits, where V8's young generation is three semi-spaces.
 */
export const WORKER_YOUNG_GENERATION_MB = 3 * 64;

/**
 * One worker per CPU, at most 4; none on one CPU, where the pool would only add a hop. As many
 * workers as CPUs, not one fewer: the request's thread spends about a third of its time waiting
 * (npm run bench -w @strata/ingest on 2 CPUs: 2 workers 64k events/s, 1 worker 55k, none 51k).
 * availableParallelism() honours the CPU affinity the platform gives.
 */
export function defaultWorkerThreads(cpus: number = availableParallelism()): number {
  return cpus < 2 ? 0 : Math.min(4, cpus);
}
