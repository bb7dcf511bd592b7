import type { LogType, LogTypes } from '@strata/schemas/types';
import type { WireEvent } from './batch.js';
import { clip, type ElementTarget, type Observation } from './elements.js';
import { listenToParent, observeFrames, type ParentVisibility } from './frames.js';
import { createIdFactory } from './ids.js';
import { createIdentity, safeStore } from './identity.js';
import { observeImpressions, type ImpressionOptions } from './impressions.js';
import { createSender, type SenderStats } from './sender.js';
import { createTransport, eventsUrl } from './transport.js';

/** A log type's event as a page tracks it: typed by the generated schema types; the SDK fills `ts` and `event_id`. */
export type TrackEvent<K extends LogType> = { [P in keyof LogTypes[K] as P extends 'ts' | 'received_at' | 'schema_version' ? never : P]: LogTypes[K][P] } & {
  /** Event time; now when absent. */
  ts?: string;
};

export interface StrataOptions {
  /** Ingest's URL, e.g. `https://ingest.example` (`/v1/events` is added). */
  endpoint: string;
  /** A browser key: one whose `origins` list this page's origin. It is public by nature. */
  key: string;
  /** Fields every event carries, e.g. `{ source: 'web', user_id }`; an event's own fields win. */
  common?: Record<string, unknown>;
  /** A session ends after this long without an event (default 30 min). */
  sessionTimeoutMs?: number;
  /**
   * Inside a widget iframe: the publisher pages (exact origins) allowed to tell it whether it is
   * visible. A link in the iframe then counts only while the parent reports it visible too.
   */
  parentOrigin?: string | string[];
  /** Batching (defaults 20 events, 2000 ms quiet, 5000 ms oldest) and the queue bound (1000). */
  maxBatchEvents?: number;
  flushIntervalMs?: number;
  maxWaitMs?: number;
  maxQueuedEvents?: number;
  /** Told when events are lost: dropped from a full queue, or refused by ingest for good. */
  onError?: (error: { error: 'queue_full' | 'rejected'; reason: string; events: number }) => void;
}

export interface Client {
  /** Queues one event and returns its `event_id`. */
  track<K extends LogType>(logType: K, event: TrackEvent<K>): string;
  /** A `user_action` `page_view` of this page. */
  page(fields?: Partial<TrackEvent<'user_action'>>): string;
  /** Impressions and clicks of these elements (see ImpressionOptions). */
  observeImpressions(target: ElementTarget, options: ImpressionOptions): Observation;
  /** On the publisher's page: report these widget iframes' visibility into them. */
  observeFrames(target: ElementTarget, options?: { origin?: string }): Observation;
  /** Sends what is queued now. */
  flush(): Promise<void>;
  stats(): SenderStats;
  /** Removes the page listeners after sending what is queued by beacon. */
  shutdown(): void;
}

export class StrataOptionsError extends Error {
  override name = 'StrataOptionsError';
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function positiveInteger(options: StrataOptions, name: 'maxBatchEvents' | 'flushIntervalMs' | 'maxWaitMs' | 'maxQueuedEvents' | 'sessionTimeoutMs', max: number): number | undefined {
  const value = options[name];
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 1 || value > max) throw new StrataOptionsError(`option ${name} must be an integer from 1 to ${max}, got ${String(value)}`);
  return value;
}

/** The envelope's `context`, as the schemas bound it (envelope.json: user agent 512, URLs 2048, title 512). */
function pageContext(): Record<string, unknown> {
  const page: Record<string, string> = { url: clip(location.href, 2048) };
  if (document.referrer) page.referrer = clip(document.referrer, 2048);
  if (document.title) page.title = clip(document.title, 512);
  const context: Record<string, unknown> = { user_agent: clip(navigator.userAgent, 512), page };
  if (navigator.language) context.locale = clip(navigator.language, 35);
  return context;
}

export function createClient(options: StrataOptions): Client {
  if (!isRecord(options)) throw new StrataOptionsError('options must be an object');
  let url: string;
  try {
    url = eventsUrl(options.endpoint);
  } catch {
    throw new StrataOptionsError(`option endpoint must be an absolute URL such as https://ingest.example, got ${JSON.stringify(options.endpoint)}`);
  }
  if (typeof options.key !== 'string' || options.key === '') throw new StrataOptionsError('option key must be a non-empty string (a browser key)');
  if (options.common !== undefined && !isRecord(options.common)) throw new StrataOptionsError('option common must be an object of fields');
  const parentOrigins = options.parentOrigin === undefined ? [] : ([] as string[]).concat(options.parentOrigin);
  // Exact origins, as postMessage's event.origin gives them: scheme, host (or [IPv6]), optional port.
  if (parentOrigins.some((o) => typeof o !== 'string' || !/^https?:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(o))) {
    throw new StrataOptionsError('option parentOrigin must be exact origins such as https://publisher.example (no path, no wildcard)');
  }
  const day = 86_400_000;
  const sessionTimeoutMs = positiveInteger(options, 'sessionTimeoutMs', day);
  const maxBatchEvents = positiveInteger(options, 'maxBatchEvents', 500); // ingest takes 500 a request
  const flushIntervalMs = positiveInteger(options, 'flushIntervalMs', day);
  const maxWaitMs = positiveInteger(options, 'maxWaitMs', day);
  const maxQueuedEvents = positiveInteger(options, 'maxQueuedEvents', 100_000);
  const { common = {}, onError } = options;

  const newId = createIdFactory();
  const identity = createIdentity({ store: safeStore(() => localStorage), newId, sessionTimeoutMs });
  const transport = createTransport({ url, key: options.key, sendBeacon: (to, body) => navigator.sendBeacon(to, body) });
  const sender = createSender(transport, {
    maxBatchEvents,
    flushIntervalMs,
    maxWaitMs,
    maxQueuedEvents,
    onDrop: (events) => onError?.({ error: 'queue_full', reason: `the queue was full: the ${events} oldest events were dropped`, events }),
    onReject: (result, events) => onError?.({ error: 'rejected', reason: `ingest answered ${result.status}: ${result.reason}`, events }),
  });
  // Only inside an iframe: a top-level page has no parent to ask.
  const parentVisibility: ParentVisibility | undefined = parentOrigins.length > 0 && window.parent !== window ? listenToParent(parentOrigins) : undefined;

  const track = <K extends LogType>(logType: K, event: TrackEvent<K>): string => {
    if (!isRecord(event)) throw new StrataOptionsError('track(logType, event): event must be an object');
    const own = event as Record<string, unknown>;
    const wire: WireEvent = {
      event_id: newId(),
      ts: new Date().toISOString(),
      anonymous_id: identity.anonymousId(),
      session_id: identity.sessionId(),
      ...common,
      ...own,
      // context merges one level deep, as ingest merges a batch's common context.
      context: { ...pageContext(), ...(isRecord(common.context) ? common.context : {}), ...(isRecord(own.context) ? own.context : {}) },
      log_type: logType,
    };
    sender.enqueue(wire);
    return String(wire.event_id);
  };

  // Seed 003: flush with sendBeacon when the page is hidden (tab switch, app switch, close) and on
  // pagehide (navigation, bfcache), the last moments a page reliably gets.
  const onVisibility = () => {
    if (document.visibilityState === 'hidden') sender.flushOnHide();
  };
  const onPageHide = () => sender.flushOnHide();
  document.addEventListener('visibilitychange', onVisibility);
  addEventListener('pagehide', onPageHide);
  const observations: Observation[] = [];
  const keep = (observation: Observation) => (observations.push(observation), observation);

  return {
    track,
    page: (fields = {}) =>
      track('user_action', {
        event: 'page_view',
        page_url: clip(location.href, 2048),
        ...(document.referrer && { referrer: clip(document.referrer, 2048) }),
        ...fields,
      }),
    observeImpressions: (target, impressionOptions) =>
      keep(observeImpressions(target, impressionOptions, (fields) => track('impression', fields), parentVisibility)),
    observeFrames: (target, frameOptions) => keep(observeFrames(target, frameOptions)),
    flush: () => sender.flush(),
    stats: () => sender.stats(),
    shutdown() {
      observations.splice(0).forEach((o) => o.disconnect());
      parentVisibility?.stop();
      document.removeEventListener('visibilitychange', onVisibility);
      removeEventListener('pagehide', onPageHide);
      sender.flushOnHide();
    },
  };
}
