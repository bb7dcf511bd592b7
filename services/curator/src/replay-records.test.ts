import { describe, expect, it } from 'vitest';
import { createRegistry, DEFAULT_EVENT_TIME_WINDOW, loadBundledSchemas, REDACTED, type LogTypeVersion } from '@strata/schemas';
import { keepProtected, markerName, mergeMarker, parseRecordFile, readReplayRequest, recordKey, revalidate, selectRecordFiles, type StoredRecord } from './replay-records.js';

const NOW = Date.parse('2026-03-02T12:00:00Z');
const HASH = `hmac:k1:${'a'.repeat(64)}`;

function signup(version: number, properties: Record<string, object> = {}): LogTypeVersion {
  return {
    logType: 'signup',
    version,
    schema: {
      'x-log-type': 'signup',
      'x-version': version,
      'x-unknown-properties': 'reject',
      type: 'object',
      required: ['event'],
      properties: { event: { enum: ['signed_up'] }, account: { type: 'string', maxLength: 128, 'x-pii': 'hash' }, ...properties },
    },
  };
}
const v1 = createRegistry([...loadBundledSchemas(), signup(1)]);
const v2 = createRegistry([...loadBundledSchemas(), signup(1), signup(2, { plan: { type: 'string' }, note: { type: 'string', 'x-pii': 'redact' } })]);
const ctx = (registry = v2) => ({ registry, nowMs: NOW, window: DEFAULT_EVENT_TIME_WINDOW });

/** A record as the writer files an event ingest rejected: the producer's object, with its log_type. */
function rejected(overrides: Partial<StoredRecord> = {}, data: Record<string, unknown> = {}): StoredRecord {
  return {
    reasons: [{ path: '/plan', message: 'is not a known field' }],
    attributes: { log_type: 'signup', kind: 'rejected', pii_protected: 'k1' },
    messageId: 'm1',
    publishTime: '2026-03-02T11:00:00.123456789Z',
    index: 0,
    event_id: 'e1',
    data: { log_type: 'signup', event: 'signed_up', ts: '2026-03-02T10:59:00Z', account: HASH, plan: 'pro', ...data },
    pii_protected: 'k1',
    ...overrides,
  };
}

describe('selectRecordFiles', () => {
  const objects = [
    'quarantine/log_type=signup/dt=2026-03-01/b.jsonl',
    'quarantine/log_type=signup/dt=2026-03-02/a.jsonl',
    'quarantine/log_type=_unknown/dt=2026-03-02/c.jsonl',
    'quarantine/log_type=user_action/dt=2026-03-02/d.jsonl',
    'quarantine/log_type=signup/dt=2026-03-02/notes.txt',
    'dead-letter/log_type=signup/dt=2026-03-02/e.jsonl',
  ].map((name, i) => ({ name, generation: String(i), size: 100 }));
  const names = (...args: Parameters<typeof selectRecordFiles>) => selectRecordFiles(...args).map((f) => f.name);

  it('reads the zone\'s JSON-lines files only, in name order', () => {
    expect(names('quarantine', objects)).toEqual([
      'quarantine/log_type=_unknown/dt=2026-03-02/c.jsonl',
      'quarantine/log_type=signup/dt=2026-03-01/b.jsonl',
      'quarantine/log_type=signup/dt=2026-03-02/a.jsonl',
      'quarantine/log_type=user_action/dt=2026-03-02/d.jsonl',
    ]);
    expect(names('dead-letter', objects)).toEqual(['dead-letter/log_type=signup/dt=2026-03-02/e.jsonl']);
  });

  it('keeps a log type\'s folder and _unknown (a log type published after its events came), and days from since on', () => {
    expect(names('quarantine', objects, { logType: 'signup', since: new Date('2026-03-02T08:00:00Z') })).toEqual([
      'quarantine/log_type=_unknown/dt=2026-03-02/c.jsonl',
      'quarantine/log_type=signup/dt=2026-03-02/a.jsonl',
    ]);
  });
});

describe('parseRecordFile and recordKey', () => {
  it('reads each line, says which cannot be read, and keys records by message and index, not line', () => {
    const lines = parseRecordFile(`${JSON.stringify(rejected())}\n\nnot json\n[1]\n${JSON.stringify(rejected({ index: 3 }))}\n`);
    expect(lines.map((l) => (l.ok ? recordKey(l.record, l.line) : l.reason))).toEqual([
      'm1#0',
      expect.stringMatching(/^the line is not JSON/),
      'the line is not a JSON object',
      'm1#3',
    ]);
  });
});

describe('revalidate', () => {
  it('turns a record that passes now into the event ingest would publish, keeping its id and mark', () => {
    const outcome = revalidate(rejected(), 'signup', ctx());
    expect(outcome).toEqual({
      ok: true,
      replay: {
        logType: 'signup',
        version: 2,
        eventId: 'e1',
        piiProtected: 'k1',
        event: { event_id: 'e1', event: 'signed_up', ts: '2026-03-02T10:59:00Z', account: HASH, plan: 'pro', received_at: '2026-03-02T11:00:00.123Z', schema_version: 2 },
      },
    });
  });

  it('keeps what the data has over what the record adds, and the version it names is replaced by the latest', () => {
    const outcome = revalidate(rejected({}, { event_id: 'own', received_at: '2026-03-02T10:59:30Z', schema_version: 1 }), 'signup', ctx());
    expect(outcome).toMatchObject({ ok: true, replay: { eventId: 'own', event: { event_id: 'own', received_at: '2026-03-02T10:59:30Z', schema_version: 2 } } });
  });

  it('says why a record still fails', () => {
    expect(revalidate(rejected(), 'signup', ctx(v1))).toEqual({ ok: false, logType: 'signup', reasons: [{ path: '/plan', message: 'is not a known field' }] });
    expect(revalidate(rejected({}, { ts: '2026-02-01T00:00:00Z' }), 'signup', ctx())).toMatchObject({ ok: false, reasons: [{ path: '/ts', message: expect.stringMatching(/more than 7 days before/) }] });
    expect(revalidate(rejected({ data: 'line text' }), 'signup', ctx())).toMatchObject({ ok: false, reasons: [{ message: expect.stringMatching(/no JSON event/) }] });
    expect(revalidate(rejected({ event_id: undefined }), 'signup', ctx())).toMatchObject({ ok: false, reasons: [{ path: '/event_id' }] });
    const unknown = rejected({ attributes: { log_type: '_unknown' } }, { log_type: 'nope' });
    expect(revalidate(unknown, '_unknown', ctx())).toMatchObject({ ok: false, logType: 'nope', reasons: [{ path: '/log_type', message: 'log type "nope" is not in the registry' }] });
  });

  it('finds the log type of an _unknown record in its data', () => {
    expect(revalidate(rejected({ attributes: { log_type: '_unknown' } }), '_unknown', ctx())).toMatchObject({ ok: true, replay: { logType: 'signup' } });
  });

  it('refuses a field the passing version hashes that was kept unhashed, and redacts what it redacts', () => {
    expect(revalidate(rejected({}, { account: 'acct-1' }), 'signup', ctx())).toMatchObject({
      ok: false,
      reasons: [{ path: '/account', message: expect.stringMatching(/declared x-pii "hash" by v2 but was kept unhashed/) }],
    });
    expect(revalidate(rejected({}, { note: 'call me' }), 'signup', ctx())).toMatchObject({ ok: true, replay: { event: { note: REDACTED } } });
    // Without the mark the writer protects it, as any unmarked message.
    expect(revalidate(rejected({ pii_protected: undefined }, { account: 'acct-1' }), 'signup', ctx())).toMatchObject({ ok: true, replay: { piiProtected: undefined, event: { account: 'acct-1' } } });
  });
});

describe('keepProtected', () => {
  it('drops, redacts nested fields without touching the input, and leaves hashes be', () => {
    const event = { a: { b: 'secret', c: 'x' }, d: 'gone', h: HASH };
    const rules = [
      { path: ['a', 'b'], action: 'redact' as const },
      { path: ['d'], action: 'drop' as const },
      { path: ['h'], action: 'hash' as const },
      { path: ['missing', 'x'], action: 'drop' as const },
    ];
    expect(keepProtected(event, rules, 3)).toEqual({ ok: true, event: { a: { b: REDACTED, c: 'x' }, h: HASH } });
    expect(event).toEqual({ a: { b: 'secret', c: 'x' }, d: 'gone', h: HASH });
  });
});

describe('markers', () => {
  it('live under replayed/, one per record file, and merge without repeating a record', () => {
    expect(markerName('quarantine/log_type=signup/dt=2026-03-02/a.jsonl')).toBe('replayed/quarantine/log_type=signup/dt=2026-03-02/a.jsonl.json');
    const first = mergeMarker(undefined, 'f', 'g1', [{ key: 'm1#0', event_id: 'e1', at: 't1' }]);
    expect(mergeMarker(first, 'f', 'g2', [{ key: 'm1#0', event_id: 'e1', at: 't2' }, { key: 'm1#1', event_id: 'e2', at: 't2' }])).toEqual({
      file: 'f',
      generation: 'g2',
      replayed: [
        { key: 'm1#0', event_id: 'e1', at: 't1' },
        { key: 'm1#1', event_id: 'e2', at: 't2' },
      ],
    });
  });
});

describe('readReplayRequest', () => {
  it('reads a zone, a log type, a day or a time, and dry run', () => {
    expect(readReplayRequest({ from: 'dead-letter' })).toEqual({ ok: true, request: { from: 'dead-letter', dryRun: false } });
    expect(readReplayRequest({ from: 'quarantine', logType: 'user_action', since: '2026-03-01', dryRun: true })).toEqual({
      ok: true,
      request: { from: 'quarantine', logType: 'user_action', since: new Date('2026-03-01T00:00:00Z'), dryRun: true },
    });
    expect(readReplayRequest({ from: 'quarantine', since: '2026-03-01T12:30:00+01:00' })).toMatchObject({ ok: true, request: { since: new Date('2026-03-01T11:30:00Z') } });
  });

  it.each([
    [{}, /from must be/],
    [{ from: 'events' }, /from must be/],
    [{ from: 'quarantine', log_type: 'x' }, /unknown field "log_type"/],
    [{ from: 'quarantine', logType: 'Bad Type' }, /logType must be/],
    [{ from: 'quarantine', since: '2026-03-01T12:00:00' }, /since must be/],
    [{ from: 'quarantine', since: '2026-13-45' }, /since must be/],
    [{ from: 'quarantine', dryRun: 'yes' }, /dryRun must be/],
  ])('refuses %j', (value, reason) => {
    expect(readReplayRequest(value)).toEqual({ ok: false, reason: expect.stringMatching(reason) });
  });
});
