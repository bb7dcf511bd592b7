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
