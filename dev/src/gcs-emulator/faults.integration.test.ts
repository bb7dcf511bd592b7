import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Storage, type Bucket } from '@google-cloud/storage';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { clearGcsFaults, getGcsFaults, setGcsFaults, startGcsEmulator, type GcsEmulator } from './index.js';

async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

// Retries as the writer's client makes them, one a second (the shortest wait the session-creating retry takes), so a test takes seconds.
const retrying = { autoRetry: true, maxRetries: 50, retryDelayMultiplier: 1, maxRetryDelay: 1, totalTimeout: 30 };
// Create-only, as the writer uploads: the client retries only conditional uploads, and an
// unconditional save turns retries off for every later call of the same Storage (it sets the
// shared `retryOptions.autoRetry = false`), so every save here is conditional.
const createOnly = { preconditionOpts: { ifGenerationMatch: 0 } };

let emulator: GcsEmulator;
let root: string;
let lake: Bucket;
const mirrored = (name: string) => join(root, 'lake', name);
const injected = async () => (await getGcsFaults(emulator.url)).injected;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'gcs-faults-'));
  emulator = await startGcsEmulator({ root });
  const storage = new Storage({ apiEndpoint: emulator.url, projectId: 'test', retryOptions: retrying });
  [lake] = await storage.createBucket('lake');
});

afterEach(async () => {
  await clearGcsFaults(emulator.url);
});

afterAll(async () => {
  await emulator?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('without faults', () => {
  it('changes nothing: requests pass and nothing is counted', async () => {
    const before = await getGcsFaults(emulator.url);
    expect(before).toEqual({
      settings: { errorRate: 0, latencyMs: 0, timeoutRate: 0, failResumableUploads: false, methods: null, prefix: '' },
      injected: { error: 0, latency: 0, timeout: 0, resumableUpload: 0 },
      held: 0,
    });
    const file = lake.file('plain/a.json');
    await file.save('{"a":1}', { resumable: false , ...createOnly });
    await lake.file('plain/b.bin').save(Buffer.alloc(1000, 7), { resumable: true , ...createOnly });
    expect((await file.download())[0].toString()).toBe('{"a":1}');
    expect((await lake.getFiles({ prefix: 'plain/' }))[0].map((f) => f.name)).toEqual(['plain/a.json', 'plain/b.bin']);
    await file.delete();
    expect(await getGcsFaults(emulator.url)).toEqual(before);
  });
});

describe('the admin endpoint', () => {
  it('changes the settings a POST names, refuses bad ones with the reason, and DELETE clears them', async () => {
    await setGcsFaults(emulator.url, { errorRate: 0.2, methods: ['put', 'POST'] });
    const state = await setGcsFaults(emulator.url, { latencyMs: 5, prefix: 'events/' });
    expect(state.settings).toEqual({ errorRate: 0.2, latencyMs: 5, timeoutRate: 0, failResumableUploads: false, methods: ['PUT', 'POST'], prefix: 'events/' });
    expect((await setGcsFaults(emulator.url, { methods: null })).settings.methods).toBeNull();

    await expect(setGcsFaults(emulator.url, { errorRate: 2 })).rejects.toThrow(/400: errorRate must be a number from 0 to 1/);
    await expect(setGcsFaults(emulator.url, { errorrate: 1 } as never)).rejects.toThrow(/unknown fault "errorrate"/);
    await expect(setGcsFaults(emulator.url, { timeoutRate: 0.9 })).rejects.toThrow(/errorRate \+ timeoutRate must be at most 1/);
    const notJson = await fetch(`${emulator.url}/_strata/faults`, { method: 'POST', body: '{' });
    expect([notJson.status, ((await notJson.json()) as { error: string }).error]).toEqual([400, 'invalid_json']);
    expect((await fetch(`${emulator.url}/_strata/faults`, { method: 'PUT' })).status).toBe(405);
    expect((await getGcsFaults(emulator.url)).settings.errorRate).toBe(0.2); // refused changes change nothing

    expect((await clearGcsFaults(emulator.url)).settings).toMatchObject({ errorRate: 0, latencyMs: 0, prefix: '', methods: null });
  });
});

describe('5xx', () => {
  it('answers 503 in the JSON API error shape without touching storage', async () => {
    await setGcsFaults(emulator.url, { errorRate: 1 });
    const res = await fetch(`${emulator.url}/upload/storage/v1/b/lake/o?uploadType=media&name=raw/refused.txt`, { method: 'POST', body: 'x' });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { code: 503, errors: [{ reason: 'backendError', domain: 'global' }] } });
    expect(existsSync(mirrored('raw/refused.txt'))).toBe(false);
    expect((await injected()).error).toBeGreaterThanOrEqual(1);
  });

  it('is retried by the client, whose upload and download succeed once the faults are cleared', async () => {
    const { error: before } = await injected();
    await setGcsFaults(emulator.url, { errorRate: 1 });
    const file = lake.file('events/retried.json');
    const saved = file.save('{"retried":true}', { resumable: false, ...createOnly });
    await until('two refused attempts', async () => (await injected()).error >= before + 2);
    expect(existsSync(mirrored('events/retried.json'))).toBe(false);
    await clearGcsFaults(emulator.url);
    await saved;
    expect(await readFile(mirrored('events/retried.json'), 'utf8')).toBe('{"retried":true}');

    await setGcsFaults(emulator.url, { errorRate: 1 });
    const downloaded = file.download();
    await until('a refused download', async () => (await injected()).error >= before + 3);
    await clearGcsFaults(emulator.url);
    expect((await downloaded)[0].toString()).toBe('{"retried":true}');
  });

  it('applies only to the methods and the object-name prefix in scope', async () => {
    await lake.file('events/in-scope.json').save('{}', { resumable: false , ...createOnly });
    await setGcsFaults(emulator.url, { errorRate: 1, methods: ['POST'], prefix: 'events/' });
    await lake.file('other/outside.json').save('{}', { resumable: false, ...createOnly });
    expect((await lake.file('events/in-scope.json').download())[0].toString()).toBe('{}'); // GET: not in scope
    const refused = await fetch(`${emulator.url}/upload/storage/v1/b/lake/o?uploadType=media&name=events/x.json`, { method: 'POST', body: '{}' });
    expect(refused.status).toBe(503);

    await setGcsFaults(emulator.url, { methods: null });
    expect((await fetch(`${emulator.url}/storage/v1/b/lake/o?prefix=events/`)).status).toBe(503);
    expect((await fetch(`${emulator.url}/storage/v1/b/lake/o?prefix=other/`)).status).toBe(200);
    expect((await fetch(`${emulator.url}/storage/v1/b/lake`)).status).toBe(200); // names no object
  });
});

describe('latency', () => {
  it('delays each request in scope by latencyMs', async () => {
    await lake.file('slow/a.json').save('{}', { resumable: false , ...createOnly });
    const { latency: before } = await injected();
    await setGcsFaults(emulator.url, { latencyMs: 300 });
    const started = performance.now();
    await lake.file('slow/a.json').getMetadata();
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect((await injected()).latency).toBe(before + 1);
  });

  it('ends the waits when the faults are cleared, and the requests go through', async () => {
    await setGcsFaults(emulator.url, { latencyMs: 60_000 });
    const started = performance.now();
    const saved = lake.file('slow/b.json').save('{"b":1}', { resumable: false , ...createOnly });
    await until('the upload waiting', async () => (await injected()).latency > 0);
    await clearGcsFaults(emulator.url);
    await saved;
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(await readFile(mirrored('slow/b.json'), 'utf8')).toBe('{"b":1}');
  });
});

describe('failed resumable uploads', () => {
  it('fail the final PUT after the session was created, create no object, and keep the session for a retry', async () => {
    await setGcsFaults(emulator.url, { failResumableUploads: true });
    const start = await fetch(`${emulator.url}/upload/storage/v1/b/lake/o?uploadType=resumable&name=resumable/raw.txt`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(start.status).toBe(200);
    const session = start.headers.get('location') ?? '';
    const put = (range: string, body?: string) => fetch(session, { method: 'PUT', headers: { 'content-range': range }, ...(body === undefined ? {} : { body }) });

    expect((await put('bytes 0-4/*', 'hello')).status).toBe(308); // not the final chunk: untouched
    expect((await put('bytes 5-9/10', 'world')).status).toBe(503);
    expect(existsSync(mirrored('resumable/raw.txt'))).toBe(false);
    const status = await put('bytes */*');
    expect([status.status, status.headers.get('range')]).toEqual([308, 'bytes=0-4']); // the failed chunk's bytes were dropped

    await clearGcsFaults(emulator.url);
    expect((await put('bytes 5-9/10', 'world')).status).toBe(200);
    expect(await readFile(mirrored('resumable/raw.txt'), 'utf8')).toBe('helloworld');
  });

  it('make the client give up after its retries, with no object left; once cleared the upload succeeds', async () => {
    const storage = new Storage({ apiEndpoint: emulator.url, projectId: 'test', retryOptions: { ...retrying, maxRetries: 2 } });
    const file = storage.bucket('lake').file('resumable/client.bin');
    const data = Buffer.alloc(2000, 1);
    const { resumableUpload: before } = await injected();
    await setGcsFaults(emulator.url, { failResumableUploads: true });
    await expect(file.save(data, { resumable: true, ...createOnly })).rejects.toThrow(/Retry limit exceeded - status: 503/);
    expect((await injected()).resumableUpload).toBeGreaterThanOrEqual(before + 2);
    expect(existsSync(mirrored('resumable/client.bin'))).toBe(false);
    expect((await file.exists())[0]).toBe(false);

    await clearGcsFaults(emulator.url);
    await file.save(data, { resumable: true, ...createOnly });
    expect((await readFile(mirrored('resumable/client.bin'))).equals(data)).toBe(true);
  });
});

describe('timeouts', () => {
  it('hold a request until the client gives up, then let the socket go', async () => {
    await lake.file('held/a.json').save('{}', { resumable: false , ...createOnly });
    const impatient = new Storage({ apiEndpoint: emulator.url, projectId: 'test', timeout: 300, retryOptions: { autoRetry: false } });
    await setGcsFaults(emulator.url, { timeoutRate: 1 });
    await expect(impatient.bucket('lake').file('held/a.json').getMetadata()).rejects.toThrow();
    await until('the given-up request released', async () => (await getGcsFaults(emulator.url)).held === 0);
    expect((await injected()).timeout).toBeGreaterThanOrEqual(1);
  });

  it('are released when the faults are cleared, and the retrying client then succeeds', async () => {
    await setGcsFaults(emulator.url, { timeoutRate: 1 });
    const saved = lake.file('held/b.json').save('{"b":2}', { resumable: false, ...createOnly });
    const read = lake.file('held/a.json').download();
    await until('two requests held', async () => (await getGcsFaults(emulator.url)).held === 2);
    expect((await clearGcsFaults(emulator.url)).held).toBe(0);
    await saved;
    expect((await read)[0].toString()).toBe('{}');
    expect(await readFile(mirrored('held/b.json'), 'utf8')).toBe('{"b":2}');
  });
});

describe('stopping with faults in force', () => {
  it('releases held requests and drops delayed ones at once, routing none of them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gcs-faults-stop-'));
    const other = await startGcsEmulator({ root: dir });
    try {
      await new Storage({ apiEndpoint: other.url, projectId: 'test' }).createBucket('lake');
      other.faults.set({ timeoutRate: 1 });
      // Settled at once into a value: they fail during stop(), before anything awaits them.
      const outcome = (request: Promise<Response>) => request.then(() => 'answered', () => 'connection lost');
      const held = outcome(fetch(`${other.url}/storage/v1/b/lake/o`));
      await until('one held', async () => other.faults.state().held === 1);
      other.faults.set({ timeoutRate: 0, latencyMs: 60_000 });
      const delayed = outcome(fetch(`${other.url}/upload/storage/v1/b/lake/o?uploadType=media&name=late.txt`, { method: 'POST', body: 'late' }));
      await until('one delayed', async () => other.faults.state().injected.latency === 1);

      const started = performance.now();
      await other.stop();
      expect(performance.now() - started).toBeLessThan(2_000);
      expect([await held, await delayed]).toEqual(['connection lost', 'connection lost']);
      expect(other.faults.state().held).toBe(0);
      expect(existsSync(join(dir, 'lake', 'late.txt'))).toBe(false);
    } finally {
      await other.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
