import type { Bucket } from '@google-cloud/storage';

/** Where the writer puts finished objects (Parquet files, quarantine lines). */
export interface LakeStore {
  /** Creates `name`; rejects if it exists or the write fails. */
  put(name: string, bytes: Uint8Array, contentType: string): Promise<void>;
}

export function createGcsLakeStore(bucket: Bucket): LakeStore {
  return {
    async put(name, bytes, contentType) {
      await bucket.file(name).save(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
        // One request: objects are bounded by the flush limits (tens of MiB), and a resumable
        // session costs an extra round trip per file.
        resumable: false,
        contentType,
        // Create-only: names are fresh ULIDs, and the precondition makes the client's automatic
        // retries safe (GCS retries only conditional uploads) and never overwrites a file.
        // https://cloud.google.com/storage/docs/retry-strategy#idempotency
        preconditionOpts: { ifGenerationMatch: 0 },
      });
    },
  };
}

export interface StoredObject {
  bytes: Uint8Array;
  contentType: string;
}

/** In-memory LakeStore for tests; set `failPuts` to make every put reject. */
export interface MemoryLakeStore extends LakeStore {
  readonly objects: Map<string, StoredObject>;
  failPuts: boolean;
}

export function createMemoryLakeStore(): MemoryLakeStore {
  const objects = new Map<string, StoredObject>();
  const store: MemoryLakeStore = {
    objects,
    failPuts: false,
    async put(name, bytes, contentType) {
      if (store.failPuts) throw new Error(`put ${name} failed (failPuts is set)`);
      if (objects.has(name)) throw new Error(`put ${name} failed: object exists (ifGenerationMatch: 0)`);
      objects.set(name, { bytes: bytes.slice(), contentType });
    },
  };
  return store;
}
