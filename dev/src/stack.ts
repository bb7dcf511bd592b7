import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PubSub, type CreateSubscriptionOptions, type Topic } from '@google-cloud/pubsub';
import { Storage } from '@google-cloud/storage';
import { ackDeadlineSecondsFor, PUSH_DELIVERY } from '@strata/schemas';
import { INGEST_NODE_OPTIONS } from '@strata/ingest/node-options';
import { WRITER_NODE_OPTIONS } from '@strata/writer/node-options';
import { startGcsEmulator } from './gcs-emulator/index.js';
import { LOCAL, defaultDataDir, localIngestKeys, pubsubDir } from './local-config.js';
import { createOidcIssuer } from './oidc-issuer.js';
import { freePort } from './free-port.js';
import { PGLITE_POOL_MAX, startPgliteServer } from './postgres/index.js';
import { DEFAULT_MAX_CONCURRENT_PUSHES, startPubsubEmulator, type PubsubEmulator, type PubsubFaults, type SubscriptionStats } from './pubsub-emulator/index.js';
import { startServiceProcess, type ServiceName, type ServiceProcess } from './service-process.js';
import { createCounters, type Counters } from './counters.js';

/**
 * The whole pipeline on one machine: the Pub/Sub and GCS emulators, PostgreSQL (PGlite unless a
 * DATABASE_URL is given), the topic, push subscription and bucket `pulumi up` would create, and
 * the three services as separate processes configured only by environment, as on Cloud Run.
 * `npm start` and the end-to-end tests both use it.
 */
export interface StackOptions {
  dataDir?: string;
  /** Fixed ports for `npm start`; 0 or absent picks free ones (tests). */
  ports?: Partial<Record<'ingest' | 'writer' | 'curator' | 'pubsub' | 'gcs', number>>;
  /** A real PostgreSQL; PGlite under `<dataDir>/pglite` when absent. */
  databaseUrl?: string;
  flushMaxAgeMs?: number;
  flushMaxRows?: number;
  /** Ack deadline of the push subscription: how long a push may wait for its flush. */
  ackDeadlineSeconds?: number;
  /**
   * Most pushes in flight at once (the emulator's `maxConcurrentPushes`, 1000 when absent). Set 80
   * to model one Cloud Run writer instance at its default concurrency.
   */
  pushConcurrency?: number;
  /** More writer environment (e.g. FLUSH_QUIET_MS), applied over the defaults above. */
  writerEnv?: Record<string, string>;
  /** More curator environment (e.g. CURATOR_DUCKDB_MEMORY_LIMIT), applied over the defaults. */
  curatorEnv?: Record<string, string>;
  /**
   * Serve the schema versions published to the stack's database (`npm run schemas:publish`), as in
   * the cloud: ingest, the writer and the curator's replay read its schema_registry table and
   * serve a new version within this many ms. Off when absent (bundled schemas only). Needs a real
   * PostgreSQL (`databaseUrl`): PGlite serves one session, which the curator holds.
   */
  schemaRegistryTtlMs?: number;
  /** Origins added to the local-dev key's allowed origins (tests serving browser pages on free ports). */
  browserOrigins?: string[];
  logLevel?: string;
}

export interface DrainOptions {
  /** Give up after this long with whatever is still queued; 60 s when absent. */
  timeoutMs?: number;
  /** Called at least once a second with what the push subscription still holds. */
  onProgress?: (queued: number) => void;
  /** Aborting (a second Ctrl-C) ends the wait at once. */
  signal?: AbortSignal;
}

export interface DrainResult {
  outcome: 'drained' | 'timed out' | 'aborted';
  /** Messages the push subscription still held when the wait ended (0 when drained). */
  queued: number;
  /** Of those, pushed to the writer and not yet acked: it flushes them when it stops. */
  withWriter: number;
  ms: number;
}

export interface StopSummary {
  /**
   * Messages the push subscription still held when the emulator stopped. The emulator is durable
   * (its journal under `<dataDir>/pubsub`), so they are delivered when the stack starts again.
   */
  keptInPubsub: number;
  /** Messages held by the dead-letter hold subscription (also kept). */
  deadLettered: number;
}

export interface Stack {
  urls: Record<ServiceName, string> & { pubsub: string; gcs: string; database: string; certs: string };
  dataDir: string;
  counters: Counters;
  /** Environment a client process needs to reach the emulators (PUBSUB_EMULATOR_HOST, …). */
  clientEnv: Record<string, string>;
  service(name: ServiceName): ServiceProcess;
  /** Starts a service again after it exited (e.g. after a crash test killed it), optionally with changed env. */
  restart(name: ServiceName, env?: Record<string, string>): Promise<void>;
  /** One curation pass, authenticated the way Cloud Scheduler does it. */
  runCurator(): Promise<Record<string, unknown>>;
  /**
   * A token the service accepts: for the writer, Pub/Sub push's (push service account, audience
   * `<writer>/push`); for the curator, Cloud Scheduler's (audience `<curator>/run`).
   */
  tokenFor(service: 'writer' | 'curator'): Promise<string>;
  /** What the writer's push subscription holds: ready, delayed for a retry, pushed but not yet acked. */
  backlog(): SubscriptionStats;
  /**
   * Stops the Pub/Sub emulator (open calls are cut, pushes in flight are abandoned) and starts it
   * again on the same address from its journal: a Pub/Sub outage and recovery, for chaos tests.
   */
  restartPubsub(downMs?: number): Promise<void>;
  /** The faults the running Pub/Sub emulator injects (reset by a restart). */
  pubsubFaults(): PubsubFaults;
  /**
   * Stops ingest (it publishes what its client still batches, then exits) and waits, bounded, until
   * the push subscription holds nothing: the writer acks a push only once its rows are in GCS, so
   * an empty backlog means everything accepted is in the lake. Call `stop()` afterwards.
   */
  drain(options?: DrainOptions): Promise<DrainResult>;
  /** Ingest, writer (it flushes what it holds), curator, then the emulators. Idempotent. */
  stop(): Promise<StopSummary>;
}

export const DEFAULT_DRAIN_TIMEOUT_MS = 60_000;
const DRAIN_POLL_MS = 200;
// How long a service may take to stop after SIGTERM before it is killed. More than Cloud Run's
// 10 s: locally a writer flushing a full buffer shares two cores with everything else.
const STOP_GRACE_MS = 30_000;

const queuedOf = (stats: SubscriptionStats) => stats.ready + stats.delayed + stats.outstanding;

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const dataDir = options.dataDir ?? defaultDataDir;
  const logDir = join(dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const port = async (name: keyof NonNullable<StackOptions['ports']>) => options.ports?.[name] || (await freePort());
  const cleanups: Array<() => Promise<void>> = [];
  const counters = createCounters();

  try {
    const issuer = await createOidcIssuer();
    // Durable: what Pub/Sub holds when the stack stops (or is killed) is delivered at the next start.
    const startPubsub = (pubsubPort: number, certsPort = 0, pushPaused = false) =>
      startPubsubEmulator({
        port: pubsubPort,
        certsPort,
        pushPaused,
        issuer,
        dataDir: pubsubDir(dataDir),
        ...(options.pushConcurrency !== undefined && { maxConcurrentPushes: options.pushConcurrency }),
      });
    // Pushes wait until the writer listens at the endpoint the subscription is updated to below.
    let pubsubEmulator: PubsubEmulator = await startPubsub(await port('pubsub'), 0, true);
    const subscriptionName = (id: string) => `projects/${LOCAL.projectId}/subscriptions/${id}`;
    const emptyStats: SubscriptionStats = { ready: 0, delayed: 0, outstanding: 0 };
    const backlog = () => pubsubEmulator.backlog(subscriptionName(LOCAL.pushSubscription)) ?? emptyStats;
    const deadLetterBacklog = () => pubsubEmulator.backlog(subscriptionName(LOCAL.deadLetterSubscription)) ?? emptyStats;
    const summary: StopSummary = { keptInPubsub: 0, deadLettered: 0 };
    cleanups.push(async () => {
      summary.deadLettered = queuedOf(deadLetterBacklog());
      summary.keptInPubsub = queuedOf(backlog());
      await pubsubEmulator.stop();
    });
    const restartPubsub = async (downMs = 0) => {
      const { port: pubsubPort, certsUrl } = pubsubEmulator;
      await pubsubEmulator.stop();
      await sleep(downMs);
      // The same certs port: the writer verifies push tokens against that URL.
      pubsubEmulator = await startPubsub(pubsubPort, Number(new URL(certsUrl).port));
    };
    const gcs = await startGcsEmulator({ root: join(dataDir, 'gcs'), port: await port('gcs') });
    cleanups.push(() => gcs.stop());
    let databaseUrl = options.databaseUrl;
    let poolMax = '5';
    if (!databaseUrl) {
      poolMax = String(PGLITE_POOL_MAX);
      const pglite = await startPgliteServer({ dataDir: join(dataDir, 'pglite'), port: await freePort() });
      cleanups.push(() => pglite.stop());
      databaseUrl = pglite.url;
    }

    const ports = { ingest: await port('ingest'), writer: await port('writer'), curator: await port('curator') };
    const urls = {
      ingest: `http://127.0.0.1:${ports.ingest}`,
      writer: `http://127.0.0.1:${ports.writer}`,
      curator: `http://127.0.0.1:${ports.curator}`,
      pubsub: pubsubEmulator.address,
      gcs: gcs.url,
      database: databaseUrl,
      certs: pubsubEmulator.certsUrl,
    };
    const clientEnv = {
      PUBSUB_EMULATOR_HOST: pubsubEmulator.address,
      STORAGE_EMULATOR_HOST: gcs.url,
      GOOGLE_CLOUD_PROJECT: LOCAL.projectId,
      // Off Google Cloud there is no metadata server; without this the auth library probes for one and warns.
      METADATA_SERVER_DETECTION: 'none',
    };

    // The subscription and the writer take their delivery settings from one declaration, as infra does.
    const flushMaxAgeMs = options.flushMaxAgeMs ?? PUSH_DELIVERY.flushMaxAgeMs;
    const ackDeadlineSeconds = options.ackDeadlineSeconds ?? ackDeadlineSecondsFor(flushMaxAgeMs);
    await createCloudResources(clientEnv, urls.writer, ackDeadlineSeconds);

    if (options.schemaRegistryTtlMs !== undefined && !options.databaseUrl) throw new Error('schemaRegistryTtlMs needs a real PostgreSQL (databaseUrl): PGlite serves one session');
    const registry: Record<string, string> =
      options.schemaRegistryTtlMs === undefined ? {} : { SCHEMA_REGISTRY_DATABASE_URL: options.databaseUrl!, SCHEMA_REGISTRY_TTL_MS: String(options.schemaRegistryTtlMs) };
    // A fixed local secret: hashes stay stable across restarts of the local stack (never used in the cloud).
    const common = { ...clientEnv, ...registry, LOG_LEVEL: options.logLevel ?? 'info', OIDC_CERTS_URL: pubsubEmulator.certsUrl, PII_HASH_SECRET: LOCAL.piiHashSecret };
    const envs: Record<ServiceName, Record<string, string>> = {
      ingest: { ...common, PORT: String(ports.ingest), PUBSUB_TOPIC: LOCAL.topic, INGEST_KEYS: localIngestKeys(options.browserOrigins), NODE_OPTIONS: INGEST_NODE_OPTIONS },
      writer: {
        ...common,
        PORT: String(ports.writer),
        LAKE_BUCKET: LOCAL.bucket,
        PUSH_AUDIENCE: `${urls.writer}/push`,
        PUSH_SERVICE_ACCOUNT: LOCAL.pushServiceAccount,
        FLUSH_MAX_AGE_MS: String(flushMaxAgeMs),
        PUSH_ACK_DEADLINE_SECONDS: String(ackDeadlineSeconds),
        NODE_OPTIONS: WRITER_NODE_OPTIONS,
        // The most pushes the emulator sends at once, as Cloud Run's concurrency caps them in the cloud.
        PUSH_CONCURRENCY: String(options.pushConcurrency ?? DEFAULT_MAX_CONCURRENT_PUSHES),
        ...(options.flushMaxRows !== undefined && { FLUSH_MAX_ROWS: String(options.flushMaxRows) }),
        ...options.writerEnv,
      },
      curator: {
        ...common,
        PORT: String(ports.curator),
        LAKE_BUCKET: LOCAL.bucket,
        DATABASE_URL: databaseUrl,
        DATABASE_POOL_MAX: poolMax,
        SCHEDULER_AUDIENCE: `${urls.curator}/run`,
        SCHEDULER_SERVICE_ACCOUNT: LOCAL.schedulerServiceAccount,
        CURATOR_WORK_DIR: join(dataDir, 'curator-work'),
        // Replay publishes where ingest does.
        PUBSUB_TOPIC: LOCAL.topic,
        ...options.curatorEnv,
      },
    };

    const processes = new Map<ServiceName, ServiceProcess>();
    const launch = async (name: ServiceName) => {
      const proc = startServiceProcess({ name, env: envs[name], logFile: join(logDir, `${name}.log`), onLog: counters.record });
      processes.set(name, proc);
      await proc.ready;
    };
    const stopService = async (name: ServiceName) => {
      const proc = processes.get(name);
      if (!proc) return;
      proc.kill('SIGTERM');
      const killer = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
      try {
        await proc.exited;
      } finally {
        clearTimeout(killer);
      }
    };
    // Stop order is the reverse of data flow: producers' front door first, then the writer so it
    // flushes and acks what it holds while Pub/Sub is still there to receive the acks.
    cleanups.push(() => stopService('curator'), () => stopService('writer'), () => stopService('ingest'));
    await Promise.all((['ingest', 'writer', 'curator'] as const).map(launch));
    pubsubEmulator.resumePushes();

    const tokenFor = (service: 'writer' | 'curator') =>
      service === 'writer'
        ? issuer.sign({ audience: envs.writer.PUSH_AUDIENCE!, email: LOCAL.pushServiceAccount })
        : issuer.sign({ audience: envs.curator.SCHEDULER_AUDIENCE!, email: LOCAL.schedulerServiceAccount });
    let stopping: Promise<StopSummary> | undefined;
    return {
      urls,
      dataDir,
      counters,
      clientEnv,
      service: (name) => processes.get(name)!,
      restart: (name, env = {}) => {
        envs[name] = { ...envs[name], ...env };
        return launch(name);
      },
      tokenFor,
      async runCurator() {
        const token = await tokenFor('curator');
        const res = await fetch(`${urls.curator}/run`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
        const body = (await res.json()) as Record<string, unknown>;
        if (!res.ok && res.status !== 409) throw new Error(`curator run failed: ${res.status} ${JSON.stringify(body)}`);
        return body;
      },
      backlog,
      restartPubsub,
      pubsubFaults: () => pubsubEmulator.faults,
      async drain({ timeoutMs = DEFAULT_DRAIN_TIMEOUT_MS, onProgress, signal } = {}) {
        const started = Date.now();
        // Both push subscriptions: events, and dead letters on their way to the lake's dead-letter/ zone.
        const both = () => {
          const events = backlog();
          const dead = deadLetterBacklog();
          return { queued: queuedOf(events) + queuedOf(dead), withWriter: events.outstanding + dead.outstanding };
        };
        const result = (outcome: DrainResult['outcome']): DrainResult => ({ outcome, ...both(), ms: Date.now() - started });
        // Ingest first, and wait for it to exit: only then is everything it accepted in the topic.
        await stopService('ingest');
        let lastReport = 0;
        for (;;) {
          const { queued } = both();
          if (queued === 0) return result('drained');
          if (signal?.aborted) return result('aborted');
          if (Date.now() - started >= timeoutMs) return result('timed out');
          if (Date.now() - lastReport >= 500) {
            lastReport = Date.now();
            onProgress?.(queued);
          }
          await sleep(DRAIN_POLL_MS, signal);
        }
      },
      stop: () => (stopping ??= runCleanups(cleanups).then(() => summary)),
    };
  } catch (err) {
    await runCleanups(cleanups);
    throw err;
  }
}

/** Creates the subscription, or updates one a previous run of the stack left (both emulators keep state). */
async function createOrUpdate(topic: Topic, name: string, settings: CreateSubscriptionOptions): Promise<void> {
  const subscription = topic.subscription(name);
  const [exists] = await subscription.exists();
  if (exists) await subscription.setMetadata(settings);
  else await topic.createSubscription(name, settings);
}

/** Resolves after `ms`, or as soon as `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

async function runCleanups(cleanups: Array<() => Promise<void>>): Promise<void> {
  // Last started, first stopped; every step runs even if one fails.
  const errors: unknown[] = [];
  for (const cleanup of [...cleanups].reverse()) {
    try {
      await cleanup();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length) throw new AggregateError(errors, 'stopping the local stack failed');
}

/**
 * What `pulumi up` creates in the cloud: topic, dead-letter topic, push subscription with OIDC, bucket.
 * They survive a restart of the stack (both emulators keep state on disk); an existing subscription
 * is updated, since the writer may listen elsewhere or flush on another schedule this time.
 */
async function createCloudResources(env: Record<string, string>, writerUrl: string, ackDeadlineSeconds: number): Promise<void> {
  const pubsub = new PubSub({ projectId: LOCAL.projectId, apiEndpoint: env.PUBSUB_EMULATOR_HOST });
  const storage = new Storage({ projectId: LOCAL.projectId, apiEndpoint: env.STORAGE_EMULATOR_HOST });
  try {
    const [bucketExists] = await storage.bucket(LOCAL.bucket).exists();
    if (!bucketExists) await storage.createBucket(LOCAL.bucket);
    const [topic] = await pubsub.topic(LOCAL.topic).get({ autoCreate: true });
    const [deadLetter] = await pubsub.topic(LOCAL.deadLetterTopic).get({ autoCreate: true });
    const retryPolicy = { minimumBackoff: { seconds: PUSH_DELIVERY.minimumBackoffSeconds }, maximumBackoff: { seconds: PUSH_DELIVERY.maximumBackoffSeconds } };
    // The writer verifies one audience, `<writer>/push`, for both of its push endpoints.
    const pushTo = (path: string) => ({ pushEndpoint: `${writerUrl}${path}`, oidcToken: { serviceAccountEmail: LOCAL.pushServiceAccount, audience: `${writerUrl}/push` } });
    await createOrUpdate(topic, LOCAL.pushSubscription, {
      ackDeadlineSeconds,
      pushConfig: pushTo('/push'),
      deadLetterPolicy: { deadLetterTopic: deadLetter.name, maxDeliveryAttempts: PUSH_DELIVERY.maxDeliveryAttempts },
      retryPolicy,
    });
    // Dead letters are filed into the lake's dead-letter/ zone by the writer, PII protected.
    await createOrUpdate(deadLetter, LOCAL.deadLetterSubscription, { ackDeadlineSeconds, pushConfig: pushTo('/dead-letter'), retryPolicy });
  } finally {
    await pubsub.close();
  }
}
