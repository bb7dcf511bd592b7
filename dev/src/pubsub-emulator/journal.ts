import { closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync, writevSync } from 'node:fs';
import { join } from 'node:path';
import type { StoredMessage } from './messages.js';
import type { WireSubscription, WireTopic } from './wire.js';

/**
 * What makes the emulator durable: an append-only log under its data folder (`journal.log`):
 * JSON lines, each message record followed by the message's raw bytes (its header says how many),
 * so payloads are written as they are, not re-encoded. It records topics and subscriptions as they are created and deleted, every
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
 * - A torn last record (the process died mid-write) was never answered, and is skipped on replay.
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

const FILE = 'journal.log';
const LOCK_FILE = 'journal.lock';
const NEWLINE = 0x0a;
// Compact once the log is over 64 MiB and less than a quarter of it is still live.
const COMPACT_MIN_BYTES = 64 * 1024 * 1024;
const COMPACT_LIVE_FRACTION = 0.25;

type JournalRecord =
  | { t: 'topic'; topic: WireTopic }
  | { t: 'topic-'; name: string }
  | { t: 'sub'; sub: WireSubscription }
  | { t: 'sub-'; name: string }
  // Followed by `n` bytes of data and a newline.
  | { t: 'msg'; id: string; n: number; attrs: { [key: string]: string }; pt: number; ok: string; subs: string[] }
  | { t: 'ack'; sub: string; ids: string[] }
  // The highest message id handed out so far: ids must never be reused, even once every message
  // carrying one is settled and compacted away (the writer derives default event_ids from them).
  | { t: 'seq'; last: number };

const NL = Buffer.from('\n');

/** A message record as buffers to write: its header line, its bytes as they are, a newline. */
function messageRecord(message: StoredMessage, subs: readonly string[]): Buffer[] {
  const header: JournalRecord = {
    t: 'msg',
    id: message.messageId,
    n: message.data.length,
    attrs: message.attributes,
    pt: message.publishTime.getTime(),
    ok: message.orderingKey,
    subs: [...subs],
  };
  return [Buffer.from(`${JSON.stringify(header)}\n`), message.data, NL];
}

const line = (record: JournalRecord) => Buffer.from(`${JSON.stringify(record)}\n`);
const byteLength = (buffers: readonly Buffer[]) => buffers.reduce((n, b) => n + b.length, 0);

/** Replays the log into the live state it describes. */
function replay(file: Buffer): { state: LiveState; lastMessageId: number } {
  const topics = new Map<string, WireTopic>();
  const subscriptions = new Map<string, WireSubscription>();
  const messages = new Map<string, { message: StoredMessage; subscriptions: Set<string> }>();
  let lastMessageId = 0;
  let pos = 0;
  for (let at = 1; pos < file.length; at++) {
    const end = file.indexOf(NEWLINE, pos);
    // Only the last record can be torn (the process died while writing it, before answering).
    if (end < 0) break;
    let record: JournalRecord;
    try {
      record = JSON.parse(file.toString('utf8', pos, end)) as JournalRecord;
    } catch (err) {
      if (file.indexOf(NEWLINE, end + 1) < 0) break;
      throw new Error(`Pub/Sub journal record ${at} (byte ${pos}) is not JSON (${(err as Error).message}); move the file away to start empty`);
    }
    let data: Buffer | undefined;
    pos = end + 1;
    if (record.t === 'msg') {
      if (pos + record.n + 1 > file.length) break;
      // A copy: a slice would keep the whole file's buffer alive.
      data = Buffer.from(file.subarray(pos, pos + record.n));
      pos += record.n + 1;
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
          data: data!,
          attributes: record.attrs,
          publishTime: new Date(record.pt),
          orderingKey: record.ok,
        };
        if (record.subs.length > 0) messages.set(record.id, { message, subscriptions: new Set(record.subs) });
        break;
      }
      case 'seq':
        lastMessageId = Math.max(lastMessageId, record.last);
        break;
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

// IOV_MAX on Linux: at most this many buffers per writev.
const MAX_BUFFERS_PER_WRITE = 1024;

/** Writes every byte of `buffers` (writev may write less than asked); returns how many. */
function writevAll(fd: number, buffers: Buffer[]): number {
  let total = 0;
  for (let i = 0; i < buffers.length; i += MAX_BUFFERS_PER_WRITE) {
    let chunk = buffers.slice(i, i + MAX_BUFFERS_PER_WRITE);
    let left = byteLength(chunk);
    total += left;
    while (left > 0) {
      const written = writevSync(fd, chunk);
      left -= written;
      if (left > 0) chunk = [Buffer.concat(chunk).subarray(byteLength(chunk) - left)];
    }
  }
  return total;
}

/**
 * One process at a time: a second emulator on the same folder (a second `npm start`) would
 * compact the file out from under the first, whose later writes would go to a deleted file. The
 * lock file holds the owner's pid; a lock whose process is gone (killed) is taken over.
 */
function lock(dir: string): () => void {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(readFileSync(path, 'utf8'));
      if (Number.isInteger(owner) && owner > 0 && alive(owner)) {
        throw new Error(`the Pub/Sub journal in ${dir} is in use by process ${owner} (is another npm start running on this folder?)`);
      }
      rmSync(path, { force: true });
    }
  }
  throw new Error(`could not lock the Pub/Sub journal in ${dir}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, owned by someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Opens (or creates) the journal in `dir` and returns what it held. */
export function openJournal(dir: string): OpenedJournal {
  mkdirSync(dir, { recursive: true });
  const unlock = lock(dir);
  try {
    return openLocked(dir, unlock);
  } catch (err) {
    unlock();
    throw err;
  }
}

function openLocked(dir: string, unlock: () => void): OpenedJournal {
  const path = join(dir, FILE);
  const { state: restored, lastMessageId } = existsSync(path) ? replay(readFileSync(path)) : { state: { topics: [], subscriptions: [], messages: [] }, lastMessageId: 0 };

  let fd = -1;
  let fileBytes = 0;
  // Bytes of message records still live, and how many subscriptions still hold each message.
  let liveBytes = 0;
  const live = new Map<string, { bytes: number; pending: number }>();
  const pendingAcks = new Map<string, string[]>();
  let flushScheduled = false;

  let lastId = lastMessageId;
  // One system call for the whole record set (a Publish of many messages is one write). A write
  // that fails part way (a full disk) is cut back off, so the log never holds a torn record in
  // its middle, and the error reaches the caller: a Publish answers it, and is retried.
  const append = (buffers: Buffer[]) => {
    try {
      fileBytes += writevAll(fd, buffers);
    } catch (err) {
      try {
        ftruncateSync(fd, fileBytes);
      } catch {
        // The file may be beyond repair; the append's own error says why.
      }
      throw err;
    }
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
    const records = [...pendingAcks].map(([sub, ids]) => line({ t: 'ack', sub, ids }));
    pendingAcks.clear();
    try {
      append(records);
    } catch (err) {
      // Lost settlements only mean those messages are delivered again after a restart.
      console.error(`Pub/Sub journal: could not record ${records.length} settlement batch(es): ${(err as Error).message}`);
    }
  }

  function compact(state: LiveState): void {
    flushAcks();
    const tmp = `${path}.tmp`;
    const out = openSync(tmp, 'w');
    live.clear();
    liveBytes = 0;
    try {
      writevAll(out, [
        line({ t: 'seq', last: lastId }),
        ...state.topics.map((topic) => line({ t: 'topic', topic })),
        ...state.subscriptions.map((sub) => line({ t: 'sub', sub })),
      ]);
      for (const { message, subscriptions } of state.messages) {
        const record = messageRecord(message, subscriptions);
        writevAll(out, record);
        track(message.messageId, byteLength(record), subscriptions.length);
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
    topicCreated: (topic) => append([line({ t: 'topic', topic })]),
    topicDeleted: (name) => append([line({ t: 'topic-', name })]),
    subscriptionSaved: (sub) => append([line({ t: 'sub', sub })]),
    // The deleted subscription's messages still count as live until the next compaction, which
    // only makes that compaction come a little later.
    subscriptionDeleted(name) {
      flushAcks();
      append([line({ t: 'sub-', name })]);
    },
    published(messages, subscriptions) {
      if (subscriptions.length === 0) return;
      const buffers: Buffer[] = [];
      for (const message of messages) {
        lastId = Math.max(lastId, Number(message.messageId) || 0);
        const record = messageRecord(message, subscriptions);
        buffers.push(...record);
        track(message.messageId, byteLength(record), subscriptions.length);
      }
      append(buffers);
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
      unlock();
    },
  };
  // Start from a compacted log: replay cost stays proportional to what is live.
  compact(restored);
  return { restored, lastMessageId, journal };
}
