import { writeFile } from 'node:fs/promises';
import type { Bucket } from '@google-cloud/storage';

/** One object as the lake listing reports it; generation changes whenever the object is rewritten. */
export interface LakeObject {
  name: string;
  generation: string;
  size: number;
  updated: string;
}

/** The little of the lake bucket the curator needs. */
export interface LakeReader {
  list(prefix: string): Promise<LakeObject[]>;
  /** Writes the object's current content to destPath (whose folder must exist). */
  download(name: string, destPath: string): Promise<void>;
}

/**
 * The bucket through @google-cloud/storage; `new Storage()` honours STORAGE_EMULATOR_HOST locally.
 * DuckDB cannot read gs:// here (no httpfs extension), so objects are downloaded to local files.
 */
export function createGcsLakeReader(bucket: Bucket): LakeReader {
  return {
    async list(prefix) {
      // autoPaginate walks every page (up to 1,000 objects each).
      const [files] = await bucket.getFiles({ prefix, autoPaginate: true });
      return files.map((file) => ({
        name: file.name,
        generation: String(file.metadata.generation ?? ''),
        size: Number(file.metadata.size ?? 0),
        updated: String(file.metadata.updated ?? ''),
      }));
    },
    async download(name, destPath) {
      await bucket.file(name).download({ destination: destPath });
    },
  };
}

/** An in-memory lake for tests: `put` rewrites an object with a new generation, like GCS. */
export interface MemoryLake extends LakeReader {
  put(name: string, bytes: Uint8Array): void;
  remove(name: string): void;
}

export function createMemoryLake(): MemoryLake {
  const objects = new Map<string, { bytes: Uint8Array; meta: LakeObject }>();
  let generation = 1_700_000_000_000_000;
  return {
    put(name, bytes) {
      generation += 1;
      objects.set(name, { bytes, meta: { name, generation: String(generation), size: bytes.length, updated: new Date().toISOString() } });
    },
    remove(name) {
      objects.delete(name);
    },
    async list(prefix) {
      return [...objects.values()].filter((o) => o.meta.name.startsWith(prefix)).map((o) => ({ ...o.meta }));
    },
    async download(name, destPath) {
      const object = objects.get(name);
      if (!object) throw new Error(`No such object: ${name}`);
      await writeFile(destPath, object.bytes);
    },
  };
}
