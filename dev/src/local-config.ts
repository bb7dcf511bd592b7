import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const DEV_KEY = 'dev-key';

/**
 * The names the local stack gives the cloud resources that `pulumi up` creates in a real project.
 * Kept in one place so `npm start`, `npm run query` and the tests agree.
 */
export const LOCAL = {
  projectId: 'strata-local',
  topic: 'strata-events',
  pushSubscription: 'strata-events-writer',
  deadLetterTopic: 'strata-events-dead-letter',
  // Pushes dead letters to the writer, which files them under dead-letter/ in the lake (as in the cloud).
  deadLetterSubscription: 'strata-events-dead-letter-writer',
  bucket: 'strata-lake',
  apiKey: DEV_KEY,
  // ingest's INGEST_KEYS: the dev key by its SHA-256, as keys are configured in the cloud. Every log
  // type; a browser key for a test page served on port 8080 (e.g. `python3 -m http.server 8080`),
  // exact origins since keys take no wildcards; clients without Origin (tests, benches, curl) use
  // it too. The rate is far above what a local bench sends, so no measurement is throttled.
  ingestKeys: JSON.stringify([
    {
      name: 'local-dev',
      sha256: createHash('sha256').update(DEV_KEY).digest('hex'),
      origins: ['http://localhost:8080', 'http://127.0.0.1:8080'],
      rate: { points: 10_000_000, durationSeconds: 1 },
    },
  ]),
  piiHashSecret: 'local-only-pii-secret-not-for-production',
  pushServiceAccount: 'pubsub-push@strata-local.iam.gserviceaccount.com',
  schedulerServiceAccount: 'scheduler@strata-local.iam.gserviceaccount.com',
} as const;

/** INGEST_KEYS for the local stack: LOCAL.ingestKeys, with more allowed origins for the dev key when given. */
export function localIngestKeys(extraOrigins: readonly string[] = []): string {
  if (extraOrigins.length === 0) return LOCAL.ingestKeys;
  const keys = JSON.parse(LOCAL.ingestKeys) as Array<{ origins?: string[] }>;
  return JSON.stringify(keys.map((key) => ({ ...key, origins: [...(key.origins ?? []), ...extraOrigins] })));
}

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Everything the local stack writes lives under `.strata/` (git-ignored). */
export const defaultDataDir = join(repoRoot, '.strata');

export const lakeDir = (dataDir: string) => join(dataDir, 'gcs', LOCAL.bucket);

/** The durable Pub/Sub emulator's journal folder. */
export const pubsubDir = (dataDir: string) => join(dataDir, 'pubsub');

/** The data folder `npm start` and `npm run query` use: STRATA_DATA_DIR, else `.strata/`. */
export function dataDirFromEnv(env: Record<string, string | undefined> = process.env): string {
  return env.STRATA_DATA_DIR ? resolve(env.STRATA_DATA_DIR) : defaultDataDir;
}

/**
 * Where a running `npm start` says how to reach its GCS emulator and database (PGlite's port is
 * picked at start), so tools run from another terminal (`npm run erase`) use the same lake and
 * PostgreSQL. Written once the stack is up, removed when it exits.
 */
export interface RunningStack {
  pid: number;
  /** STORAGE_EMULATOR_HOST */
  gcs: string;
  /** DATABASE_URL */
  database: string;
  /** PUBSUB_EMULATOR_HOST (`npm run replay` publishes to the stack's topic); absent in files older stacks wrote. */
  pubsub?: string;
}

const runningStackFile = (dataDir: string) => join(dataDir, 'running-stack.json');

/** Writes the file and removes it when this process exits, however it exits short of a kill -9. */
export function announceRunningStack(dataDir: string, stack: RunningStack): void {
  writeFileSync(runningStackFile(dataDir), `${JSON.stringify(stack)}\n`);
  process.on('exit', () => rmSync(runningStackFile(dataDir), { force: true }));
}

/** The running stack, or undefined when there is none (no file, or a kill -9 left one behind). */
export function readRunningStack(dataDir: string): RunningStack | undefined {
  let stack: RunningStack;
  try {
    stack = JSON.parse(readFileSync(runningStackFile(dataDir), 'utf8')) as RunningStack;
  } catch {
    return undefined;
  }
  try {
    process.kill(stack.pid, 0); // signal 0 only checks that the process exists
    return stack;
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? stack : undefined;
  }
}
