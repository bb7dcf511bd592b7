import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '@strata/runtime';
import { createRegistry, decodeBatch, DEFAULT_EVENT_TIME_WINDOW, loadBundledSchemas, type LogTypeVersion, type Registry } from '@strata/schemas';
import { createMemoryLake, type MemoryLake } from './lake-store.js';
import { createReplayer, type ReplayDeps } from './replay.js';
import { FakeReplayPublisher } from './replay-publisher.fake.js';
import type { StoredRecord } from './replay-records.js';

const NOW = Date.parse('2026-03-02T12:00:00Z');
const HASH = `hmac:k1:${'b'.repeat(64)}`;
const FILE_A = 'quarantine/log_type=signup/dt=2026-03-02/a.jsonl';
const FILE_B = 'quarantine/log_type=signup/dt=2026-03-02/b.jsonl';

function signup(version: number, properties: Record<string, object> = {}): LogTypeVersion {
  return {
    logType: 'signup',
    version,
    schema: { 'x-log-type': 'signup', 'x-version': version, 'x-unknown-properties': 'reject', type: 'object', required: ['event'], properties: { event: { enum: ['signed_up'] }, account: { type: 'string', maxLength: 128, 'x-pii': 'hash' }, ...properties } },
  };
}
const before = createRegistry([...loadBundledSchemas(), signup(1)]);
const after = createRegistry([...loadBundledSchemas(), signup(1), signup(2, { plan: { type: 'string' } })]);

function record(messageId: string, index: number, eventId: string, data: Record<string, unknown> = {}): StoredRecord {
  return {
    reasons: [{ path: '/plan', message: 'is not a known field' }],
    attributes: { log_type: 'signup', kind: 'rejected', pii_protected: 'k1' },
    messageId,
    publishTime: '2026-03-02T11:00:00Z',
    index,
    event_id: eventId,
    data: { log_type: 'signup', event: 'signed_up', ts: '2026-03-02T10:59:00Z', account: HASH, plan: 'pro', ...data },
    pii_protected: 'k1',
  };
}
const jsonLines = (records: StoredRecord[]) => new TextEncoder().encode(records.map((r) => `${JSON.stringify(r)}\n`).join(''));

describe('replay', () => {
  let lake: MemoryLake;
  let publisher: FakeReplayPublisher;
  let registry: Registry;
  let workDir: string;
  const replayer = (overrides: Partial<ReplayDeps> = {}) =>
    createReplayer({
      lake,
      registry: async () => registry,
      publisher,
      workDir,
      eventWindow: DEFAULT_EVENT_TIME_WINDOW,
      downloadConcurrency: 2,
      logger: createLogger({ service: 'curator', level: 'silent' }),
      now: () => NOW,
      ...overrides,
    });
  /** The events published, decoded, with each message's attributes. */
  const sent = async () =>
    Promise.all(
      publisher.published.map(async (m) => {
        const decoded = await decodeBatch(m.attributes, m.data);
        if (!decoded.ok) throw new Error(decoded.reason);
        return { attributes: m.attributes, events: decoded.lines.map((l) => (l.ok ? (l.value as Record<string, unknown>) : undefined)) };
      }),
    );

  beforeEach(async () => {
    lake = createMemoryLake();
    publisher = new FakeReplayPublisher();
    registry = after;
    workDir = await mkdtemp(join(tmpdir(), 'strata-replay-'));
    lake.put(FILE_A, jsonLines([record('m1', 0, 'e1'), record('m1', 1, 'e2'), record('m1', 2, 'bad', { event: 'signed_out' })]));
  });
  afterEach(async () => {
    await rm(workDir, { recursive: true, force: true });
  });

  it('publishes what passes now as ingest would, marks it, and a second run sends nothing again', async () => {
    const report = await replayer().replay({ from: 'quarantine' });
    expect(report).toMatchObject({ files: 1, records: 3, passed: 2, replayed: 2, eventsPublished: 2, messages: 1, stillFailing: 1, alreadyReplayed: 0, errors: [] });
    expect(report.failures).toEqual([{ file: FILE_A, line: 2, event_id: 'bad', log_type: 'signup', reasons: [{ path: '/event', message: 'must be one of "signed_up"' }] }]);
    const [message] = await sent();
    expect(message!.attributes).toEqual({ log_type: 'signup', schema_version: '2', event_count: '2', encoding: 'ndjson', source: 'curator-replay', pii_protected: 'k1' });
    expect(message!.events).toEqual([
      { event_id: 'e1', event: 'signed_up', ts: '2026-03-02T10:59:00Z', account: HASH, plan: 'pro', received_at: '2026-03-02T11:00:00.000Z', schema_version: 2 },
      expect.objectContaining({ event_id: 'e2' }),
    ]);
    const marker = JSON.parse(new TextDecoder().decode(lake.read(`replayed/${FILE_A}.json`)));
    expect(marker).toEqual({
      file: FILE_A,
      generation: expect.any(String),
      replayed: [
        { key: 'm1#0', event_id: 'e1', at: '2026-03-02T12:00:00.000Z' },
        { key: 'm1#1', event_id: 'e2', at: '2026-03-02T12:00:00.000Z' },
      ],
    });

    const again = await replayer().replay({ from: 'quarantine' });
    expect(again).toMatchObject({ records: 3, alreadyReplayed: 2, passed: 0, replayed: 0, messages: 0, stillFailing: 1 });
    expect(publisher.published).toHaveLength(1);
  });

  it('replays nothing before the fix, and everything it marks only after', async () => {
    registry = before;
    expect(await replayer().replay({ from: 'quarantine' })).toMatchObject({ passed: 0, stillFailing: 3 });
    expect(lake.read(`replayed/${FILE_A}.json`)).toBeUndefined();
    registry = after;
    expect(await replayer().replay({ from: 'quarantine' })).toMatchObject({ passed: 2, replayed: 2 });
  });

  it('in a dry run, reports what would pass and publishes and marks nothing', async () => {
    expect(await replayer().replay({ from: 'quarantine', dryRun: true })).toMatchObject({ dryRun: true, passed: 2, replayed: 0, messages: 0 });
    expect(publisher.published).toEqual([]);
    expect(lake.read(`replayed/${FILE_A}.json`)).toBeUndefined();
  });

  it('marks nothing Pub/Sub refused, so the next run sends it again', async () => {
    publisher.refuse = true;
    const refused = await replayer().replay({ from: 'quarantine' });
    expect(refused).toMatchObject({ passed: 2, replayed: 0, eventsPublished: 0, errors: [{ reason: expect.stringMatching(/Pub\/Sub refused it/) }] });
    expect(lake.read(`replayed/${FILE_A}.json`)).toBeUndefined();
    publisher.refuse = false;
    expect(await replayer().replay({ from: 'quarantine' })).toMatchObject({ passed: 2, replayed: 2, errors: [] });
  });

  it('sends an event kept twice (a message filed twice) once, and marks both records', async () => {
    lake.put(FILE_B, jsonLines([record('m1', 0, 'e1')]));
    const report = await replayer().replay({ from: 'quarantine' });
    expect(report).toMatchObject({ passed: 3, replayed: 3, eventsPublished: 2 });
    expect((await sent()).flatMap((m) => m.events.map((e) => e!.event_id))).toEqual(['e1', 'e2']);
    expect(JSON.parse(new TextDecoder().decode(lake.read(`replayed/${FILE_B}.json`))).replayed).toEqual([expect.objectContaining({ key: 'm1#0' })]);
  });

  it('replays in rounds of whole files: each round is published and marked before the next is read, an event sent once', async () => {
    const FILE_C = 'quarantine/log_type=signup/dt=2026-03-02/c.jsonl';
    lake.put(FILE_B, jsonLines([record('m1', 0, 'e1'), record('m2', 0, 'e3')]));
    lake.put(FILE_C, jsonLines([record('m3', 0, 'e4')]));
    let markersSeenAtPublish: number[] = [];
    const publish = publisher.publish.bind(publisher);
    // What the lake holds when each round publishes: the earlier rounds' markers must be there already.
    publisher.publish = async (messages) => {
      markersSeenAtPublish.push([FILE_A, FILE_B, FILE_C].filter((f) => lake.read(`replayed/${f}.json`) !== undefined).length);
      return publish(messages);
    };
    const report = await replayer({ roundBytes: 1 }).replay({ from: 'quarantine' });
    expect(report).toMatchObject({ files: 3, passed: 5, replayed: 5, eventsPublished: 4, messages: 3, stillFailing: 1, errors: [] });
    expect(publisher.calls).toEqual([1, 1, 1]);
    expect(markersSeenAtPublish).toEqual([0, 1, 2]);
    // e1 is in a and b: sent with a, and b's record of it marked without sending it again.
    expect((await sent()).flatMap((m) => m.events.map((e) => e!.event_id))).toEqual(['e1', 'e2', 'e3', 'e4']);
    expect(JSON.parse(new TextDecoder().decode(lake.read(`replayed/${FILE_B}.json`))).replayed.map((r: { key: string }) => r.key)).toEqual(['m1#0', 'm2#0']);
    // A rerun finds every record marked: no round publishes.
    markersSeenAtPublish = [];
    expect(await replayer({ roundBytes: 1 }).replay({ from: 'quarantine' })).toMatchObject({ alreadyReplayed: 5, passed: 0, messages: 0 });
    expect(markersSeenAtPublish).toEqual([]);
  });

  it('keeps its marks when an erasure rewrites the file, and adds to the marker what a later run sends', async () => {
    registry = before;
    lake.put(FILE_A, jsonLines([record('m1', 0, 'e1'), record('m1', 1, 'e2', { plan: undefined })]));
    expect(await replayer().replay({ from: 'quarantine' })).toMatchObject({ replayed: 1 });
    // An erasure took another record out: lines moved, the marks did not.
    lake.put(FILE_A, jsonLines([record('m1', 1, 'e2', { plan: undefined }), record('m1', 5, 'e5', { plan: undefined })]));
    expect(await replayer().replay({ from: 'quarantine' })).toMatchObject({ records: 2, alreadyReplayed: 1, replayed: 1 });
    expect(JSON.parse(new TextDecoder().decode(lake.read(`replayed/${FILE_A}.json`))).replayed.map((r: { key: string }) => r.key)).toEqual(['m1#1', 'm1#5']);
  });

  it('selects by log type and since, record by record', async () => {
    lake.put(FILE_B, jsonLines([{ ...record('m2', 0, 'old'), publishTime: '2026-03-02T01:00:00Z' }, record('m2', 1, 'new')]));
    const report = await replayer().replay({ from: 'quarantine', logType: 'signup', since: new Date('2026-03-02T10:00:00Z') });
    expect(report).toMatchObject({ files: 2, records: 4, passed: 3 });
    expect((await sent()).flatMap((m) => m.events.map((e) => e!.event_id)).sort()).toEqual(['e1', 'e2', 'new']);
    expect(await replayer().replay({ from: 'quarantine', logType: 'user_action' })).toMatchObject({ files: 0, records: 0 });
  });

  it('merges with a marker another replay wrote meanwhile', async () => {
    let raced = false;
    const racing: MemoryLake = {
      ...lake,
      async create(name, sourcePath, contentType) {
        if (!raced && name.startsWith('replayed/')) {
          raced = true;
          lake.put(name, new TextEncoder().encode(JSON.stringify({ file: FILE_A, generation: 'x', replayed: [{ key: 'other#9', event_id: 'o', at: 't' }] })));
        }
        return lake.create(name, sourcePath, contentType);
      },
    };
    expect(await replayer({ lake: racing }).replay({ from: 'quarantine' })).toMatchObject({ replayed: 2, errors: [] });
    expect(JSON.parse(new TextDecoder().decode(lake.read(`replayed/${FILE_A}.json`))).replayed.map((r: { key: string }) => r.key)).toEqual(['other#9', 'm1#0', 'm1#1']);
  });
});
