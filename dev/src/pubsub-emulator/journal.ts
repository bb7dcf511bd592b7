import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { StoredMessage } from './messages.js';
import type { WireSubscription, WireTopic } from './wire.js';

/**
 * What makes the emulator durable: an append-only log of JSON lines under its data folder
 * (`journal.ndjson`) that records topics and subscriptions as they are created and deleted, every
 * published message with the subscriptions it was handed to, and every message a subscription is
 * done with (acked, or forwarded to its dead-letter topic). Replaying it rebuilds what the emulator
 * held: the resources, and each subscription's unsettled messages in publish order.
 *
 * - A Publish is written (one write for the whole request) before the emulator answers it, so a
 *   message the publisher was told about survives the emulator's process being killed (kill -9):
 *   the bytes are in the OS page cache. There is no fsync per publish, so a power cut may lose the
 *   last writes; fsync happens on close and after each compaction.
 * - Settlements are batched and written once per event-loop turn. One lost in a crash only means
 *   the message is delivered again, which at-least-once delivery allows and dedup removes.
 * - A torn last line (the process died mid-write) was never answered, and is skipped on replay.
 * - The log is compacted — rewritten from the live state into a new file that replaces the old one
 *   atomically — at open, and whenever it is both large and mostly settled.
 *
 * Not kept: leases, delivery attempt counts (a restart starts them at 0) and ack ids.
 */
export interface JournalRecordSink {
  topicCreated(topic: WireTopic): void;
  topicDeleted(name: string): void;
  /** Also called when a subscription's settings change: the latest record wins. */
  subscriptionSaved(subscription: WireSubscription): void;
  subscriptionDeleted(name: string): void;
  /** Before the publisher is answered. */
  published(messages: readonly StoredMessage[], subscriptions: readonly string[]): void;
  settled(subscription: string, messageId: string): void;
}

export interface LiveState {
  topics: WireTopic[];
  subscriptions: WireSubscription[];
  /** Every unsettled message, with the subscriptions that still hold it, in publish order. */
  messages: Array<{ message: StoredMessage; subscriptions: string[] }>;
}

export interface Journal extends JournalRecordSink {
  /** Rewrites the log as `state` (what the broker holds now), replacing the old file atomically. */
  compact(state: LiveState): void;
  /** True when the log is large and mostly settled: time to call compact. */
  wantsCompaction(): boolean;
  /** Writes pending settlements, fsyncs and closes. */
  close(): void;
}

export interface OpenedJournal {
  restored: LiveState;
  /** The highest message id in the log, so new ids continue after it. */
  lastMessageId: number;
  journal: Journal;
}

const FILE = 'journal.ndjson';
// Compact once the log is over 64 MiB and less than a quarter of it is still live.
const COMPACT_MIN_BYTES = 64 * 1024 * 1024;
const COMPACT_LIVE_FRACTION = 0.25;

type JournalRecord =
  | { t: 'topic'; topic: WireTopic }
  | { t: 'topic-'; name: string }
  | { t: 'sub'; sub: WireSubscription }
  | { t: 'sub-'; name: string }
  | { t: 'msg'; id: string; data: string; attrs: { [key: string]: string }; pt: number; ok: string; subs: string[] }
  | { t: 'ack'; sub: string; ids: string[] };

const messageRecord = (message: StoredMessage, subs: readonly string[]): string =>
  JSON.stringify({
    t: 'msg',
    id: message.messageId,
    data: message.data.toString('base64'),
    attrs: message.attributes,
    pt: message.publishTime.getTime(),
    ok: message.orderingKey,
    subs: [...subs],
  } satisfies JournalRecord);

const line = (record: JournalRecord) => `${JSON.stringify(record)}\n`;

/** Replays the log into the live state it describes. */
function replay(text: string): { state: LiveState; lastMessageId: number } {
  const topics = new Map<string, WireTopic>();
  const subscriptions = new Map<string, WireSubscription>();
  const messages = new Map<string, { message: StoredMessage; subscriptions: Set<string> }>();
  let lastMessageId = 0;
  const lines = text.split('\n');
  for (const [at, raw] of lines.entries()) {
    if (raw === '') continue;
    let record: JournalRecord;
    try {
      record = JSON.parse(raw) as JournalRecord;
    } catch (err) {
      // Only the last line can be torn (the process died while writing it); anything else is damage.
      if (at >= lines.length - 2) break;
      throw new Error(`Pub/Sub journal line ${at + 1} is not JSON (${(err as Error).message}); move the file away to start empty`);
    }
    switch (record.t) {
      case 'topic':
        topics.set(record.topic.name, record.topic);
        break;
      case 'topic-':
        topics.delete(record.name);
        break;
      case 'sub':
        subscriptions.set(record.sub.name, record.sub);
        break;
      case 'sub-':
        subscriptions.delete(record.name);
        for (const [id, held] of messages) {
          held.subscriptions.delete(record.name);
          if (held.subscriptions.size === 0) messages.delete(id);
        }
        break;
      case 'msg': {
        lastMessageId = Math.max(lastMessageId, Number(record.id) || 0);
        const message: StoredMessage = {
          messageId: record.id,
          data: Buffer.from(record.data, 'base64'),
          attributes: record.attrs,
          publishTime: new Date(record.pt),
          orderingKey: record.ok,
        };
        if (record.subs.length > 0) messages.set(record.id, { message, subscriptions: new Set(record.subs) });
        break;
      }
      case 'ack':
        for (const id of record.ids) {
          const held = messages.get(id);
          if (!held) continue;
          held.subscriptions.delete(record.sub);
          if (held.subscriptions.size === 0) messages.delete(id);
        }
        break;
    }
  }
  return {
    state: {
      topics: [...topics.values()],
      subscriptions: [...subscriptions.values()],
      messages: [...messages.values()].map(({ message, subscriptions: subs }) => ({ message, subscriptions: [...subs] })),
    },
    lastMessageId,
  };
}

/** Opens (or creates) the journal in `dir` and returns what it held. */
export function openJournal(dir: string): OpenedJournal {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, FILE);
  const { state: restored, lastMessageId } = existsSync(path) ? replay(readFileSync(path, 'utf8')) : { state: { topics: [], subscriptions: [], messages: [] }, lastMessageId: 0 };

  let fd = -1;
  let fileBytes = 0;
  // Bytes of message records still live, and how many subscriptions still hold each message.
  let liveBytes = 0;
  const live = new Map<string, { bytes: number; pending: number }>();
  const pendingAcks = new Map<string, string[]>();
  let flushScheduled = false;

  const append = (text: string) => {
    const bytes = Buffer.from(text);
    writeSync(fd, bytes);
    fileBytes += bytes.length;
  };
  const track = (id: string, bytes: number, pending: number) => {
    live.set(id, { bytes, pending });
    liveBytes += bytes;
  };
  const release = (id: string) => {
    const held = live.get(id);
    if (!held || --held.pending > 0) return;
    live.delete(id);
    liveBytes -= held.bytes;
  };

  function flushAcks(): void {
    flushScheduled = false;
    if (pendingAcks.size === 0 || fd < 0) return;
    let text = '';
    for (const [sub, ids] of pendingAcks) text += line({ t: 'ack', sub, ids });
    pendingAcks.clear();
    append(text);
  }

  function compact(state: LiveState): void {
    flushAcks();
    const tmp = `${path}.tmp`;
    const out = openSync(tmp, 'w');
    live.clear();
    liveBytes = 0;
    const write = (text: string) => writeSync(out, Buffer.from(text));
    try {
      for (const topic of state.topics) write(line({ t: 'topic', topic }));
      for (const sub of state.subscriptions) write(line({ t: 'sub', sub }));
      for (const { message, subscriptions } of state.messages) {
        const text = `${messageRecord(message, subscriptions)}\n`;
        write(text);
        track(message.messageId, Buffer.byteLength(text), subscriptions.length);
      }
      fsyncSync(out);
    } finally {
      closeSync(out);
    }
    renameSync(tmp, path);
    if (fd >= 0) closeSync(fd);
    fd = openSync(path, 'a');
    fileBytes = statSync(path).size;
  }

  const journal: Journal = {
    topicCreated: (topic) => append(line({ t: 'topic', topic })),
    topicDeleted: (name) => append(line({ t: 'topic-', name })),
    subscriptionSaved: (sub) => append(line({ t: 'sub', sub })),
    // The deleted subscription's messages still count as live until the next compaction, which
    // only makes that compaction come a little later.
    subscriptionDeleted(name) {
      flushAcks();
      append(line({ t: 'sub-', name }));
    },
    published(messages, subscriptions) {
      if (subscriptions.length === 0) return;
      let text = '';
      for (const message of messages) {
        const record = `${messageRecord(message, subscriptions)}\n`;
        text += record;
        track(message.messageId, Buffer.byteLength(record), subscriptions.length);
      }
      append(text);
    },
    settled(subscription, messageId) {
      release(messageId);
      let ids = pendingAcks.get(subscription);
      if (!ids) pendingAcks.set(subscription, (ids = []));
      ids.push(messageId);
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flushAcks);
      }
    },
    compact,
    wantsCompaction: () => fileBytes > COMPACT_MIN_BYTES && liveBytes < fileBytes * COMPACT_LIVE_FRACTION,
    close() {
      if (fd < 0) return;
      flushAcks();
      fsyncSync(fd);
      closeSync(fd);
      fd = -1;
    },
  };
  // Start from a compacted log: replay cost stays proportional to what is live.
  compact(restored);
  return { restored, lastMessageId, journal };
}
