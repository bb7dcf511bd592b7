/**
 * `npm run bench` (schemas): validated events per second on one core, for typical events of each
 * log type, against a baseline measured in the same run: JSON.parse of the same bytes. The ratio
 * is what validation costs on top of parsing, which stays meaningful on a noisy shared machine.
 */
import { createPiiPolicy, createRegistry, loadBundledSchemas, protectPii } from '../src/index.js';

const registry = createRegistry(loadBundledSchemas());
const pii = createPiiPolicy({ secret: 'bench-secret-0123456789' });
const EVENTS = 20_000;
const ROUNDS = 7;

const envelope = (i: number) => ({
  event_id: `01JD${String(i).padStart(22, '0')}`,
  ts: new Date(Date.UTC(2026, 10, 21, 10) + i * 1000).toISOString(),
  received_at: '2026-11-21T10:00:01.000Z',
  schema_version: 1,
  user_id: `user-${i % 977}`,
  session_id: `s-${i % 131}`,
  source: 'web',
  context: { user_agent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36', locale: 'de-DE', ip: '203.0.113.7', page: { url: `https://shop.example/p/${i}`, title: 'Blue mug' } },
});

const typical: Record<string, (i: number) => Record<string, unknown>> = {
  user_action: (i) => ({ ...envelope(i), schema_version: 2, event: 'add_to_cart', page_url: `https://shop.example/p/${i}`, product_id: `p-${i % 5000}`, cart_id: `c-${i % 300}`, price: 12.5 + (i % 10), currency: 'EUR', quantity: 1 + (i % 3), list_id: 'search', position: i % 40 }),
  seller_action: (i) => ({ ...envelope(i), event: 'package_status_updated', seller_id: `s-${i % 90}`, package_id: `pk-${i}`, from_status: 'packed', to_status: 'in_transit' }),
  order_event: (i) => ({ ...envelope(i), event: 'order_paid', order_id: `o-${i}`, amount: 99.9, currency: 'EUR', item_count: 3, payment_method: 'card', customer_email: `buyer${i}@example.com` }),
  impression: (i) => ({ ...envelope(i), event: 'impression', publisher_id: `pub-${i % 40}`, page_url: 'https://blog.example/post', link_url: `https://shop.example/p/${i}`, placement: 'widget', visible_ratio: 0.75, visible_ms: 1200 }),
};

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function time(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

const rows: Array<Record<string, string>> = [];
for (const [logType, make] of Object.entries(typical)) {
  const lines = Array.from({ length: EVENTS }, (_, i) => JSON.stringify(make(i)));
  const version = registry.latestVersion(logType);
  const plan = registry.pii(logType, version)!;
  // Every event must be valid, or the benchmark measures the error path.
  for (const line of lines.slice(0, 100)) {
    const r = registry.validate(logType, version, JSON.parse(line));
    if (!r.ok) throw new Error(`${logType}: benchmark event is invalid: ${JSON.stringify(r.errors)}`);
  }
  const parse: number[] = [];
  const validate: number[] = [];
  const full: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    parse.push(time(() => { for (const line of lines) JSON.parse(line); }));
    validate.push(time(() => { for (const line of lines) registry.validate(logType, version, JSON.parse(line)); }));
    full.push(time(() => {
      for (const line of lines) {
        const r = registry.validate(logType, version, JSON.parse(line));
        if (r.ok) protectPii(r.event, plan, pii);
      }
    }));
  }
  const [p, v, f] = [median(parse), median(validate), median(full)];
  const bytes = lines.reduce((n, l) => n + l.length, 0) / lines.length;
  // Validation alone: the same loop's time less the parse it includes.
  const validateOnly = EVENTS / Math.max(v - p, 1e-9);
  rows.push({
    'log type': logType,
    'bytes/event': bytes.toFixed(0),
    'JSON.parse ev/s': Math.round(EVENTS / p).toLocaleString('en'),
    'parse+validate ev/s': Math.round(EVENTS / v).toLocaleString('en'),
    'validate only ev/s': Math.round(validateOnly).toLocaleString('en'),
    '+PII ev/s': Math.round(EVENTS / f).toLocaleString('en'),
    '(parse+validate)/parse': (v / p).toFixed(2) + '×',
    'validate ≥200k/core': validateOnly >= 200_000 ? 'met' : 'MISSED',
  });
}
console.log(`Validation throughput on one core (${EVENTS.toLocaleString('en')} events × ${ROUNDS} rounds, median; baseline JSON.parse of the same bytes)`);
console.table(rows);
