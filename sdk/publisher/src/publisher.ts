import { PubSub } from '@google-cloud/pubsub';
import { createUlidFactory, isObject } from '@strata/runtime';
import {
  BATCH_LIMITS,
  createRegistry,
  encodeBatches,
  loadBundledSchemas,
  type FieldError,
  type LogType,
  type LogTypes,
  type Registry,
} from '@strata/schemas';

/**
 * The typed Node publisher: a backend service tracks events, they are batched per log type into
 * Strata's batch messages (schemas/src/batch-message.ts) and published straight to the Pub/Sub
 * topic the writer is push-subscribed to, so a service needs neither ingest nor its API key.
 *
 * Delivery is at least once: an event whose publish failed stays queued and is published again
 * with the same `event_id`, and the lake deduplicates by it.
 */

/** What the publisher needs of a topic; `@google-cloud/pubsub`'s `Topic` is one. */
export interface PublishTarget {
  publishMessage(message: { data: Buffer; attributes: Record<string, string> }): Promise<string>;
}

/** What local validation needs of a registry (`createRegistry(…)` from `@strata/schemas`). */
export type PublisherRegistry = Pick<Registry, 'validate' | 'latestVersion'>;

export interface PublisherOptions {
  /** A topic name (the publisher creates and owns a `PubSub` client) or a `Topic` you own. */
  topic: string | PublishTarget;
  /** The project of the client the publisher creates; the client's own discovery when absent. */
  projectId?: string;
  /** The `source` attribute of every message: who published it. */
  source?: string;
  /** A log type's batch is published once it holds this many events. */
  maxEvents?: number;
  /** … or once its NDJSON (before gzip) would grow past this many bytes. */
  maxBytes?: number;
  /** … or once its oldest event has waited this long. */
  maxDelayMs?: number;
  /** The most events held (queued, or published but not yet acked) before `track` refuses more. */
  maxQueuedEvents?: number;
  /** The most NDJSON bytes held before `track` refuses more. */
  maxQueuedBytes?: number;
  /** true: validate against the bundled schemas before queueing; or a registry to validate with. */
  validate?: boolean | PublisherRegistry;
  /** false: never gzip messages (readable on the topic; more bytes). */
  gzip?: boolean;
  /**
   * Told when a publish started by a full batch or the timer fails. The events stay queued and are
   * retried after `maxDelayMs`; `flush()` reports the same failure by rejecting.
   */
  onError?: (error: PublishError) => void;
}

const MiB = 1024 * 1024;

export const PUBLISHER_DEFAULTS = {
  source: 'publisher-node',
  // 500 events or 1 MiB, whichever comes first: many events per message for the writer (BRIEF
  // principle 8) while a message stays far below Pub/Sub's 10 MB.
  maxEvents: 500,
  maxBytes: 1 * MiB,
  maxDelayMs: 1000,
  maxQueuedEvents: 100_000,
  maxQueuedBytes: 64 * MiB,
  gzip: true,
} as const;

/** A bad option: a bug in the caller's wiring, so it is thrown, once, when the publisher is created. */
export class PublisherOptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PublisherOptionsError';
  }
}

/** `track` after `close()`: the caller's shutdown order is wrong, and an event would be lost. */
export class PublisherClosedError extends Error {
  constructor() {
    super('the publisher is closed: track() was called after close()');
    this.name = 'PublisherClosedError';
  }
}

/** Pub/Sub did not acknowledge some events; they stay queued and the next flush publishes them again. */
export class PublishError extends Error {
  constructor(
    /** The events not acknowledged, still queued. */
    readonly eventIds: string[],
    /** What each failed publish threw (the client's own retries already spent). */
    readonly causes: unknown[],
  ) {
    const first = causes[0] instanceof Error ? causes[0].message : String(causes[0]);
    super(`Pub/Sub did not acknowledge ${eventIds.length} events (kept queued for the next flush): ${first}`, { cause: causes[0] });
    this.name = 'PublishError';
  }
}

/** The outcome of `track`: expected refusals are values, with the house error shape. */
export type TrackResult =
  | { ok: true; eventId: string }
  | { ok: false; error: 'invalid_event'; reason: string; errors: FieldError[] }
  | { ok: false; error: 'queue_full'; reason: string };

export interface Publisher {
  /**
   * Queues one event of a log type and returns its `event_id` (the event's own, or a new ULID).
   * The event is serialised when its batch is published: do not change it after tracking it.
   */
  track<K extends LogType>(logType: K, event: LogTypes[K]): TrackResult;
  /** Publishes everything queued; resolves once Pub/Sub acked all of it, rejects with PublishError. */
  flush(): Promise<void>;
  /** Refuses further events, flushes, then closes the client the publisher created (not one passed in). */
  close(): Promise<void>;
  /** What is held now: queued, or published and not yet acknowledged. */
  pending(): { events: number; bytes: number };
}

interface Settings {
  source: string;
  maxEvents: number;
  maxBytes: number;
  maxDelayMs: number;
  maxQueuedEvents: number;
  maxQueuedBytes: number;
  gzip: boolean;
  registry: PublisherRegistry | undefined;
  onError: ((error: PublishError) => void) | undefined;
}

type IntegerOption = 'maxEvents' | 'maxBytes' | 'maxDelayMs' | 'maxQueuedEvents' | 'maxQueuedBytes';

function integerOption(options: PublisherOptions, name: IntegerOption, min: number, max: number): number {
  const value = options[name] ?? PUBLISHER_DEFAULTS[name];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new PublisherOptionsError(`option ${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Parses and checks the options once, so a bad value fails at start-up and names itself. */
function parseOptions(options: PublisherOptions): Settings {
  if (!isObject(options)) throw new PublisherOptionsError('options must be an object');
  const { topic, projectId, source = PUBLISHER_DEFAULTS.source, validate, gzip = PUBLISHER_DEFAULTS.gzip, onError } = options;
  if (typeof topic === 'string' ? topic === '' : typeof topic?.publishMessage !== 'function') {
    throw new PublisherOptionsError('option topic must be a topic name or a Topic (with publishMessage)');
  }
  if (projectId !== undefined && (typeof projectId !== 'string' || projectId === '' || typeof topic !== 'string')) {
    throw new PublisherOptionsError('option projectId must be a non-empty string, and only goes with a topic name (a Topic passed in has its project)');
  }
  if (typeof source !== 'string' || source === '' || source.length > BATCH_LIMITS.maxSourceLength) {
    throw new PublisherOptionsError(`option source must be a non-empty string of at most ${BATCH_LIMITS.maxSourceLength} characters (a Pub/Sub attribute value)`);
  }
  if (typeof gzip !== 'boolean') throw new PublisherOptionsError('option gzip must be a boolean');
  if (onError !== undefined && typeof onError !== 'function') throw new PublisherOptionsError('option onError must be a function');

  let registry: PublisherRegistry | undefined;
  if (validate === true) registry = createRegistry(loadBundledSchemas());
  else if (isObject(validate) && typeof validate.validate === 'function' && typeof validate.latestVersion === 'function') registry = validate;
  else if (validate !== undefined && validate !== false) throw new PublisherOptionsError('option validate must be a boolean or a registry (createRegistry from @strata/schemas)');

  const maxEvents = integerOption(options, 'maxEvents', 1, BATCH_LIMITS.maxEvents);
  const maxBytes = integerOption(options, 'maxBytes', 1, BATCH_LIMITS.maxDataBytes);
  // The queue bounds must leave room for a full batch, or a batch could never fill.
  const maxQueuedEvents = integerOption(options, 'maxQueuedEvents', maxEvents, Number.MAX_SAFE_INTEGER);
  const maxQueuedBytes = integerOption(options, 'maxQueuedBytes', maxBytes, Number.MAX_SAFE_INTEGER);
  // setTimeout fires at once beyond 2^31 - 1 ms, which would silently turn "a long delay" into none.
  const maxDelayMs = integerOption(options, 'maxDelayMs', 0, 2 ** 31 - 1);
  return { source, maxEvents, maxBytes, maxDelayMs, maxQueuedEvents, maxQueuedBytes, gzip, registry, onError };
}

/** The topic to publish to, and the client when the publisher created it (so it closes it). */
function connect({ topic, projectId }: PublisherOptions): { target: PublishTarget; client?: PubSub } {
  if (typeof topic !== 'string') return { target: topic };
  // The client finds PUBSUB_EMULATOR_HOST, credentials and endpoints itself: one code path.
  const client = new PubSub(projectId ? { projectId } : {});
  return { target: client.topic(topic), client };
}

interface Queued {
  eventId: string;
  event: Record<string, unknown>;
  /** Its NDJSON line, newline included, as measured when tracked. */
  bytes: number;
}

/** One log type's events not yet handed to Pub/Sub. */
interface Lane {
  events: Queued[];
  bytes: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** After a failed publish, a full batch waits for the timer instead of retrying on the next track. */
  backingOff: boolean;
}

function invalid(errors: FieldError[]): TrackResult {
  const reason = errors.map((e) => `${e.path || '(event)'}: ${e.message}`).join('; ');
  return { ok: false, error: 'invalid_event', reason, errors };
}

export function createPublisher(options: PublisherOptions): Publisher {
  const settings = parseOptions(options);
  const { registry, maxEvents, maxBytes, maxDelayMs } = settings;
  const { target, client } = connect(options);
  const newId = createUlidFactory();

  const lanes = new Map<string, Lane>();
  const inFlight = new Set<Promise<PublishError | undefined>>();
  // Held = queued in a lane + published but not yet acked; both occupy memory until Pub/Sub acks.
  let heldEvents = 0;
  let heldBytes = 0;
  let closed = false;
  let clientClosed: Promise<void> | undefined;

  const laneOf = (logType: string): Lane => {
    let lane = lanes.get(logType);
    if (!lane) lanes.set(logType, (lane = { events: [], bytes: 0, timer: undefined, backingOff: false }));
    return lane;
  };

  const arm = (logType: string, lane: Lane) => {
    // After close() nothing runs in the background: a failed close leaves its events for close() again.
    if (lane.timer || closed) return;
    // The timer is not unref'd: a script that tracks and returns still gets its events published.
    lane.timer = setTimeout(() => {
      lane.timer = undefined;
      lane.backingOff = false;
      void send(logType, true);
    }, maxDelayMs);
  };

  /** Puts events Pub/Sub did not ack back at the head of their lane, to be published again as they are. */
  const requeue = (logType: string, items: Queued[]) => {
    const lane = laneOf(logType);
    lane.events = [...items, ...lane.events];
    lane.bytes += items.reduce((sum, item) => sum + item.bytes, 0);
    lane.backingOff = true;
    arm(logType, lane);
  };

  async function publish(logType: string, items: Queued[]): Promise<PublishError | undefined> {
    let messages: Awaited<ReturnType<typeof encodeBatches>>;
    try {
      // targetBytes and maxEvents split a lane that grew past one batch (a requeue) into full messages.
      messages = await encodeBatches(logType, items.map((item) => item.event), { source: settings.source, targetBytes: maxBytes, maxEvents, gzip: settings.gzip });
    } catch (err) {
      requeue(logType, items);
      return new PublishError(items.map((item) => item.eventId), [err]);
    }
    const results = await Promise.allSettled(messages.map(({ data, attributes }) => target.publishMessage({ data, attributes })));
    const failed: Queued[] = [];
    const causes: unknown[] = [];
    results.forEach((result, i) => {
      const carried = messages[i]!.indexes.map((index) => items[index]!);
      if (result.status === 'rejected') {
        failed.push(...carried);
        causes.push(result.reason);
        return;
      }
      heldEvents -= carried.length;
      heldBytes -= carried.reduce((sum, item) => sum + item.bytes, 0);
    });
    if (!failed.length) return undefined;
    requeue(logType, failed);
    return new PublishError(failed.map((item) => item.eventId), causes);
  }

  /** Hands a lane's events to Pub/Sub; never rejects: a failure is the value, its events requeued. */
  function send(logType: string, background: boolean): Promise<PublishError | undefined> {
    const lane = lanes.get(logType);
    if (!lane) return Promise.resolve(undefined);
    clearTimeout(lane.timer);
    lanes.delete(logType);
    if (!lane.events.length) return Promise.resolve(undefined);
    const sent = publish(logType, lane.events).then((error) => {
      if (error && background) settings.onError?.(error);
      return error;
    });
    inFlight.add(sent);
    void sent.finally(() => inFlight.delete(sent));
    return sent;
  }

  function track(logType: string, input: unknown): TrackResult {
    if (closed) throw new PublisherClosedError();
    if (!isObject(input)) return invalid([{ path: '', message: 'must be a JSON object' }]);
    if (input.event_id !== undefined && (typeof input.event_id !== 'string' || input.event_id === '')) {
      return invalid([{ path: '/event_id', message: 'must be a non-empty string when given' }]);
    }
    // log_type is routing: it travels as the message's attribute, as ingest moves it there too.
    const { log_type: routed, ...fields } = input;
    if (routed !== undefined && routed !== logType) {
      return invalid([{ path: '/log_type', message: `is ${JSON.stringify(routed)}, but the event is tracked as ${logType}` }]);
    }
    const eventId = (fields.event_id as string | undefined) ?? newId();
    // received_at is left out: the writer fills it from the message's publishTime.
    let event: Record<string, unknown> = { ...fields, event_id: eventId };

    if (registry) {
      const pinned = typeof event.schema_version === 'number' ? event.schema_version : undefined;
      const version = pinned ?? registry.latestVersion(logType);
      // The envelope requires what Strata sets; stand-ins let the producer's own fields be checked.
      const result = registry.validate(logType, version, { ...event, received_at: event.received_at ?? new Date().toISOString(), schema_version: event.schema_version ?? version });
      if (!result.ok) return invalid(result.errors);
      // Pinning the version validated against makes the writer validate against the same one.
      event = { ...event, schema_version: result.version };
    }

    let bytes: number;
    try {
      bytes = Buffer.byteLength(JSON.stringify(event)) + 1;
    } catch (err) {
      return invalid([{ path: '', message: `cannot be serialised as JSON: ${(err as Error).message}` }]);
    }
    // An event no message can carry would fail every flush after it; refuse it now instead.
    if (bytes > BATCH_LIMITS.maxDataBytes) {
      return invalid([{ path: '', message: `is ${bytes} bytes as JSON, more than the ${BATCH_LIMITS.maxDataBytes} one Pub/Sub message may carry` }]);
    }
    // Bounded memory: when Pub/Sub is slow or down, events would otherwise pile up until the
    // process runs out of memory and loses all of them. Refusing here tells the caller to slow
    // down or shed load while the events already held are kept.
    if (heldEvents + 1 > settings.maxQueuedEvents || heldBytes + bytes > settings.maxQueuedBytes) {
      return {
        ok: false,
        error: 'queue_full',
        reason: `the publisher holds ${heldEvents} events (${heldBytes} bytes) not yet acknowledged by Pub/Sub, at its limit (maxQueuedEvents ${settings.maxQueuedEvents}, maxQueuedBytes ${settings.maxQueuedBytes})`,
      };
    }

    let lane = laneOf(logType);
    // Publishing before the event that would overflow keeps each message full yet within maxBytes.
    if (!lane.backingOff && lane.events.length && lane.bytes + bytes > maxBytes) {
      void send(logType, true);
      lane = laneOf(logType);
    }
    lane.events.push({ eventId, event, bytes });
    lane.bytes += bytes;
    heldEvents += 1;
    heldBytes += bytes;
    if (!lane.backingOff && (lane.events.length >= maxEvents || lane.bytes >= maxBytes)) void send(logType, true);
    else arm(logType, lane);
    return { ok: true, eventId };
  }

  async function flush(): Promise<void> {
    for (const logType of [...lanes.keys()]) void send(logType, false);
    // Publishes already under way (full batches, timers) are part of "everything queued" too.
    const results = await Promise.all([...inFlight]);
    const failures = results.filter((result): result is PublishError => result !== undefined);
    if (failures.length) throw new PublishError(failures.flatMap((f) => f.eventIds), failures.flatMap((f) => f.causes));
  }

  return {
    track,
    flush,
    async close() {
      closed = true;
      // A failed flush rejects close() with the client still open and the events still queued, so
      // calling close() again retries them; only a clean flush closes the client.
      await flush();
      clientClosed ??= client ? client.close() : Promise.resolve();
      await clientClosed;
    },
    pending: () => ({ events: heldEvents, bytes: heldBytes }),
  };
}
