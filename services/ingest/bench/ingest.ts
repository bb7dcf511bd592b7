/**
 * `npm run bench` (ingest): POST /v1/events throughput and latency, Strata against two baselines
 * measured in the same run, on the same machine (issue 8, item 11):
 *   bare express — `express.json` + 202: the body-parse floor any express endpoint pays (bare.ts);
 *   INSERT       — the design users leave: one INSERT per event into PostgreSQL, awaited (insert.ts);
 *   multi-row    — the same endpoint with one multi-row INSERT per request, for context only.
 * Strata is the real service (src/main.ts, env only), publishing to the in-memory Pub/Sub emulator.
 *
 * Every measurement has the same shape: one server process (`node --import tsx`), one load process
 * (load.ts: CONNECTIONS keep-alive loopback connections, 100-event user_action bodies, WARMUP_S
 * unrecorded then MEASURE_S recorded), and, where the endpoint needs them, the emulator (in this
 * process, which is otherwise idle) or a throwaway PostgreSQL cluster (its own processes). With 2
 * cores they all compete; the CPU table says who used what, and ratios of runs in one invocation
 * survive a noisy shared machine better than absolute figures.
 *
 * Knobs: BENCH_MEASURE_SECONDS (10), BENCH_WARMUP_SECONDS (2), BENCH_CONNECTIONS (16),
 * BENCH_ENDPOINTS (all: bare,strata,inline,insert,multi; `inline` is Strata with INGEST_WORKER_THREADS=0),
 * BENCH_INGEST_WORKER_THREADS (the `strata` row's INGEST_WORKER_THREADS; the service default when unset), BENCH_CPU_PROF_DIR (write a V8 CPU profile of the
 * Strata ingest process there), BENCH_STRATA_NODE_ARGS (extra node flags for that process, space-separated,
 * for experiments such as `--import ./a-loader-hook.mjs`). Exits non-zero when a server does not start or a run has errors.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { PubSub } from '@google-cloud/pubsub';
import { freePort } from '@strata/dev/free-port';
import { LOCAL } from '@strata/dev/local-config';
import { testDatabase, type TestDatabase } from '@strata/dev/postgres';
import { startPubsubEmulator, type PubsubEmulator } from '@strata/dev/pubsub-emulator';
import pg from 'pg';
import { INGEST_NODE_OPTIONS } from '../src/node-options.js';
import { defaultWorkerThreads } from '../src/prepare-pool.js';
import type { LoadResult } from './load.js';

// A benchmark's knobs are its environment.
// eslint-disable-next-line no-restricted-properties
const env = process.env;
// This process talks to the emulator too; stop the auth library probing for a GCE metadata server.
env.METADATA_SERVER_DETECTION ??= 'none';

const positive = (name: string, fallback: number): number => {
  const raw = env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
};
const MEASURE_S = positive('BENCH_MEASURE_SECONDS', 10);
const WARMUP_S = positive('BENCH_WARMUP_SECONDS', 2);
const CONNECTIONS = positive('BENCH_CONNECTIONS', 16);
const EVENTS_PER_REQUEST = 100;
const POOL_SIZE = 10;
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const CPU_PROF_DIR = env.BENCH_CPU_PROF_DIR;
const STRATA_NODE_ARGS = (env.BENCH_STRATA_NODE_ARGS ?? '').split(' ').filter(Boolean);
/** INGEST_WORKER_THREADS for the `strata` row; the service's default (one per CPU) when unset. */
const STRATA_THREADS = env.BENCH_INGEST_WORKER_THREADS;
// Every process runs with the options ingest is deployed with, baselines included: the ratios
// then measure the work each endpoint does, not a V8 tuning only one of them got.
const SERVER_NODE_OPTIONS = INGEST_NODE_OPTIONS.split(' ');

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const benchDir = fileURLToPath(new URL('./', import.meta.url));
// Preloaded into every child: it exits when this process's end of its stdin pipe closes, however
// this process dies (SIGKILL included), so no server outlives the benchmark.
const exitWithParent = new URL('../../../dev/src/exit-with-parent.ts', import.meta.url).href;

type EndpointName = 'strata' | 'inline' | 'bare' | 'insert' | 'multi';
const ALL: EndpointName[] = ['bare', 'strata', 'inline', 'insert', 'multi'];
const chosen = (env.BENCH_ENDPOINTS ?? ALL.join(',')).split(',').map((s) => s.trim()) as EndpointName[];
for (const name of chosen) if (!ALL.includes(name)) throw new Error(`BENCH_ENDPOINTS: unknown endpoint "${name}" (known: ${ALL.join(', ')})`);
const LABELS: Record<EndpointName, string> = {
  strata: `Strata ingest → Pub/Sub emulator (${STRATA_THREADS ?? defaultWorkerThreads()} worker threads)`,
  inline: 'Strata ingest, no worker threads (context)',
  bare: 'bare express (parse + 202)',
  insert: 'INSERT per event (pg Pool 10)',
  multi: 'multi-row INSERT per request (context)',
};

// --- processes ---------------------------------------------------------------------------

interface Child {
  process: ChildProcess;
  /** The last lines it wrote to stderr, for the failure message. */
  tail: string[];
  exited: Promise<number | string>;
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function startNode(script: string, args: string[], childEnv: Record<string, string>, onLine?: (line: string) => void): Child {
  const child = spawn(process.execPath, [...SERVER_NODE_OPTIONS, '--import', 'tsx', '--import', exitWithParent, ...args, script], {
    cwd: repoRoot,
    env: { PATH: env.PATH ?? '', HOME: env.HOME ?? '', METADATA_SERVER_DETECTION: 'none', ...childEnv },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.add(child);
  const tail: string[] = [];
  const keep = (line: string) => {
    tail.push(line);
    if (tail.length > 20) tail.shift();
  };
  createInterface({ input: child.stdout! }).on('line', (line) => (onLine ? onLine(line) : keep(line)));
  createInterface({ input: child.stderr! }).on('line', keep);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve(signal ?? code ?? 0);
    });
  });
  return { process: child, tail, exited };
}

async function waitUntilServing(server: Child, port: number, name: string): Promise<void> {
  const until = Date.now() + READY_TIMEOUT_MS;
  let gone: number | string | undefined;
  void server.exited.then((code) => (gone = code));
  for (;;) {
    if (gone !== undefined) throw new Error(`${name} exited (${gone}) before serving:\n${server.tail.join('\n')}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > until) throw new Error(`${name} did not serve /healthz within ${READY_TIMEOUT_MS / 1000}s:\n${server.tail.join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** SIGTERM (so ingest drains and a CPU profile is written), then SIGKILL if it takes too long. */
async function stopChild(child: Child): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  child.process.kill('SIGTERM');
  const timer = setTimeout(() => child.process.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await child.exited;
  clearTimeout(timer);
}

// --- CPU accounting (Linux /proc; figures are n/a elsewhere) -------------------------------

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** utime + stime of a process, in seconds; undefined once it is gone or off Linux. */
function processCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** Busy and total CPU seconds of the whole machine (all processes, ours and anyone else's). */
function machineCpuSeconds(): { busy: number; total: number } | undefined {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = cpu[3]! + cpu[4]!;
    return { busy: (total - idle) / TICKS_PER_SECOND, total: total / TICKS_PER_SECOND };
  } catch {
    return undefined;
  }
}

interface CpuSample {
  server: number | undefined;
  load: number | undefined;
  host: number;
  machine: { busy: number; total: number } | undefined;
}
const sampleCpu = (serverPid: number | undefined, loadPid: number | undefined): CpuSample => {
  const own = process.cpuUsage();
  return { server: processCpuSeconds(serverPid), load: processCpuSeconds(loadPid), host: (own.user + own.system) / 1e6, machine: machineCpuSeconds() };
};
/** Cores' worth of CPU (1.0 = one core busy) over the window. */
interface CpuUse {
  server: number | undefined;
  load: number | undefined;
  /** This process: the Pub/Sub emulator during the Strata run (idle otherwise). */
  host: number;
  /** Every process on the machine, so other work on a shared box shows. */
  machine: number | undefined;
}
const diff = (a: number | undefined, b: number | undefined, seconds: number) => (a === undefined || b === undefined ? undefined : (b - a) / seconds);

// --- one measurement -----------------------------------------------------------------------

interface Measurement {
  name: EndpointName;
  load: LoadResult;
  cpu: CpuUse;
}

function runLoad(url: string, serverPid: number | undefined): Promise<{ load: LoadResult; cpu: CpuUse }> {
  let start: CpuSample | undefined;
  let result: LoadResult | undefined;
  let startedAt = 0;
  let cpu: CpuUse | undefined;
  const load = startNode(
    `${benchDir}load.ts`,
    [],
    {
      BENCH_LOAD_URL: url,
      BENCH_LOAD_API_KEY: LOCAL.apiKey,
      BENCH_LOAD_CONNECTIONS: String(CONNECTIONS),
      BENCH_LOAD_EVENTS_PER_REQUEST: String(EVENTS_PER_REQUEST),
      BENCH_LOAD_WARMUP_MS: String(WARMUP_S * 1000),
      BENCH_LOAD_MEASURE_MS: String(MEASURE_S * 1000),
    },
    (line) => {
      if (line === 'measuring') {
        startedAt = performance.now();
        start = sampleCpu(serverPid, load.process.pid);
        return;
      }
      if (line.startsWith('{')) {
        // Sampled here, before the load process exits and its /proc entry goes.
        const seconds = (performance.now() - startedAt) / 1000;
        const end = sampleCpu(serverPid, load.process.pid);
        if (start) {
          const cores = machineCores() ?? 1;
          const machine = start.machine && end.machine ? ((end.machine.busy - start.machine.busy) / (end.machine.total - start.machine.total)) * cores : undefined;
          cpu = { server: diff(start.server, end.server, seconds), load: diff(start.load, end.load, seconds), host: (end.host - start.host) / seconds, machine };
        }
        result = JSON.parse(line) as LoadResult;
      }
    },
  );
  return load.exited.then((code) => {
    if (code !== 0 || !result) throw new Error(`the load process exited ${code}:\n${load.tail.join('\n')}`);
    return { load: result, cpu: cpu ?? { server: undefined, load: undefined, host: Number.NaN, machine: undefined } };
  });
}

interface Backends {
  emulator: PubsubEmulator;
  database: TestDatabase;
}

function serverFor(name: EndpointName, port: number, backends: Backends): { script: string; args: string[]; env: Record<string, string> } {
  if (name === 'strata' || name === 'inline') {
    const threads = name === 'inline' ? '0' : STRATA_THREADS;
    return {
      script: 'services/ingest/src/main.ts',
      // The profile is written when the process exits after SIGTERM (ingest drains, then exits 0).
      args: [...STRATA_NODE_ARGS, ...(CPU_PROF_DIR ? ['--cpu-prof', '--cpu-prof-dir', CPU_PROF_DIR] : [])],
      env: {
        PORT: String(port),
        GOOGLE_CLOUD_PROJECT: LOCAL.projectId,
        PUBSUB_EMULATOR_HOST: backends.emulator.address,
        PUBSUB_TOPIC: LOCAL.topic,
        INGEST_KEYS: LOCAL.ingestKeys,
        PII_HASH_SECRET: LOCAL.piiHashSecret,
        LOG_LEVEL: 'warn',
        ...(threads === undefined ? {} : { INGEST_WORKER_THREADS: threads }),
      },
    };
  }
  if (name === 'bare') return { script: `${benchDir}bare.ts`, args: [], env: { PORT: String(port) } };
  return {
    script: `${benchDir}insert.ts`,
    args: [],
    env: {
      PORT: String(port),
      DATABASE_URL: backends.database.url,
      POOL_MAX: String(Math.min(POOL_SIZE, backends.database.poolMax)),
      INSERT_MODE: name === 'multi' ? 'multi' : 'row',
    },
  };
}

async function measure(name: EndpointName, backends: Backends): Promise<Measurement> {
  const port = await freePort();
  const spec = serverFor(name, port, backends);
  console.log(`${LABELS[name]}: ${WARMUP_S}s warm-up, ${MEASURE_S}s measured, ${CONNECTIONS} connections × ${EVENTS_PER_REQUEST} events…`);
  const server = startNode(spec.script, spec.args, spec.env);
  try {
    await waitUntilServing(server, port, name);
    const { load, cpu } = await runLoad(`http://127.0.0.1:${port}`, server.process.pid);
    return { name, load, cpu };
  } finally {
    await stopChild(server);
  }
}

// --- the run -------------------------------------------------------------------------------

async function startBackends(): Promise<Backends> {
  const emulator = await startPubsubEmulator();
  let database: TestDatabase | undefined;
  try {
    // No subscription: a topic without one acks publishes as the service does, and the emulator
    // then keeps nothing, so its memory and CPU stay those of taking publishes (what the cloud
    // does for ingest); delivery to the writer is dev/bench/pipeline.ts's subject.
    const pubsub = new PubSub({ projectId: LOCAL.projectId, apiEndpoint: emulator.address });
    try {
      await pubsub.topic(LOCAL.topic).get({ autoCreate: true });
    } finally {
      await pubsub.close();
    }
    database = await testDatabase();
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      // What teams start with: the event's id as the key, a few columns, the rest as jsonb.
      await client.query('drop table if exists events');
      await client.query('create table events (event_id text primary key, log_type text not null, ts timestamptz not null, payload jsonb not null)');
    } finally {
      await client.end();
    }
    return { emulator, database };
  } catch (err) {
    await Promise.allSettled([emulator.stop(), database?.stop()]);
    throw err;
  }
}

async function stopBackends(backends: Backends): Promise<void> {
  if (backends.database.kind === 'env') {
    const client = new pg.Client({ connectionString: backends.database.url });
    await client.connect();
    await client.query('drop table if exists events').finally(() => client.end());
  }
  await Promise.allSettled([backends.emulator.stop(), backends.database.stop()]);
}

const fmt = (n: number | undefined, digits = 0) =>
  n === undefined || !Number.isFinite(n) ? 'n/a' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const eventsPerSecond = (m: Measurement) => m.load.accepted / (m.load.elapsedMs / 1000);

function report(results: Measurement[], backends: Backends): void {
  const strata = results.find((m) => m.name === 'strata');
  const ratio = (m: Measurement) => (strata && m.name !== 'strata' ? `${fmt(eventsPerSecond(strata) / eventsPerSecond(m), 2)}×` : '—');
  const sample = results[0]?.load;
  const dbKind = { env: 'DATABASE_URL', throwaway: 'a throwaway PostgreSQL cluster (fsync=off, full_page_writes=off)', pglite: 'PGlite (one session)' }[backends.database.kind];
  console.log(`
Ingest, ${CONNECTIONS} keep-alive loopback connections × ${EVENTS_PER_REQUEST} user_action events per request (~${fmt(sample?.eventBytes)} B/event, ~${fmt((sample?.bodyBytes ?? 0) / 1024, 1)} KiB/body), ${WARMUP_S}s warm-up, ${MEASURE_S}s measured

| endpoint | events/s | p50 ms | p99 ms | errors | ratio (Strata ÷ this) |
| --- | ---: | ---: | ---: | ---: | ---: |
${results.map((m) => `| ${LABELS[m.name]} | ${fmt(eventsPerSecond(m))} | ${fmt(m.load.p50Ms, 1)} | ${fmt(m.load.p99Ms, 1)} | ${fmt(m.load.errors)} | ${ratio(m)} |`).join('\n')}

CPU during the measured window, in cores (the machine has ${fmt(machineCores())}):

| endpoint | server process | events per server CPU-second | load process | emulator (bench process) | whole machine |
| --- | ---: | ---: | ---: | ---: | ---: |
${results.map((m) => `| ${m.name} | ${fmt(m.cpu.server, 2)} | ${fmt(m.cpu.server ? eventsPerSecond(m) / m.cpu.server : undefined)} | ${fmt(m.cpu.load, 2)} | ${m.name === 'strata' || m.name === 'inline' ? fmt(m.cpu.host, 2) : '—'} | ${fmt(m.cpu.machine, 2)} |`).join('\n')}

Strata: the real service (src/main.ts), keys, validation, PII handling, one Pub/Sub message per batch, 202
only after the emulator acked the publish; the emulator runs in the bench process on the same cores. Parse,
validation, PII and encoding run on its worker threads (INGEST_WORKER_THREADS; "inline" runs them on the request
thread). The bare and INSERT endpoints are single-threaded express apps, as such endpoints are written.
INSERT: ${dbKind}; no validation. One autocommit INSERT per event is what the
issue's "design users leave" does; a multi-row INSERT per request is faster and shown for context only: it is
not what such endpoints typically do, and the goal is not set against it.
Events per server CPU-second is the figure least moved by other work on a shared machine; for the INSERT rows
it leaves out PostgreSQL's own CPU (separate processes), which "whole machine" includes, with anything else running.`);
  for (const m of results) if (m.load.firstError) console.log(`first error (${m.name}): ${m.load.firstError}`);

  if (!strata) return;
  const goals: string[] = [];
  const goal = (name: EndpointName, target: number) => {
    const other = results.find((m) => m.name === name);
    if (!other) return;
    const r = eventsPerSecond(strata) / eventsPerSecond(other);
    goals.push(`≥ ${target}× ${name === 'bare' ? 'bare express' : 'INSERT per event'}: ${fmt(r, 2)}× — ${r >= target ? `met (${fmt((r / target - 1) * 100)}% above)` : `NOT met (${fmt((1 - r / target) * 100)}% short)`}`);
  };
  goal('bare', 0.5);
  goal('insert', 10);
  console.log(`\nGoals: ${goals.join('; ')}.`);
}

function machineCores(): number | undefined {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => l.startsWith('processor')).length || undefined;
  } catch {
    return undefined;
  }
}

const names = ALL.filter((n) => chosen.includes(n));
let backends: Backends | undefined;
let failed = false;
const results: Measurement[] = [];
try {
  backends = await startBackends();
  for (const name of names) results.push(await measure(name, backends));
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  failed = true;
} finally {
  if (backends) await stopBackends(backends);
}
if (results.length > 0 && backends) report(results, backends);
const errors = results.reduce((sum, m) => sum + m.load.errors, 0);
if (failed || errors > 0) process.exitCode = 1;
