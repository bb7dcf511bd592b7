import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errorCode, isShapeClash, pruneEmptyDirs, removeFile, renameIntoPlace, writeFileAtomic } from './atomic-files.js';
import { checksumHandle, type Checksums } from './checksums.js';
import { bucketNotFound, conflict, isGcsError, objectNotFound, type GcsError } from './errors.js';
import type { KeyedLock } from './keyed-lock.js';
import type { Layout } from './layout.js';
import { walkObjectNames, type NameRange, type WalkOptions } from './listing.js';
import { checkPreconditions, type Preconditions } from './preconditions.js';
import {
  DEFAULT_CONTENT_TYPE,
  mergeWritable,
  withWritable,
  type FileIdentity,
  type ObjectRecord,
  type WritableMetadata,
} from './resources.js';

/** A consistent view of one object: its record and an open handle on exactly those bytes. */
export interface Snapshot {
  record: ObjectRecord;
  handle: FileHandle;
}

export interface CommitInput {
  bucket: string;
  name: string;
  /** A finished file under the layout's tmp or uploads folder; the store owns it from here on. */
  tempFile: string;
  checksums: Checksums;
  metadata: WritableMetadata;
  preconditions: Preconditions;
}

export interface ObjectStore {
  bucketExists(bucket: string): Promise<boolean>;
  /** Opens an object for reading; the caller closes `handle`. */
  open(bucket: string, name: string, pre?: Preconditions): Promise<Snapshot | GcsError>;
  get(bucket: string, name: string, pre?: Preconditions): Promise<ObjectRecord | GcsError>;
  /** What a listing shows of an object of a bucket known to exist: as get, without opening the bytes when it can. */
  describe(bucket: string, name: string): Promise<ObjectRecord | GcsError>;
  /** Checks preconditions against the live object and atomically renames the temp file into place. */
  commit(input: CommitInput): Promise<ObjectRecord | GcsError>;
  /** Fails early (before any bytes are sent) when preconditions cannot hold right now. */
  precheck(bucket: string, name: string, pre: Preconditions): Promise<GcsError | undefined>;
  patch(bucket: string, name: string, body: unknown, pre: Preconditions): Promise<ObjectRecord | GcsError>;
  remove(bucket: string, name: string, pre: Preconditions): Promise<{ deleted: true } | GcsError>;
  /** Sorted names under a prefix, or 404 for a missing bucket. */
  names(bucket: string, prefix: string, range?: NameRange, options?: WalkOptions): Promise<string[] | GcsError>;
}

export interface ObjectStoreDeps {
  layout: Layout;
  lock: KeyedLock;
  now?: () => Date;
}

const NOT_THERE = new Set(['ENOENT', 'ENOTDIR', 'EISDIR']);

export function createObjectStore({ layout, lock, now = () => new Date() }: ObjectStoreDeps): ObjectStore {
  let lastGeneration = 0;
  /** GCS generations are microsecond timestamps; keep them strictly increasing within a run. */
  const nextGeneration = (): number => {
    lastGeneration = Math.max(now().getTime() * 1000, lastGeneration + 1);
    return lastGeneration;
  };
  const key = (bucket: string, name: string) => `${bucket}\u0000${name}`;
  const metaBase = dirname(layout.objectMetaDir('x'));

  const bucketExists = async (bucket: string): Promise<boolean> => {
    try {
      return (await stat(layout.bucketDir(bucket))).isDirectory();
    } catch (err) {
      if (NOT_THERE.has(errorCode(err) ?? '')) return false;
      throw err;
    }
  };

  /**
   * Sidecars as last read, by path, with the identity of the file they were read from: a listing
   * reads every object's record, and a stat costs a fraction of a read and a parse. The identity
   * (not this process's own writes) decides, so a sidecar another process rewrote is read again.
   */
  const sidecars = new Map<string, { identity: FileIdentity; record: ObjectRecord }>();
  const readSidecar = async (bucket: string, name: string): Promise<ObjectRecord | undefined> => {
    const path = layout.objectMetaPath(bucket, name);
    try {
      const st = await stat(path);
      const identity: FileIdentity = { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
      const cached = sidecars.get(path);
      if (cached && sameFile(cached.identity, identity)) return cached.record;
      // Replaced between the stat and the read, the entry no longer matches and is read again next time.
      const record = JSON.parse(await readFile(path, 'utf8')) as ObjectRecord;
      sidecars.set(path, { identity, record });
      return record;
    } catch {
      sidecars.delete(path);
      return undefined; // missing or torn by hand: metadata is recomputed from the bytes
    }
  };

  const writeSidecar = async (record: ObjectRecord): Promise<void> => {
    try {
      await writeFileAtomic(layout.tmpDir, layout.objectMetaPath(record.bucket, record.name), metaBase, JSON.stringify(record));
    } catch (err) {
      // Only a pathological name clash in the sidecar tree lands here; the record is then
      // recomputed from the bytes on the next read, which loses custom metadata but not data.
      if (!isShapeClash(err)) throw err;
    }
  };

  /** Caller holds the object's lock (lazy metadata is persisted). */
  const openUnlocked = async (bucket: string, name: string): Promise<Snapshot | undefined> => {
    let handle: FileHandle;
    try {
      handle = await open(layout.objectPath(bucket, name), 'r');
    } catch (err) {
      if (NOT_THERE.has(errorCode(err) ?? '')) return undefined;
      throw err;
    }
    try {
      const st = await handle.stat();
      if (!st.isFile()) {
        await handle.close();
        return undefined;
      }
      const file: FileIdentity = { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
      const sidecar = await readSidecar(bucket, name);
      if (sidecar && sameFile(sidecar.file, file)) return { record: sidecar, handle };
      // Written by hand (or overwritten behind our back): describe the bytes as they are now.
      const sums = await checksumHandle(handle);
      const time = st.mtime.toISOString();
      const record: ObjectRecord = {
        bucket,
        name,
        generation: sidecar ? nextGeneration() : Math.max(1, Math.floor(st.mtimeMs * 1000)),
        metageneration: 1,
        contentType: DEFAULT_CONTENT_TYPE,
        ...sums,
        timeCreated: time,
        updated: time,
        file,
      };
      await writeSidecar(record);
      return { record, handle };
    } catch (err) {
      await handle.close();
      throw err;
    }
  };

  const currentUnlocked = async (bucket: string, name: string): Promise<ObjectRecord | undefined> => {
    const snapshot = await openUnlocked(bucket, name);
    await snapshot?.handle.close();
    return snapshot?.record;
  };

  /** Prologue of a locked upload: bucket present, then preconditions on the live object (if any). */
  const guardWrite = async (
    bucket: string,
    name: string,
    pre: Preconditions,
  ): Promise<{ current: ObjectRecord | undefined } | GcsError> => {
    if (!(await bucketExists(bucket))) return bucketNotFound(bucket);
    const current = await currentUnlocked(bucket, name);
    return checkPreconditions(pre, current, 'write') ?? { current };
  };
  /** Prologue of PATCH and DELETE: a missing object is 404 before any precondition is judged. */
  const guardExisting = async (bucket: string, name: string, pre: Preconditions): Promise<{ current: ObjectRecord } | GcsError> => {
    if (!(await bucketExists(bucket))) return bucketNotFound(bucket);
    const current = await currentUnlocked(bucket, name);
    if (!current) return objectNotFound(bucket, name);
    return checkPreconditions(pre, current, 'write') ?? { current };
  };

  const openChecked = async (bucket: string, name: string, pre: Preconditions = {}): Promise<Snapshot | GcsError> => {
    if (!(await bucketExists(bucket))) return bucketNotFound(bucket);
    const snapshot = await lock.run(key(bucket, name), () => openUnlocked(bucket, name));
    if (!snapshot) return objectNotFound(bucket, name);
    const failed = checkPreconditions(pre, snapshot.record, 'read');
    if (failed) {
      await snapshot.handle.close();
      return failed;
    }
    return snapshot;
  };

  return {
    bucketExists,
    open: openChecked,

    async get(bucket, name, pre) {
      const snapshot = await openChecked(bucket, name, pre);
      if (isGcsError(snapshot)) return snapshot;
      await snapshot.handle.close();
      return snapshot.record;
    },

    async describe(bucket, name) {
      // The sidecar alone, when a stat shows it still describes the file: a listing reads every
      // object's record, and opening each one's bytes made a list call cost what GCS does not.
      const described = await lock.run(key(bucket, name), async () => {
        const sidecar = await readSidecar(bucket, name);
        if (!sidecar) return undefined;
        try {
          const st = await stat(layout.objectPath(bucket, name));
          return st.isFile() && sameFile(sidecar.file, { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs }) ? sidecar : undefined;
        } catch (err) {
          if (NOT_THERE.has(errorCode(err) ?? '')) return undefined;
          throw err;
        }
      });
      return described ?? this.get(bucket, name);
    },

    precheck: (bucket, name, pre) =>
      lock.run(key(bucket, name), async () => {
        const guard = await guardWrite(bucket, name, pre);
        return isGcsError(guard) ? guard : undefined;
      }),

    commit: (input) =>
      lock.run(key(input.bucket, input.name), async () => {
        const { bucket, name, tempFile } = input;
        try {
          const guard = await guardWrite(bucket, name, input.preconditions);
          if (isGcsError(guard)) return guard;
          const st = await stat(tempFile);
          const time = now().toISOString();
          const record: ObjectRecord = {
            ...input.metadata,
            contentType: input.metadata.contentType ?? DEFAULT_CONTENT_TYPE,
            bucket,
            name,
            generation: nextGeneration(),
            metageneration: 1,
            ...input.checksums,
            timeCreated: time,
            updated: time,
            // rename keeps inode and mtime, so this identifies the file at its final path
            file: { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs },
          };
          try {
            await renameIntoPlace(tempFile, layout.objectPath(bucket, name), layout.bucketDir(bucket));
          } catch (err) {
            if (errorCode(err) === 'ENOENT' && !(await bucketExists(bucket))) return bucketNotFound(bucket);
            if (isShapeClash(err)) {
              return conflict(`Object '${name}' clashes with an existing object or prefix in the emulator's file mirror (a file cannot also be a folder)`);
            }
            throw err;
          }
          await writeSidecar(record);
          return record;
        } finally {
          await removeFile(tempFile); // gone already after a successful rename
        }
      }),

    patch: (bucket, name, body, pre) =>
      lock.run(key(bucket, name), async () => {
        const guard = await guardExisting(bucket, name, pre);
        if (isGcsError(guard)) return guard;
        const { current } = guard;
        const record: ObjectRecord = {
          ...withWritable(current, mergeWritable(current, body)),
          metageneration: current.metageneration + 1,
          updated: now().toISOString(),
        };
        await writeSidecar(record);
        return record;
      }),

    remove: (bucket, name, pre) =>
      lock.run(key(bucket, name), async () => {
        const guard = await guardExisting(bucket, name, pre);
        if (isGcsError(guard)) return guard;
        const dataPath = layout.objectPath(bucket, name);
        const metaPath = layout.objectMetaPath(bucket, name);
        await removeFile(dataPath);
        await removeFile(metaPath);
        await pruneEmptyDirs(dirname(dataPath), layout.bucketDir(bucket));
        await pruneEmptyDirs(dirname(metaPath), layout.objectMetaDir(bucket));
        return { deleted: true as const };
      }),

    async names(bucket, prefix, range, options) {
      if (!(await bucketExists(bucket))) return bucketNotFound(bucket);
      return walkObjectNames(layout.bucketDir(bucket), prefix, range, options);
    },
  };
}

function sameFile(a: FileIdentity | undefined, b: FileIdentity): boolean {
  return !!a && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;
}
