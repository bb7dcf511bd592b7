/**
 * `npm run bench:pubsub -w @strata/dev`: what durability costs the local Pub/Sub emulator. The
 * emulator runs in its own process (as in the local stack, where the stack's process hosts it),
 * in memory and with a journal (`--data-dir`), alternately, ROUNDS times each; this process
 * publishes with the real client, as ingest does, messages the size of ingest's batch messages,
 * while a StreamingPull subscriber acks everything (so the journal records settlements too).
 *
 * Two figures per mode, medians over the rounds, and durable ÷ in-memory:
 * - throughput: messages/s with PUBLISH_IN_FLIGHT publishes outstanding (the client batches them);
 * - latency: one publish at a time, p50 and p99 of the time until its message id arrives.
 * The goal (issue 11): durable within 20 % of in memory on both.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { PubSub } from '@google-cloud/pubsub';
import Table from 'cli-table3';
import { envNumber } from './env-number.js';

process.env.METADATA_SERVER_DETECTION ??= 'none';

const ROUNDS = envNumber('BENCH_ROUNDS', 3);
const THROUGHPUT_MESSAGES = envNumber('BENCH_MESSAGES', 5_000);
const LATENCY_SAMPLES = envNumber('BENCH_LATENCY_SAMPLES', 500);
// About what ingest publishes: 100 events of ~200 bytes in one batch message.
const MESSAGE_BYTES = envNumber('BENCH_MESSAGE_BYTES', 20_000);
const PUBLISH_IN_FLIGHT = 200;
const MAIN = fileURLToPath(new URL('../src/pubsub-emulator/main.ts', import.meta.url));

type Mode = 'in memory' | 'durable';
interface Round {
  throughput: number;
  p50: number;
  p99: number;
}

async function startEmulator(dataDir: string | undefined): Promise<{ address: string; child: ChildProcess }> {
  const args = ['--import', 'tsx', MAIN, '--port', '0', ...(dataDir ? ['--data-dir', dataDir] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const address = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (text) => {
      const match = /^export PUBSUB_EMULATOR_HOST=(.+)$/.exec(text);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`emulator exited (${code}) before listening`)));
  });
  return { address, child };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function round(mode: Mode): Promise<Round> {
  const dataDir = mode === 'durable' ? mkdtempSync(join(tmpdir(), 'bench-pubsub-')) : undefined;
  const { address, child } = await startEmulator(dataDir);
  const client = new PubSub({ projectId: 'bench', apiEndpoint: address });
  try {
    const [topic] = await client.createTopic('events');
    const [subscription] = await topic.createSubscription('reader');
    subscription.on('message', (message: { ack(): void }) => message.ack());
    const data = Buffer.alloc(MESSAGE_BYTES, 'x');
    const attributes = { log_type: 'user_action', schema_version: '1', batch: '1' };

    // Warm up the channel and the emulator's JIT before measuring.
    await Promise.all(Array.from({ length: 200 }, () => topic.publishMessage({ data, attributes })));

    const batched = client.topic('events', { batching: { maxMessages: 100, maxMilliseconds: 2 } });
    const started = performance.now();
    let sent = 0;
    await Promise.all(
      Array.from({ length: PUBLISH_IN_FLIGHT }, async () => {
        while (sent < THROUGHPUT_MESSAGES) {
          sent += 1;
          await batched.publishMessage({ data, attributes });
        }
      }),
    );
    const throughput = THROUGHPUT_MESSAGES / ((performance.now() - started) / 1000);

    const latencies: number[] = [];
    const single = client.topic('events', { batching: { maxMessages: 1, maxMilliseconds: 0 } });
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      const at = performance.now();
      await single.publishMessage({ data, attributes });
      latencies.push(performance.now() - at);
    }
    latencies.sort((a, b) => a - b);
    await subscription.close();
    return { throughput, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) };
  } finally {
    await client.close();
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

const results: Record<Mode, Round[]> = { 'in memory': [], durable: [] };
for (let i = 0; i < ROUNDS; i++) {
  // Alternating, so drift on a shared machine hits both modes alike.
  for (const mode of ['in memory', 'durable'] as const) {
    const r = await round(mode);
    results[mode].push(r);
    console.log(`round ${i + 1} ${mode}: ${r.throughput.toFixed(0)} msg/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms`);
  }
}

const summary = (mode: Mode) => ({
  throughput: median(results[mode].map((r) => r.throughput)),
  p50: median(results[mode].map((r) => r.p50)),
  p99: median(results[mode].map((r) => r.p99)),
});
const memory = summary('in memory');
const durable = summary('durable');
const table = new Table({ head: ['', 'in memory', 'durable', 'durable ÷ in memory', 'goal'] });
const within = (ratio: number, higherIsBetter: boolean) => (higherIsBetter ? ratio >= 0.8 : ratio <= 1.2) ? 'met' : 'NOT met';
const tRatio = durable.throughput / memory.throughput;
const p50Ratio = durable.p50 / memory.p50;
const p99Ratio = durable.p99 / memory.p99;
table.push(
  [`publish throughput (msg/s, ${MESSAGE_BYTES} B each)`, memory.throughput.toFixed(0), durable.throughput.toFixed(0), tRatio.toFixed(2), `≥ 0.80: ${within(tRatio, true)}`],
  ['publish latency p50 (ms)', memory.p50.toFixed(2), durable.p50.toFixed(2), p50Ratio.toFixed(2), `≤ 1.20: ${within(p50Ratio, false)}`],
  ['publish latency p99 (ms)', memory.p99.toFixed(2), durable.p99.toFixed(2), p99Ratio.toFixed(2), `≤ 1.20: ${within(p99Ratio, false)}`],
);
console.log(`\nPub/Sub emulator, durable vs in memory: medians of ${ROUNDS} alternating rounds, ${THROUGHPUT_MESSAGES} messages for throughput, ${LATENCY_SAMPLES} sequential publishes for latency`);
console.log(table.toString());
