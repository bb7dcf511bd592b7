import { isMainThread } from 'node:worker_threads';
import { BatchEncodeError, encodeBatches, UNKNOWN_LOG_TYPE, type FieldError, type RejectedLine } from '@strata/schemas';
import type { PreparedEvent, RejectedEvent } from './prepare.js';
import type { EventPublisher } from './publisher.js';

/** The `source` attribute of everything ingest publishes. */
export const INGEST_SOURCE = 'ingest';

export type PublishReport =
  /** Every event, accepted or rejected, is durable in Pub/Sub. */
  | { kind: 'published'; messages: number }
  /** Some or all messages were refused; `unpublished` are request indexes, in order. */
  | { kind: 'partial'; messages: number; failedMessages: number; unpublished: number[]; error: unknown };

/** A batch message ready to publish, with the request indexes of the events it carries. */
export interface EncodedMessage {
  data: Uint8Array;
  attributes: Record<string, string>;
  carried: number[];
}

export type EncodeResult =
  | { ok: true; messages: EncodedMessage[] }
  /** An event no Pub/Sub message can carry. */
  | { ok: false; errors: Array<FieldError & { index: number }> };

interface Group {
  logType: string;
  kind: 'events' | 'rejected';
  lines: Record<string, unknown>[];
  /** Request index of each line. */
  indexes: number[];
}

/**
 * A request's events → one batch message per log type (split by size, see BATCH_LIMITS), and its
 * rejected events → one "rejected" message per log type, which the writer files in quarantine.
 * Events keep their request order within each message. Every message is marked `pii_protected`:
 * ingest builds the attributes itself, so a producer cannot set the mark. Pure (no I/O), so it
 * can run on a worker thread with prepare (prepare-batch.ts).
 */
export async function encodeMessages(events: PreparedEvent[], rejected: RejectedEvent[], piiKeyId: string): Promise<EncodeResult> {
  const groups = new Map<string, Group>();
  const add = (kind: Group['kind'], logType: string, line: Record<string, unknown>, index: number) => {
    const key = `${kind}/${logType}`;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { logType, kind, lines: [], indexes: [] }));
    group.lines.push(line);
    group.indexes.push(index);
  };
  for (const e of events) add('events', e.logType, e.event, e.index);
  for (const r of rejected) {
    const line: RejectedLine = { reasons: r.errors, index: r.index, data: r.data, ...(r.eventId ? { event_id: r.eventId } : {}) };
    add('rejected', r.logType ?? UNKNOWN_LOG_TYPE, line as unknown as Record<string, unknown>, r.index);
  }

  const messages: EncodedMessage[] = [];
  for (const group of groups.values()) {
    try {
      // Every line was PII-protected by prepare: the mark (with the key id) tells the writer not to hash again.
      // On a prepare-pool worker gzip runs on the worker itself; on the request's thread, on libuv's pool.
      for (const message of await encodeBatches(group.logType, group.lines, { source: INGEST_SOURCE, kind: group.kind, piiProtected: piiKeyId, gzipOnThread: !isMainThread })) {
        messages.push({ data: message.data, attributes: message.attributes, carried: message.indexes.map((i) => group.indexes[i]!) });
      }
    } catch (err) {
      if (!(err instanceof BatchEncodeError)) throw err;
      return { ok: false, errors: [{ index: group.indexes[err.index]!, path: '', message: err.message }] };
    }
  }
  return { ok: true, messages };
}

/** Encoded messages → Pub/Sub; on a partial failure, which request indexes are not durable. */
export async function publishMessages(messages: EncodedMessage[], publisher: EventPublisher): Promise<PublishReport> {
  const outcomes = await publisher.publish(messages.map((m) => ({ data: Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength), attributes: m.attributes })));
  const failed = outcomes.flatMap((o, i) => (o.ok ? [] : [i]));
  if (failed.length === 0) return { kind: 'published', messages: messages.length };
  const first = outcomes[failed[0]!]!;
  return {
    kind: 'partial',
    messages: messages.length,
    failedMessages: failed.length,
    unpublished: failed.flatMap((i) => messages[i]!.carried).sort((a, b) => a - b),
    error: first.ok ? undefined : first.error,
  };
}
