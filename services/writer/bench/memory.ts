/**
 * `npm run bench -w @strata/writer` (second table): the writer's peak RSS per buffered MB.
 *
 * MAX_BUFFERED_BYTES bounds the JSON bytes the writer holds; what an instance needs in memory is
 * that times the cost of holding them (parsed events, then Arrow columns, wasm memory and the
 * Parquet bytes while a file uploads). Each level runs in a fresh process so peaks do not mix: it
 * builds the real lake writer over a store whose uploads never finish, admits realistic batch
 * messages until the buffer refuses (429), and reads the peak RSS (VmHWM) against the same
 * process's RSS before the first event, the baseline measured in the same run. The process runs with
 * the young-heap size the writer runs with (WRITER_NODE_OPTIONS, src/node-options.ts).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@strata/runtime';
import { createPiiPolicy, createRegistry, DEFAULT_EVENT_TIME_WINDOW, encodeBatches, loadBundledSchemas } from '@strata/schemas';
import { admitMessage } from '../src/admit.js';
import { createLakeWriter } from '../src/lake-writer.js';
import { WRITER_NODE_OPTIONS } from '../src/node-options.js';
import type { PushMessage } from '../src/push-message.js';

const MiB = 1024 * 1024;

function peakRss(): number {
  const status = readFileSync('/proc/self/status', 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

const EVENTS = ['page_view', 'product_view', 'search', 'add_to_cart', 'remove_from_cart', 'checkout_started'];

function event(i: number): Record<string, unknown> {
  return {
    event_id: `01JD${String(i).padStart(22, '0')}`,
    event: EVENTS[i % EVENTS.length],
    ts: new Date(Date.UTC(2026, 10, 21, 10) + (i % 3_600_000)).toISOString(),
    received_at: '2026-11-21T11:00:00.000Z',
    schema_version: 2,
    user_id: `user-${i % 5000}`,
    session_id: `session-${i % 20_000}`,
    source: 'web',
    context: { user_agent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36', locale: 'de-DE', page: { url: `https://shop.example/p/${i % 900}`, title: 'Blue mug' } },
    page_url: `https://shop.example/p/${i % 900}`,
    product_id: `p-${i % 900}`,
    price: (i % 5000) / 100,
    currency: 'EUR',
    quantity: 1 + (i % 3),
  };
}

async function child(targetMb: number): Promise<void> {
  const registry = createRegistry(loadBundledSchemas());
  // The events are from 2026-11-21 and published then: inside the window.
  const rules = { pii: createPiiPolicy({ secret: 'bench-secret-0123456789' }), window: DEFAULT_EVENT_TIME_WINDOW };
  // Uploads never finish: everything admitted stays held, as when GCS is slow under load.
  const store = { put: () => new Promise<void>(() => {}) };
  const writer = createLakeWriter({
    store,
    registry,
    logger: createLogger({ service: 'writer', level: 'silent' }),
    limits: { maxRows: 50_000, maxBytes: 32 * MiB, maxAgeMs: 60_000, quietMs: 0, maxBufferedBytes: targetMb * MiB, maxOpenBatches: 64 },
  });
  const messages: PushMessage[] = [];
  for (let m = 0; m < 20; m++) {
    const [batch] = await encodeBatches('user_action', Array.from({ length: 100 }, (_, i) => event(m * 100 + i)), { source: 'bench' });
    messages.push({ messageId: `m${m}`, publishTime: '2026-11-21T11:00:00Z', attributes: batch!.attributes, rawData: '', data: batch!.data, subscription: undefined, deliveryAttempt: 1 });
  }
  global.gc?.();
  const baseline = process.memoryUsage().rss;
  let n = 0;
  for (;;) {
    const admissions = await admitMessage(registry, messages[n % messages.length]!, rules);
    if (!writer.write(admissions).ok) break;
    n += 1;
  }
  const { bytes } = writer.stats();
  console.log(JSON.stringify({ targetMb, bufferedMb: bytes / MiB, baselineMb: baseline / MiB, peakMb: peakRss() / MiB, events: n * 100 }));
  process.exit(0);
}

// A bench is its own entry point; its one knob is read here.
// eslint-disable-next-line no-restricted-properties
const levels = (process.env.BENCH_BUFFER_MB ?? '16,64,128').split(',').map(Number);
if (process.argv[2] === 'child') {
  await child(Number(process.argv[3]));
} else {
  const self = fileURLToPath(import.meta.url);
  const rows = levels.map((mb) => JSON.parse(execFileSync(process.execPath, [WRITER_NODE_OPTIONS, '--import', 'tsx', '--expose-gc', self, 'child', String(mb)], { encoding: 'utf8' }).trim().split('\n').at(-1)!) as Record<string, number>);
  console.log('\nWriter memory: peak RSS while MAX_BUFFERED_BYTES are held (uploads stalled), vs the same process before any event\n');
  console.log('| MAX_BUFFERED_BYTES | held (MB of JSON) | events held | RSS before (MB) | peak RSS (MB) | peak RSS − before, per buffered MB |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    console.log(`| ${r.targetMb} MiB | ${r.bufferedMb!.toFixed(1)} | ${r.events} | ${r.baselineMb!.toFixed(0)} | ${r.peakMb!.toFixed(0)} | ${((r.peakMb! - r.baselineMb!) / r.bufferedMb!).toFixed(2)}× |`);
  }
}
