import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BATCH_LIMITS, decodeBatch, encodeBatches, type BatchLine } from './batch-message.js';

const event = (i: number, extra: Record<string, unknown> = {}) => ({
  event_id: `e-${i}`,
  event: 'page_view',
  ts: '2026-11-21T10:00:00Z',
  schema_version: 2,
  page_url: `https://shop.example/p/${i}`,
  ...extra,
});

const values = (lines: BatchLine[]) => lines.map((l) => (l.ok ? l.value : l.reason));

describe('encodeBatches', () => {
  it('packs events of one log type into one gzip NDJSON message with routing attributes', async () => {
    const events = Array.from({ length: 200 }, (_, i) => event(i));
    const [message, ...rest] = await encodeBatches('user_action', events, { source: 'ingest' });
    expect(rest).toEqual([]);
    expect(message!.attributes).toEqual({ log_type: 'user_action', event_count: '200', encoding: 'ndjson+gzip', source: 'ingest', schema_version: '2' });
    expect(message!.indexes).toEqual(events.map((_, i) => i));
    const decoded = await decodeBatch(message!.attributes, message!.data);
    expect(decoded.ok && values(decoded.lines)).toEqual(events);
  });

  it('leaves small messages uncompressed and omits schema_version when events differ', async () => {
    const [message] = await encodeBatches('user_action', [event(1), event(2, { schema_version: 1 })], { source: 'svc' });
    expect(message!.attributes.encoding).toBe('ndjson');
    expect(message!.attributes).not.toHaveProperty('schema_version');
    expect(message!.data.toString()).toBe(`${JSON.stringify(event(1))}\n${JSON.stringify(event(2, { schema_version: 1 }))}\n`);
  });

  it('splits by bytes and by count, keeping order', async () => {
    const events = Array.from({ length: 50 }, (_, i) => event(i, { pad: 'x'.repeat(1000) }));
    const bySize = await encodeBatches('user_action', events, { source: 's', targetBytes: 10_000 });
    expect(bySize.length).toBeGreaterThan(4);
    expect(bySize.flatMap((m) => m.indexes)).toEqual(events.map((_, i) => i));
    for (const m of bySize) expect(m.indexes.length).toBeLessThanOrEqual(10);
    const byCount = await encodeBatches('user_action', events, { source: 's', maxEvents: 20 });
    expect(byCount.map((m) => m.attributes.event_count)).toEqual(['20', '20', '10']);
  });

  it('counts bytes, not UTF-16 units, against the target', async () => {
    const events = Array.from({ length: 4 }, (_, i) => event(i, { title: 'ü'.repeat(400) }));
    // Each line is ~900 bytes but ~500 UTF-16 units: two per 2,000-byte message, not four.
    const messages = await encodeBatches('user_action', events, { source: 's', targetBytes: 2000, gzip: false });
    expect(messages.map((m) => m.indexes.length)).toEqual([2, 2]);
  });
});

describe('decodeBatch', () => {
  it('reads a single JSON event when no encoding is given (what direct publishers send)', async () => {
    const decoded = await decodeBatch({ log_type: 'user_action' }, Buffer.from(JSON.stringify(event(1))));
    expect(decoded).toMatchObject({ ok: true, encoding: 'json' });
    expect(decoded.ok && values(decoded.lines)).toEqual([event(1)]);
  });

  it('keeps good lines when one line is not JSON, and skips blank and CRLF endings', async () => {
    const data = Buffer.from(`${JSON.stringify(event(1))}\r\n{oops\n\n${JSON.stringify(event(3))}\n`);
    const decoded = await decodeBatch({ log_type: 'user_action', encoding: 'ndjson', event_count: '3' }, data);
    if (!decoded.ok) throw new Error(decoded.reason);
    expect(decoded.lines.map((l) => l.ok)).toEqual([true, false, true]);
    expect(decoded.lines[1]).toMatchObject({ ok: false, text: '{oops', reason: expect.stringMatching(/JSON/) });
  });

  it('refuses whole messages it cannot read, naming why', async () => {
    const ndjson = Buffer.from(`${JSON.stringify(event(1))}\n`);
    const cases: Array<[Record<string, string>, Buffer, RegExp]> = [
      [{ encoding: 'avro' }, ndjson, /encoding must be one of json, ndjson, ndjson\+gzip, got "avro"/],
      [{ encoding: 'ndjson', event_count: '2' }, ndjson, /event_count is 2, but data holds 1 events/],
      [{ encoding: 'ndjson', event_count: '-1' }, ndjson, /event_count must be a positive integer/],
      [{ encoding: 'ndjson+gzip' }, ndjson, /data is not valid gzip/],
      [{ encoding: 'ndjson' }, Buffer.from([0xc3, 0x28]), /data is not UTF-8/],
      [{ encoding: 'ndjson' }, Buffer.from('\n\n'), /data holds no events/],
      [{}, Buffer.from('{"a":1}\n{"b":2}\n'), /data is not JSON \(a batch of many events needs attribute encoding=ndjson\)/],
    ];
    for (const [attributes, data, reason] of cases) {
      const decoded = await decodeBatch(attributes, data);
      expect(decoded.ok, JSON.stringify(attributes)).toBe(false);
      if (!decoded.ok) expect(decoded.reason).toMatch(reason);
    }
  });

  it('stops inflating a gzip bomb at the decoded-size limit', async () => {
    const bomb = gzipSync(Buffer.alloc(BATCH_LIMITS.maxDecodedBytes + 1024, 0x20));
    expect(bomb.length).toBeLessThan(100_000);
    const decoded = await decodeBatch({ encoding: 'ndjson+gzip' }, bomb);
    expect(decoded).toEqual({ ok: false, reason: `data inflates to more than ${BATCH_LIMITS.maxDecodedBytes} bytes` });
  });
});
