import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { removeFile } from './atomic-files.js';
import { checksumHandle, checksumMismatch, type DeclaredHashes } from './checksums.js';
import type { ContentRange } from './content-range.js';
import { invalid, isGcsError, notFound, type GcsError } from './errors.js';
import { bodyToFile } from './http-io.js';
import type { KeyedLock } from './keyed-lock.js';
import type { Layout } from './layout.js';
import type { ObjectStore } from './object-store.js';
import type { Preconditions } from './preconditions.js';
import type { ObjectRecord, WritableMetadata } from './resources.js';

export interface SessionTarget {
  bucket: string;
  name: string;
  metadata: WritableMetadata;
  preconditions: Preconditions;
  /** Hashes the client declared in the initiating metadata (`md5Hash`, `crc32c`). */
  declared: DeclaredHashes;
}

export type PutOutcome = { state: 'incomplete'; received: number } | { state: 'done'; record: ObjectRecord } | GcsError;

export interface UploadSessions {
  start(target: SessionTarget): Promise<{ id: string } | GcsError>;
  /** Applies one PUT to a session; `declared` is that request's `X-Goog-Hash` (sent on the final chunk). */
  put(id: string, range: ContentRange, body: Readable, declared: DeclaredHashes): Promise<PutOutcome>;
  cancel(id: string): Promise<boolean>;
}

interface Session {
  target: SessionTarget;
  path: string;
  received: number;
  /** Kept after finalizing so a repeated final PUT or status query answers 200 with the object. */
  record?: ObjectRecord;
}

export interface UploadSessionDeps {
  layout: Layout;
  store: ObjectStore;
  lock: KeyedLock;
}

const MAX_FINISHED = 1000;

/**
 * Resumable upload sessions. Bytes accumulate in `<root>/.uploads/<id>` (same filesystem as the
 * buckets) and the final chunk hands that file to the store's atomic commit, which re-checks the
 * preconditions at that moment, so two racing `ifGenerationMatch=0` uploads cannot both win.
 * Sessions live in memory: a restarted emulator answers 404 and the client starts over.
 */
export function createUploadSessions({ layout, store, lock }: UploadSessionDeps): UploadSessions {
  const sessions = new Map<string, Session>();
  const finished: string[] = [];
  const rememberFinished = (id: string, session: Session): void => {
    sessions.set(id, session);
    finished.push(id);
    // Finished sessions only answer repeats of the final PUT; keep a bounded number of them.
    while (finished.length > MAX_FINISHED) sessions.delete(finished.shift() ?? '');
  };

  const finalize = async (id: string, session: Session, declared: DeclaredHashes): Promise<PutOutcome> => {
    const handle = await open(session.path, 'r');
    const checksums = await checksumHandle(handle).finally(() => handle.close());
    const mismatch =
      checksumMismatch(declared, checksums) ?? checksumMismatch(session.target.declared, checksums);
    const { bucket, name, metadata, preconditions } = session.target;
    sessions.delete(id);
    if (mismatch) {
      await removeFile(session.path);
      return invalid(mismatch);
    }
    const record = await store.commit({ bucket, name, tempFile: session.path, checksums, metadata, preconditions });
    if (isGcsError(record)) return record;
    rememberFinished(id, { ...session, record });
    return { state: 'done', record };
  };

  return {
    async start(target) {
      const early = await store.precheck(target.bucket, target.name, target.preconditions);
      if (early) return early;
      const id = randomUUID().replaceAll('-', '');
      const path = join(layout.uploadsDir, id);
      await (await open(path, 'w')).close();
      sessions.set(id, { target, path, received: 0 });
      return { id };
    },

    put: (id, range, body, declared) =>
      lock.run(`upload\u0000${id}`, async (): Promise<PutOutcome> => {
        const session = sessions.get(id);
        if (!session) return notFound(`No such upload session: ${id}`);
        if (session.record) return { state: 'done', record: session.record };
        if (range.kind === 'status') return { state: 'incomplete', received: session.received };
        if (range.kind === 'size') {
          if (session.received === range.total) return finalize(id, session, declared);
          if (session.received > range.total) return invalid(`Upload already holds ${session.received} bytes, more than ${range.total}`);
          return { state: 'incomplete', received: session.received };
        }
        if (range.start > session.received) {
          return invalid(`Chunk starts at byte ${range.start} but the session holds only ${session.received} bytes`);
        }
        const complete = await bodyToFile(body, session.path, { append: true, skip: session.received - range.start });
        session.received = (await stat(session.path)).size;
        if (!complete) return { state: 'incomplete', received: session.received };
        if (range.total !== undefined && session.received > range.total) {
          sessions.delete(id);
          await removeFile(session.path);
          return invalid(`Received ${session.received} bytes, more than the declared ${range.total}`);
        }
        if (range.rest || session.received === range.total) return finalize(id, session, declared);
        return { state: 'incomplete', received: session.received };
      }),

    cancel: (id) =>
      lock.run(`upload\u0000${id}`, async () => {
        const session = sessions.get(id);
        if (!session) return false;
        sessions.delete(id);
        if (!session.record) await removeFile(session.path);
        return true;
      }),
  };
}
