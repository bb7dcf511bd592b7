import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { PubSub, type Message } from '@google-cloud/pubsub';
import { afterEach, describe, expect, it } from 'vitest';
import { closeServer, listen } from '@strata/runtime';
import { startPubsubEmulator, type PubsubEmulator } from './emulator.js';
import { FAULTS_PATH } from './faults.js';

/**
 * The durable emulator (`dataDir`): a restart, or a kill -9 of its process, resumes delivery of
 * everything published and not yet acked; topics and subscriptions come back as they were.
 */
process.env.METADATA_SERVER_DETECTION = 'none';

const PROJECT = 'durable-test';
const dirs: string[] = [];
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'pubsub-journal-'));
  dirs.push(dir);
  return dir;
};

async function start(dataDir: string, port = 0): Promise<{ emulator: PubsubEmulator; client: PubSub }> {
  const emulator = await startPubsubEmulator({ dataDir, port });
  const client = new PubSub({ projectId: PROJECT, apiEndpoint: emulator.address });
  cleanups.push(async () => {
    await client.close();
    await emulator.stop();
  });
  return { emulator, client };
}

/** Pulls until `count` messages arrived (acking them when asked), or fails after 10 s. */
async function pullAll(client: PubSub, subscription: string, count: number, ack: boolean): Promise<Message[]> {
  const received: Message[] = [];
  const sub = client.subscription(subscription);
  return await new Promise<Message[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${received.length} of ${count} messages arrived within 10 s`)), 10_000);
    sub.on('message', (message: Message) => {
      received.push(message);
      if (ack) message.ack();
      if (received.length === count) {
        clearTimeout(timer);
        void sub.close().then(() => resolve(received));
      }
    });
    sub.on('error', reject);
  });
}

const texts = (messages: Message[]) => messages.map((m) => m.data.toString()).sort();

describe('durable Pub/Sub emulator', () => {
  it('keeps topics, subscriptions and unacked messages across a restart; acked ones stay acked', async () => {
    const dir = tempDir();
    const first = await start(dir);
    const [topic] = await first.client.createTopic('events');
    await topic.createSubscription('reader', { ackDeadlineSeconds: 30 });
    const published = await Promise.all(Array.from({ length: 50 }, (_, i) => topic.publishMessage({ data: Buffer.from(`m${i}`), attributes: { i: String(i) } })));
    // Ack the first 20 to arrive, leave the rest unacked.
    const acked = await pullAll(first.client, 'reader', 20, true);
    await first.client.close();
    await first.emulator.stop();

    const second = await start(dir);
    const [subs] = await second.client.getSubscriptions();
    expect(subs.map((s) => s.name)).toEqual([`projects/${PROJECT}/subscriptions/reader`]);
    const [metadata] = await second.client.subscription('reader').getMetadata();
    expect(metadata.ackDeadlineSeconds).toBe(30);
    const rest = await pullAll(second.client, 'reader', 30, true);
    expect(new Set([...texts(acked), ...texts(rest)]).size).toBe(50);
    // Nothing more: the 20 acked before the restart are not delivered again.
    await waitUntil(() => {
      const b = second.emulator.backlog(`projects/${PROJECT}/subscriptions/reader`)!;
      return b.ready + b.delayed + b.outstanding === 0;
    });
    expect(rest.every((m) => m.attributes.i === m.data.toString().slice(1))).toBe(true);
    // New ids continue after the restored ones, so none is reused.
    const [next] = await Promise.all([second.client.topic('events').publishMessage({ data: Buffer.from('after') })]);
    expect(Number(next)).toBeGreaterThan(Math.max(...published.map(Number)));
  });

  it('resumes delivery of everything published after its process is killed with SIGKILL', async () => {
    const dir = tempDir();
    const main = fileURLToPath(new URL('./main.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', main, '--port', '0', '--data-dir', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanups.push(async () => void child.kill('SIGKILL'));
    const address = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (text) => {
        const match = /^export PUBSUB_EMULATOR_HOST=(.+)$/.exec(text);
        if (match) resolve(match[1]!);
      });
      child.once('exit', (code) => reject(new Error(`emulator exited (${code}) before listening`)));
    });
    const client = new PubSub({ projectId: PROJECT, apiEndpoint: address });
    const [topic] = await client.createTopic('events');
    await topic.createSubscription('reader');
    const ids = await Promise.all(Array.from({ length: 300 }, (_, i) => topic.publishMessage({ data: Buffer.from(`k${i}`) })));
    expect(new Set(ids).size).toBe(300);
    await client.close();
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));

    const restarted = await start(dir);
    const delivered = await pullAll(restarted.client, 'reader', 300, true);
    expect(texts(delivered)).toEqual(Array.from({ length: 300 }, (_, i) => `k${i}`).sort());
  });

  it('ignores a torn last record (a write cut short by a crash, never answered) and compacts what is settled', async () => {
    const dir = tempDir();
    const first = await start(dir);
    const [topic] = await first.client.createTopic('events');
    await topic.createSubscription('reader');
    await Promise.all(Array.from({ length: 200 }, (_, i) => topic.publishMessage({ data: Buffer.alloc(1000, i % 256) })));
    await pullAll(first.client, 'reader', 200, true);
    await topic.publishMessage({ data: Buffer.from('kept') });
    await first.client.close();
    await first.emulator.stop();
    const journal = join(dir, 'journal.log');
    const before = statSync(journal).size;
    appendFileSync(journal, '{"t":"msg","id":"999","n":100,"attrs":{},"pt":0,"ok":"","subs":["projects/durable-test/subscriptions/reader"]}\ntorn');

    const second = await start(dir);
    // Compacted at open: only the resources and the one unacked message remain.
    expect(statSync(journal).size).toBeLessThan(before / 10);
    expect(readFileSync(journal, 'utf8')).not.toContain('torn');
    const [only] = await pullAll(second.client, 'reader', 1, true);
    expect(only!.data.toString()).toBe('kept');
  });

  it('never reuses a message id, even after every message was settled and compacted away', async () => {
    const dir = tempDir();
    const first = await start(dir);
    const [topic] = await first.client.createTopic('events');
    await topic.createSubscription('reader');
    const ids = await Promise.all([1, 2, 3].map((i) => topic.publishMessage({ data: Buffer.from(`m${i}`) })));
    await pullAll(first.client, 'reader', 3, true);
    await first.client.close();
    await first.emulator.stop();
    // Two restarts: the first compacts the settled messages away, the second finds none of them.
    await (await startPubsubEmulator({ dataDir: dir })).stop();
    const third = await start(dir);
    const next = await third.client.topic('events').publishMessage({ data: Buffer.from('m4') });
    expect(Number(next)).toBeGreaterThan(Math.max(...ids.map(Number)));
  });

  it('refuses a second emulator on the same folder while the first runs (a second npm start), and takes over after a kill', async () => {
    const dir = tempDir();
    const { emulator } = await start(dir);
    await expect(startPubsubEmulator({ dataDir: dir })).rejects.toThrow(`is in use by process ${process.pid}`);
    await emulator.stop();
    // A lock left by a process that no longer exists (kill -9) does not hold the folder.
    writeFileSync(join(dir, 'journal.lock'), '999999999');
    await (await startPubsubEmulator({ dataDir: dir })).stop();
  });

  it('refuses to start over a damaged journal, naming the record', async () => {
    const dir = tempDir();
    appendFileSync(join(dir, 'journal.log'), '{"t":"topic","topic":{"name":"projects/p/topics/t"}}\nnot json\n{"t":"topic-","name":"projects/p/topics/t"}\n');
    await expect(startPubsubEmulator({ dataDir: dir })).rejects.toThrow(/journal record 2 \(byte 53\) is not JSON/);
  });

  it('updates a subscription (UpdateSubscription) and keeps the update across a restart', async () => {
    const dir = tempDir();
    const first = await start(dir);
    const [topic] = await first.client.createTopic('events');
    const [sub] = await topic.createSubscription('pushed', { ackDeadlineSeconds: 10, pushConfig: { pushEndpoint: 'http://127.0.0.1:1/old' } });
    await sub.setMetadata({ ackDeadlineSeconds: 42, pushConfig: { pushEndpoint: 'http://127.0.0.1:1/new' } });
    await first.client.close();
    await first.emulator.stop();
    const second = await start(dir);
    const [metadata] = await second.client.subscription('pushed').getMetadata();
    expect(metadata.ackDeadlineSeconds).toBe(42);
    expect(metadata.pushConfig?.pushEndpoint).toBe('http://127.0.0.1:1/new');
    await expect(second.client.subscription('pushed').setMetadata({ labels: { a: 'b' }, filter: 'x' })).rejects.toThrow(/filter is not supported/);
  });

  it('drops push connections at the injected rate (set over HTTP), and every message still lands once cleared', async () => {
    const received: string[] = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        // Answer slowly, so a dropped connection is cut while the receiver holds the message.
        setTimeout(() => {
          received.push(Buffer.from((JSON.parse(body) as { message: { data: string } }).message.data, 'base64').toString());
          res.writeHead(204).end();
        }, 50);
      });
    });
    const port = await listen(receiver, 0, '127.0.0.1');
    cleanups.push(() => closeServer(receiver)());
    const { emulator, client } = await start(tempDir());
    const admin = new URL(FAULTS_PATH, emulator.certsUrl).href;
    const set = await fetch(admin, { method: 'POST', body: JSON.stringify({ pushDropRate: 1, pushDropWithinMs: 20 }) });
    expect(set.status).toBe(200);
    const bad = await fetch(admin, { method: 'POST', body: JSON.stringify({ pushDropRate: 2 }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { reason: string }).reason).toMatch(/pushDropRate must be a number from 0 to 1/);

    const [topic] = await client.createTopic('events');
    await topic.createSubscription('pushed', {
      pushConfig: { pushEndpoint: `http://127.0.0.1:${port}/push` },
      retryPolicy: { minimumBackoff: { seconds: 0, nanos: 50e6 }, maximumBackoff: { seconds: 0, nanos: 200e6 } },
    });
    await Promise.all(Array.from({ length: 5 }, (_, i) => topic.publishMessage({ data: Buffer.from(`p${i}`) })));
    await waitUntil(() => emulator.faults.injected().pushDropped >= 10);
    const backlogWhileDropping = emulator.backlog(`projects/${PROJECT}/subscriptions/pushed`)!;
    expect(backlogWhileDropping.ready + backlogWhileDropping.delayed + backlogWhileDropping.outstanding).toBe(5);

    expect((await fetch(admin, { method: 'DELETE' })).status).toBe(200);
    await waitUntil(() => {
      const b = emulator.backlog(`projects/${PROJECT}/subscriptions/pushed`)!;
      return b.ready + b.delayed + b.outstanding === 0;
    });
    // Every message arrived at least once, more than once where a drop came after the receiver took it.
    expect(new Set(received)).toEqual(new Set(['p0', 'p1', 'p2', 'p3', 'p4']));
    const state = (await (await fetch(admin)).json()) as { settings: { pushDropRate: number }; injected: { pushDropped: number } };
    expect(state.settings.pushDropRate).toBe(0);
    expect(state.injected.pushDropped).toBeGreaterThanOrEqual(10);
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
