import { redeliveryDelayMs, type Backoff } from './backoff.js';
import { messageSize, type StoredMessage } from './messages.js';

/**
 * One subscription's backlog and leases: messages wait in `ready` until a consumer (a StreamingPull
 * stream, a waiting Pull, or the push dispatcher) has room for them; a delivered message is leased
 * under an ack id until it is acked, nacked (ModifyAckDeadline 0) or its deadline passes. A message
 * that is not acked goes back to `ready` after the retry backoff, or to the dead-letter topic once
 * it has been delivered maxDeliveryAttempts times.
 * https://cloud.google.com/pubsub/docs/lease-management
 */
export interface SubscriptionSettings {
  name: string;
  ackDeadlineMs: number;
  deadLetter?: { topic: string; maxDeliveryAttempts: number };
  retry?: Backoff;
}

export interface Delivery {
  ackId: string;
  message: StoredMessage;
  /** 1 on the first delivery. */
  deliveryAttempt: number;
}

export interface Consumer {
  /** How failed deliveries back off: push has its own default backoff, pull redelivers at once. */
  readonly mode: 'pull' | 'push';
  /** Most messages it may hold unacked at once; 0 = no limit. */
  maxOutstandingMessages(): number;
  /** Most bytes it may hold unacked at once (one message always fits); 0 = no limit. */
  maxOutstandingBytes(): number;
  /** The lease given to what it receives. */
  leaseMs(): number;
  deliver(deliveries: Delivery[]): void;
  /** The subscription was deleted. */
  close?(): void;
}

export interface SubscriptionDeps {
  nextAckId(): string;
  /** Forwards a message that used up its delivery attempts; false when it could not (the message stays). */
  deadLetter(message: StoredMessage, deliveryAttempts: number): boolean;
  /** The subscription is done with a message: acked, or forwarded to the dead-letter topic. */
  settled?(message: StoredMessage): void;
}

export interface SubscriptionStats {
  ready: number;
  delayed: number;
  outstanding: number;
}

export interface SubscriptionState {
  settings(): SubscriptionSettings;
  update(settings: SubscriptionSettings): void;
  enqueue(message: StoredMessage): void;
  addConsumer(consumer: Consumer): void;
  removeConsumer(consumer: Consumer): void;
  /** Up to `max` messages; waits up to `waitMs` (or until `signal` aborts) for the first ones when none are ready. */
  pull(max: number, waitMs: number, signal?: AbortSignal): Promise<Delivery[]>;
  /** Unknown or expired ack ids are ignored, as the service does without exactly-once delivery. */
  ack(ackIds: readonly string[]): void;
  /** 0 seconds nacks; otherwise the lease is extended to now + seconds. */
  modifyDeadline(ackIds: readonly string[], seconds: number): void;
  nack(ackId: string): void;
  stats(): SubscriptionStats;
  /** Every message it holds (ready, waiting for a retry, leased), for a snapshot of the emulator. */
  held(): StoredMessage[];
  close(): void;
}

interface Entry {
  message: StoredMessage;
  deliveries: number;
}

interface Lease {
  entry: Entry;
  consumer: Consumer;
  bytes: number;
  timer: NodeJS.Timeout | undefined;
}

interface Usage {
  count: number;
  bytes: number;
}

// Pub/Sub returns at most 1000 messages in one pull response.
const MAX_BATCH = 1000;

export function createSubscriptionState(initial: SubscriptionSettings, deps: SubscriptionDeps): SubscriptionState {
  let current = initial;
  let closed = false;
  let pumpScheduled = false;
  const ready: Entry[] = [];
  const delayed = new Map<NodeJS.Timeout, Entry>();
  const leases = new Map<string, Lease>();
  const consumers: Consumer[] = [];
  const usage = new WeakMap<Consumer, Usage>();

  const usageOf = (consumer: Consumer): Usage => {
    let u = usage.get(consumer);
    if (!u) usage.set(consumer, (u = { count: 0, bytes: 0 }));
    return u;
  };

  function arm(ackId: string, lease: Lease, ms: number): void {
    clearTimeout(lease.timer);
    lease.timer = setTimeout(() => retry(ackId), ms);
  }

  function lease(entry: Entry, consumer: Consumer): Delivery {
    entry.deliveries += 1;
    const ackId = deps.nextAckId();
    const held: Lease = { entry, consumer, bytes: messageSize(entry.message), timer: undefined };
    leases.set(ackId, held);
    const u = usageOf(consumer);
    u.count += 1;
    u.bytes += held.bytes;
    arm(ackId, held, consumer.leaseMs());
    return { ackId, message: entry.message, deliveryAttempt: entry.deliveries };
  }

  function release(ackId: string): Lease | undefined {
    const held = leases.get(ackId);
    if (!held) return undefined;
    clearTimeout(held.timer);
    leases.delete(ackId);
    const u = usageOf(held.consumer);
    u.count -= 1;
    u.bytes -= held.bytes;
    schedulePump();
    return held;
  }

  function take(consumer: Consumer, limit: number): Delivery[] {
    const u = usageOf(consumer);
    const maxMessages = consumer.maxOutstandingMessages();
    const maxBytes = consumer.maxOutstandingBytes();
    const out: Delivery[] = [];
    while (ready.length > 0 && out.length < limit) {
      if (maxMessages > 0 && u.count >= maxMessages) break;
      const next = ready[0]!;
      if (maxBytes > 0 && u.count > 0 && u.bytes + messageSize(next.message) > maxBytes) break;
      ready.shift();
      out.push(lease(next, consumer));
    }
    return out;
  }

  function pump(): void {
    pumpScheduled = false;
    if (closed) return;
    let delivered = true;
    while (ready.length > 0 && delivered) {
      delivered = false;
      for (const consumer of [...consumers]) {
        const batch = take(consumer, MAX_BATCH);
        if (batch.length === 0) continue;
        delivered = true;
        consumer.deliver(batch);
      }
    }
  }

  function schedulePump(): void {
    if (pumpScheduled || closed) return;
    pumpScheduled = true;
    // Batch what arrives in one tick (a Publish of many messages) into one response per consumer.
    setImmediate(pump);
  }

  function retry(ackId: string): void {
    const held = release(ackId);
    if (!held || closed) return;
    const { entry } = held;
    const deadLetter = current.deadLetter;
    if (deadLetter && entry.deliveries >= deadLetter.maxDeliveryAttempts && deps.deadLetter(entry.message, entry.deliveries)) {
      deps.settled?.(entry.message);
      return;
    }
    const delay = redeliveryDelayMs(current.retry, held.consumer.mode, entry.deliveries);
    if (delay <= 0) {
      ready.unshift(entry);
      schedulePump();
      return;
    }
    const timer = setTimeout(() => {
      delayed.delete(timer);
      ready.push(entry);
      schedulePump();
    }, delay);
    delayed.set(timer, entry);
  }

  function removeConsumer(consumer: Consumer): void {
    const at = consumers.indexOf(consumer);
    if (at >= 0) consumers.splice(at, 1);
  }

  return {
    settings: () => current,
    update(settings) {
      current = settings;
    },
    enqueue(message) {
      if (closed) return;
      ready.push({ message, deliveries: 0 });
      schedulePump();
    },
    addConsumer(consumer) {
      consumers.push(consumer);
      schedulePump();
    },
    removeConsumer,
    pull(max, waitMs, signal) {
      let done = false;
      const consumer: Consumer = {
        mode: 'pull',
        maxOutstandingMessages: () => (done ? 0 : max),
        maxOutstandingBytes: () => 0,
        leaseMs: () => current.ackDeadlineMs,
        deliver: (deliveries) => finish(deliveries),
        close: () => finish([]),
      };
      let resolveWait: (deliveries: Delivery[]) => void = () => undefined;
      let timer: NodeJS.Timeout | undefined;
      const finish = (deliveries: Delivery[]) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        removeConsumer(consumer);
        signal?.removeEventListener('abort', onAbort);
        resolveWait(deliveries);
      };
      const onAbort = () => finish([]);
      const now = closed ? [] : take(consumer, max);
      if (now.length > 0 || waitMs <= 0 || closed || signal?.aborted) {
        done = true;
        return Promise.resolve(now);
      }
      return new Promise<Delivery[]>((resolve) => {
        resolveWait = resolve;
        timer = setTimeout(() => finish([]), waitMs);
        signal?.addEventListener('abort', onAbort, { once: true });
        consumers.push(consumer);
      });
    },
    ack(ackIds) {
      for (const ackId of ackIds) {
        const held = release(ackId);
        if (held) deps.settled?.(held.entry.message);
      }
    },
    modifyDeadline(ackIds, seconds) {
      for (const ackId of ackIds) {
        const held = leases.get(ackId);
        if (!held) continue;
        if (seconds <= 0) retry(ackId);
        else arm(ackId, held, seconds * 1000);
      }
    },
    nack: retry,
    stats: () => ({ ready: ready.length, delayed: delayed.size, outstanding: leases.size }),
    held: () => [...ready, ...delayed.values(), ...[...leases.values()].map((held) => held.entry)].map((entry) => entry.message),
    close() {
      closed = true;
      for (const held of leases.values()) clearTimeout(held.timer);
      for (const timer of delayed.keys()) clearTimeout(timer);
      leases.clear();
      delayed.clear();
      ready.length = 0;
      for (const consumer of consumers.splice(0)) consumer.close?.();
    },
  };
}
