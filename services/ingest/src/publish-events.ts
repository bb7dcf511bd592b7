import { BatchEncodeError, encodeBatches, type FieldError } from '@strata/schemas';
import type { PreparedEvent } from './prepare.js';
import type { EventPublisher } from './publisher.js';

/** The `source` attribute of everything ingest publishes. */
export const INGEST_SOURCE = 'ingest';

export type PublishReport =
  /** Every event is durable in Pub/Sub. */
  | { kind: 'published'; messages: number }
  /** Some or all messages were refused; `unpublished` are request indexes, in order. */
  | { kind: 'partial'; messages: number; failedMessages: number; unpublished: number[]; error: unknown }
  /** An event no Pub/Sub message can carry. */
  | { kind: 'too_large'; errors: Array<FieldError & { index: number }> };

/**
 * A request's events → one batch message per log type (split by size, see BATCH_LIMITS) → Pub/Sub.
 * Events keep their request order within each message.
 */
export async function publishEvents(events: PreparedEvent[], publisher: EventPublisher): Promise<PublishReport> {
  const byLogType = new Map<string, PreparedEvent[]>();
  for (const e of events) {
    const group = byLogType.get(e.logType);
    if (group) group.push(e);
    else byLogType.set(e.logType, [e]);
  }

  const messages = [];
  const carried: number[][] = [];
  for (const [logType, group] of byLogType) {
    try {
      for (const message of await encodeBatches(logType, group.map((e) => e.event), { source: INGEST_SOURCE })) {
        messages.push({ data: message.data, attributes: message.attributes });
        carried.push(message.indexes.map((i) => group[i]!.index));
      }
    } catch (err) {
      if (!(err instanceof BatchEncodeError)) throw err;
      return { kind: 'too_large', errors: [{ index: group[err.index]!.index, path: '', message: err.message }] };
    }
  }

  const outcomes = await publisher.publish(messages);
  const failed = outcomes.flatMap((o, i) => (o.ok ? [] : [i]));
  if (failed.length === 0) return { kind: 'published', messages: messages.length };
  const first = outcomes[failed[0]!]!;
  return {
    kind: 'partial',
    messages: messages.length,
    failedMessages: failed.length,
    unpublished: failed.flatMap((i) => carried[i]!).sort((a, b) => a - b),
    error: first.ok ? undefined : first.error,
  };
}
