import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { PubSub } from '@google-cloud/pubsub';
import AdmZip from 'adm-zip';
import { freePort } from '@strata/dev/free-port';
import { startGcsEmulator, type GcsEmulator } from '@strata/dev/gcs-emulator';
import { createOidcIssuer, serveCerts, type OidcIssuer, type ServedCerts } from '@strata/dev/oidc-issuer';
import { testDatabase, type TestDatabase } from '@strata/dev/postgres';
import { startPubsubEmulator, type PubsubEmulator } from '@strata/dev/pubsub-emulator';
import { ackDeadlineSecondsFor } from '@strata/schemas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleService, sizeOf, type BundleResult, type ServiceName } from './bundle-service.js';

/**
 * Issue 10, item 12's last check: each function source, as Cloud Build receives it (the zip),
 * installs with `npm ci --omit=dev` from the registry and starts under its deployed entry
 * (`functions-framework --target=<service>`, run from the bundle's own node_modules as the
 * buildpack does), then answers, and on SIGTERM flushes and exits 0.
 *
 * Slow (a registry install per service), so one test per service with a generous timeout, and one
 * npm cache for all of them.
 */
const INSTALL_TIMEOUT_MS = 180_000;
const TEST_TIMEOUT_MS = 300_000;
const PROJECT = 'strata-bundle-it';
const PII_HASH_SECRET = 'test-secret-0123456789';
const PUSH_SA = 'pubsub-push@strata-bundle-it.iam.gserviceaccount.com';
const SCHEDULER_SA = 'scheduler@strata-bundle-it.iam.gserviceaccount.com';
const BUCKET = 'lake-bundle-it';

const run = promisify(execFile);
/** npm run by vitest inherits npm_* variables (npm_config_local_prefix: the monorepo); the bundle is its own project. */
const npmEnv = () => Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name) && name !== 'INIT_CWD'));

let root: string;
let npmCache: string;
let loopbackShim: string;
let pubsubEmulator: PubsubEmulator;
let gcs: GcsEmulator;
let issuer: OidcIssuer;
let certs: ServedCerts;
let database: TestDatabase;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'strata-bundle-it-'));
  // Kept across runs: the registry tarballs are the slow part, and npm verifies them by integrity.
  npmCache = join(tmpdir(), 'strata-bundle-npm-cache');
  mkdirSync(npmCache, { recursive: true });
  // The Functions Framework listens on every interface and has no host option; tests only bind
  // loopback, so a preload hands its listen(port, cb) the host 127.0.0.1.
  loopbackShim = join(root, 'listen-on-loopback.mjs');
  writeFileSync(
    loopbackShim,
    `import http from 'node:http';
const listen = http.Server.prototype.listen;
http.Server.prototype.listen = function (port, ...rest) {
  return (typeof port === 'number' || /^\\d+$/.test(String(port))) && typeof rest[0] !== 'string' ? listen.call(this, Number(port), '127.0.0.1', ...rest) : listen.call(this, port, ...rest);
};
`,
  );
  pubsubEmulator = await startPubsubEmulator();
  gcs = await startGcsEmulator({ root: join(root, 'gcs') });
  // The GCS JSON API's bucket insert, straight to the emulator.
  const created = await fetch(`${gcs.url}/storage/v1/b?project=${PROJECT}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: BUCKET }) });
  if (!created.ok) throw new Error(`creating the bucket: ${created.status} ${await created.text()}`);
  issuer = await createOidcIssuer();
  certs = await serveCerts(issuer, { host: '127.0.0.1' });
  database = await testDatabase();
});

afterAll(async () => {
  await pubsubEmulator?.stop();
  await gcs?.stop();
  await certs?.close();
  await database?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

/** Bundles, unzips into a fresh folder (only what the zip holds) and installs as the buildpack does. */
async function deployLocally(service: ServiceName): Promise<{ bundle: BundleResult; dir: string }> {
  const bundle = await bundleService(service, join(root, 'out'), { npmCache });
  const dir = join(root, 'deployed', service);
  new AdmZip(bundle.zipPath).extractAllTo(dir, true);
  await run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--cache', npmCache], { cwd: dir, env: npmEnv(), timeout: INSTALL_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 });
  const { dependencies } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  console.info(`${service}: ${(sizeOf(bundle.zipPath) / 1024).toFixed(1)} KiB, sha256 ${bundle.sha256}, dependencies ${Object.keys(dependencies).join(', ')}`);
  return { bundle, dir };
}

interface RunningFunction {
  url: string;
  logs: Array<Record<string, unknown>>;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
  child: ChildProcess;
  stderr: string[];
}

/** `functions-framework --target=<service> --port=<free>` from the bundle folder, configured by env only. */
async function startFunction(dir: string, service: ServiceName, env: Record<string, string>): Promise<RunningFunction> {
  const port = await freePort();
  const child = spawn(join(dir, 'node_modules', '.bin', 'functions-framework'), [`--target=${service}`, `--port=${port}`], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NODE_ENV: 'production',
      NODE_OPTIONS: `--import=${loopbackShim}`,
      METADATA_SERVER_DETECTION: 'none',
      GOOGLE_CLOUD_PROJECT: PROJECT,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      logs.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      stderr.push(line);
    }
  });
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code ?? 0)));
  const running = { url: `http://127.0.0.1:${port}`, logs, exited, child, stderr };
  await waitUntilServing(running);
  return running;
}

async function waitUntilServing(fn: RunningFunction): Promise<void> {
  const deadline = Date.now() + 30_000;
  let gone = false;
  void fn.exited.then(() => (gone = true));
  while (Date.now() < deadline && !gone) {
    try {
      await fetch(`${fn.url}/`, { signal: AbortSignal.timeout(1_000) });
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`the function did not start:\n${fn.stderr.join('\n')}\n${JSON.stringify(fn.logs)}`);
}

/** SIGTERM as Cloud Run sends it; the exit must come well inside its ~10 s grace. */
async function terminate(fn: RunningFunction): Promise<number | string> {
  fn.child.kill('SIGTERM');
  const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('timeout'), 9_000).unref());
  const result = await Promise.race([fn.exited, timeout]);
  if (result === 'timeout') fn.child.kill('SIGKILL');
  return result;
}

const messages = (fn: RunningFunction) => fn.logs.map((line) => line.message);

describe('the deployed function sources', () => {
  it(
    'ingest installs from its lockfile, answers /healthz, refuses a request without a key, prepares events on its bundled worker thread, and stops cleanly',
    async () => {
      const { dir, bundle } = await deployLocally('ingest');
      const pubsub = new PubSub({ projectId: PROJECT, apiEndpoint: pubsubEmulator.address });
      await pubsub.topic('events-bundle-it').get({ autoCreate: true }).finally(() => pubsub.close());
      expect(bundle.files).toContain('index.mjs');
      expect(bundle.files).toContain('prepare-worker.mjs');
      const fn = await startFunction(dir, 'ingest', {
        PUBSUB_EMULATOR_HOST: pubsubEmulator.address,
        PUBSUB_TOPIC: 'events-bundle-it',
        INGEST_KEYS: JSON.stringify([{ name: 'web', sha256: createHash('sha256').update('k1').digest('hex') }]),
        PII_HASH_SECRET,
        // /v1/events bodies go to prepare-worker.mjs, which must load from the bundle on its own.
        INGEST_WORKER_THREADS: '1',
      });
      try {
        expect((await fetch(`${fn.url}/healthz`)).status).toBe(200);
        const res = await fetch(`${fn.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[]' });
        expect(res.status).toBe(401);
        const event = { log_type: 'user_action', event: 'page_view', ts: new Date().toISOString(), user_id: 'u-1', page_url: 'https://shop.example/' };
        const sent = await fetch(`${fn.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'k1' }, body: JSON.stringify([event, { ...event, ts: 'yesterday' }]) });
        expect({ status: sent.status, body: await sent.json() }).toMatchObject({ status: 202, body: { accepted: 1, rejected: [{ index: 1 }] } });
      } finally {
        expect(await terminate(fn)).toBe(0);
      }
      expect(messages(fn)).toEqual(expect.arrayContaining(['stopping', 'stopped']));
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'writer installs from its lockfile, refuses a push without a token, and on SIGTERM flushes the push it holds, answers it and exits 0',
    async () => {
      const { dir } = await deployLocally('writer');
      const audience = 'https://writer.strata.test/push';
      // Far longer than the test: only the SIGTERM can flush this push in time.
      const flushMaxAgeMs = 50_000;
      const fn = await startFunction(dir, 'writer', {
        STORAGE_EMULATOR_HOST: gcs.url,
        LAKE_BUCKET: BUCKET,
        PUSH_AUDIENCE: audience,
        PUSH_SERVICE_ACCOUNT: PUSH_SA,
        OIDC_CERTS_URL: certs.certsUrl,
        PII_HASH_SECRET,
        FLUSH_MAX_AGE_MS: String(flushMaxAgeMs),
        PUSH_ACK_DEADLINE_SECONDS: String(ackDeadlineSecondsFor(flushMaxAgeMs)),
        FLUSH_QUIET_MS: '0',
      });
      let exit: number | string | undefined;
      try {
        expect((await fetch(`${fn.url}/healthz`)).status).toBe(200);
        expect((await fetch(`${fn.url}/push`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(401);

        const token = await issuer.sign({ audience, email: PUSH_SA });
        const event = { event: 'page_view', ts: new Date().toISOString(), user_id: 'u-1', page_url: 'https://shop.example/cart', quantity: 2 };
        const body = {
          message: {
            data: Buffer.from(JSON.stringify(event)).toString('base64'),
            attributes: { log_type: 'user_action', schema_version: '1' },
            messageId: '42',
            publishTime: new Date().toISOString(),
          },
          subscription: 'projects/strata-bundle-it/subscriptions/events-writer',
        };
        const pushed = fetch(`${fn.url}/push`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
        // The push is admitted and held (nothing flushes it for 50 s)...
        await new Promise((resolve) => setTimeout(resolve, 500));
        expect(messages(fn)).not.toContain('partition flushed');
        // ...until SIGTERM: flushed, answered, exited 0.
        const stopped = terminate(fn);
        expect((await pushed).status).toBeLessThan(300);
        exit = await stopped;
      } finally {
        exit ??= await terminate(fn);
      }
      expect(exit).toBe(0);
      expect(messages(fn)).toEqual(expect.arrayContaining(['stopping', 'partition flushed', 'stopped']));
      const listed = (await (await fetch(`${gcs.url}/storage/v1/b/${BUCKET}/o?prefix=events/`)).json()) as { items?: Array<{ name: string }> };
      expect((listed.items ?? []).map((o) => o.name).filter((name) => name.endsWith('.parquet'))).toHaveLength(1);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'curator installs from its lockfile, migrates from the bundled SQL on its first request, refuses /run without a token, and stops cleanly',
    async () => {
      const { dir } = await deployLocally('curator');
      const fn = await startFunction(dir, 'curator', {
        STORAGE_EMULATOR_HOST: gcs.url,
        LAKE_BUCKET: BUCKET,
        DATABASE_URL: database.url,
        DATABASE_POOL_MAX: String(database.poolMax),
        SCHEDULER_AUDIENCE: 'https://curator.strata.test/run',
        SCHEDULER_SERVICE_ACCOUNT: SCHEDULER_SA,
        OIDC_CERTS_URL: certs.certsUrl,
        CURATOR_WORK_DIR: join(root, 'curator-work'),
      });
      try {
        // The first request waits for the migrations: 200 means they ran from assets/.
        expect((await fetch(`${fn.url}/healthz`)).status).toBe(200);
        expect((await fetch(`${fn.url}/run`, { method: 'POST' })).status).toBe(401);
      } finally {
        expect(await terminate(fn)).toBe(0);
      }
      expect(messages(fn)).toEqual(expect.arrayContaining(['stopping', 'stopped']));
      expect(messages(fn)).not.toContain('migrations failed');
    },
    TEST_TIMEOUT_MS,
  );
});
