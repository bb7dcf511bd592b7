import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { captureLogs, signalGaps } from './signals-testing.js';
import { readSignal, SIGNAL_NAMES, SIGNALS, signal, signalProblems, signalsMarkdown, signalsOf, type SignalDeclaration } from './signals.js';

const flushed = { log_type: 'user_action', rows: 3, bytes: 1200, flushLatencyMs: 812.5 };

describe('signal()', () => {
  it('logs the declared message at the declared level, with the name and the fields', () => {
    const { logger, lines } = captureLogs('writer');
    signal(logger, 'writer.partition_flushed', flushed, { object: 'events/a.parquet' });
    expect(lines).toEqual([expect.objectContaining({ severity: 'INFO', service: 'writer', message: 'partition flushed', signal: 'writer.partition_flushed', ...flushed, object: 'events/a.parquet' })]);
    expect(signalProblems(lines[0]!)).toEqual([]);
  });

  it('logs error-level signals as errors', () => {
    const { logger, lines } = captureLogs('curator');
    signal(logger, 'curator.day_failed', { day: 'user_action/2025-03-01', reason: 'corrupt file' });
    expect(lines[0]).toMatchObject({ severity: 'ERROR', message: 'day not curated; retried next run', signal: 'curator.day_failed' });
  });

  it('never lets context override a declared field or the name', () => {
    const { logger, lines } = captureLogs('writer');
    signal(logger, 'writer.quarantined', { log_type: 'user_action', count: 2 }, { count: 'many', signal: 'nope', object: 'o' });
    expect(lines[0]).toMatchObject({ count: 2, signal: 'writer.quarantined', object: 'o' });
  });

  it('type-checks the fields against the declaration (npm run typecheck fails on each line below otherwise)', () => {
    const { logger, lines } = captureLogs('writer');
    // Never called: these lines are for the compiler.
    const wrong = () => {
      // @ts-expect-error flushLatencyMs is declared and missing
      signal(logger, 'writer.partition_flushed', { log_type: 'user_action', rows: 3, bytes: 1200 });
      // @ts-expect-error rows is a number
      signal(logger, 'writer.partition_flushed', { ...flushed, rows: '3' });
      // @ts-expect-error no such signal
      signal(logger, 'writer.files_written', flushed);
      // @ts-expect-error quarantined is a boolean
      signal(logger, 'ingest.events_rejected', { rejected: 1, quarantined: 'yes' });
    };
    expect(wrong).toBeTypeOf('function');
    expect(lines).toEqual([]);
  });
});

describe('reading signals back', () => {
  const line = { service: 'writer', message: 'partition flushed', signal: 'writer.partition_flushed', ...flushed };

  it('names every field that is missing or of another type, and a wrong service or message', () => {
    expect(signalProblems({ ...line, rows: 2.5, bytes: undefined, log_type: 7 })).toEqual([
      'writer.partition_flushed.log_type: 7 is not a string',
      'writer.partition_flushed.rows: 2.5 is not an integer',
      'writer.partition_flushed.bytes: missing',
    ]);
    expect(signalProblems({ ...line, service: 'ingest', message: 'flushed' })).toEqual([
      'writer.partition_flushed: emitted by ingest, declared for writer',
      'writer.partition_flushed: message "flushed", declared "partition flushed"',
    ]);
    expect(signalProblems({ ...line, signal: 'writer.rows' })).toEqual(['"writer.rows" is not a declared signal']);
  });

  it('reads a declared signal with its fields, and nothing from other lines', () => {
    const entry = readSignal(line);
    expect(entry).toMatchObject({ name: 'writer.partition_flushed', fields: flushed });
    if (entry?.name === 'writer.partition_flushed') expect(entry.fields.rows + 1).toBe(4); // typed by its name
    expect(readSignal({ message: 'partition flushed', rows: 3 })).toBeUndefined();
    expect(readSignal({ ...line, rows: 'three' })).toBeUndefined();
  });
});

describe('signalGaps()', () => {
  it('lists each declared signal of the service not emitted, and each emitted one not as declared', () => {
    const { logger, lines } = captureLogs('writer');
    signal(logger, 'writer.partition_flushed', flushed);
    lines.push({ service: 'writer', message: 'quarantined', signal: 'writer.quarantined', log_type: 'user_action' });
    expect(signalGaps('writer', lines)).toEqual(['writer.quarantined.count: missing', 'writer.dead_letters_filed: not emitted ("dead letters filed")']);
  });
});

describe('the declaration', () => {
  it('names each signal <service>.<what_happened>, with one message per signal within its service', () => {
    for (const name of SIGNAL_NAMES) {
      const declared: SignalDeclaration = SIGNALS[name];
      expect(name).toMatch(new RegExp(`^${declared.service}\\.[a-z]+(_[a-z]+)*$`));
      expect(Object.keys(declared.fields).length).toBeGreaterThan(0);
      for (const [field, f] of Object.entries(declared.fields)) {
        expect(field, name).not.toMatch(/^(signal|message|service|severity|time)$/); // the line's own keys
        if (f.unit) expect(f.type, `${name}.${field}`).toMatch(/^(integer|number)$/);
      }
    }
    for (const service of ['ingest', 'writer', 'curator'] as const) {
      const messages = signalsOf(service).map((n) => SIGNALS[n].message);
      expect(new Set(messages).size).toBe(messages.length);
    }
  });

  it("is documented in the README's table, as generated", () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(signalsMarkdown());
  });
});
