import { readFile, writeFile } from 'node:fs/promises';
import type { Bucket } from '@google-cloud/storage';

/** One object as the lake listing reports it; generation changes whenever the object is rewritten. */
export interface LakeObject {
  name: string;
  generation: string;
  size: number;
  updated: string;
}

export interface ListOptions {
  /** Only names ≥ this (GCS's startOffset): a run lists the lateness window, not all of history. */
  startOffset?: string;
  /** Only names < this (GCS's endOffset). */
  endOffset?: string;
}

/** Thrown when a precondition (ifGenerationMatch) does not hold: someone else changed the object. */
export class PreconditionFailed extends Error {
  constructor(readonly objectName: string) {
    super(`precondition failed for ${objectName}: the object changed`);
    this.name = 'PreconditionFailed';
  }
}

/** The little of the lake bucket the curator needs: read partitions, and rewrite them when compacting. */
export interface LakeStore {
  list(prefix: string, options?: ListOptions): Promise<LakeObject[]>;
  /** The "folders" right below a prefix (a delimiter listing): `events/log_type=…/`, one per log type. */
  listPrefixes(prefix: string): Promise<string[]>;
  /** Writes the object's current content to destPath (whose folder must exist). */
  download(name: string, destPath: string): Promise<void>;
  /**
   * Uploads a local file only if no object has the name (ifGenerationMatch: 0), so a write can never
   * replace data; returns the new generation. PreconditionFailed when the name is taken.
   */
  create(name: string, sourcePath: string, contentType: string): Promise<string>;
  /** Uploads a local file, replacing any object of that name (curated zone files, derived data only). */
  replace(name: string, sourcePath: string, contentType: string): Promise<void>;
  /**
   * Uploads a local file over exactly this generation of the object (ifGenerationMatch), in one
   * step: readers see the old content or the new, never neither. Returns the new generation;
   * PreconditionFailed when the object was rewritten or deleted since that generation was read.
   * Only an erasure rewrites lake data this way (erase.ts).
   */
  rewrite(name: string, sourcePath: string, contentType: string, generation: string): Promise<string>;
  /**
   * Deletes exactly this generation of the object (ifGenerationMatch). Resolves false when the
   * object is already gone; PreconditionFailed when it was rewritten since it was listed.
   */
  remove(name: string, generation: string): Promise<boolean>;
}

const statusOf = (err: unknown): number | undefined => {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
};

/** An object listed a moment ago is gone (another instance compacted its hour since). */
export const isNotFound = (err: unknown): boolean => statusOf(err) === 404;

/**
 * The bucket through @google-cloud/storage; `new Storage()` honours STORAGE_EMULATOR_HOST locally.
 * DuckDB cannot read gs:// here (no httpfs extension), so objects are downloaded to local files.
 */
export function createGcsLakeStore(bucket: Bucket): LakeStore {
  // ifGenerationMatch 0 means "no live object of that name"; any other value, exactly that generation.
  const uploadIf = async (name: string, sourcePath: string, contentType: string, ifGenerationMatch: number) => {
    try {
      const [file] = await bucket.upload(sourcePath, { destination: name, contentType, resumable: false, preconditionOpts: { ifGenerationMatch } });
      return String(file.metadata.generation ?? '');
    } catch (err) {
      if (statusOf(err) === 412) throw new PreconditionFailed(name);
      throw err;
    }
  };
  return {
    async list(prefix, options = {}) {
      // autoPaginate walks every page (up to 1,000 objects each).
      const [files] = await bucket.getFiles({ prefix, autoPaginate: true, ...options });
      return files.map((file) => ({
        name: file.name,
        generation: String(file.metadata.generation ?? ''),
        size: Number(file.metadata.size ?? 0),
        updated: String(file.metadata.updated ?? ''),
      }));
    },
    async listPrefixes(prefix) {
      // With a delimiter the objects themselves are not returned, only the prefixes below.
      const [, , response] = await bucket.getFiles({ prefix, delimiter: '/', autoPaginate: false, maxResults: 1000 });
      return ((response as { prefixes?: string[] } | undefined)?.prefixes ?? []).sort();
    },
    async download(name, destPath) {
      await bucket.file(name).download({ destination: destPath });
    },
    create: (name, sourcePath, contentType) => uploadIf(name, sourcePath, contentType, 0),
    async replace(name, sourcePath, contentType) {
      await bucket.upload(sourcePath, { destination: name, contentType, resumable: false });
    },
    rewrite: (name, sourcePath, contentType, generation) => uploadIf(name, sourcePath, contentType, Number(generation)),
    async remove(name, generation) {
      try {
        await bucket.file(name).delete({ ifGenerationMatch: Number(generation) });
        return true;
      } catch (err) {
        if (statusOf(err) === 404) return false;
        if (statusOf(err) === 412) throw new PreconditionFailed(name);
        throw err;
      }
    },
  };
}

/** An in-memory lake for tests: `put` rewrites an object with a new generation, like GCS. */
export interface MemoryLake extends LakeStore {
  put(name: string, bytes: Uint8Array): void;
  /** Deletes whatever generation is there (what a lifecycle rule or an operator does). */
  drop(name: string): void;
  read(name: string): Uint8Array | undefined;
}

export function createMemoryLake(): MemoryLake {
  const objects = new Map<string, { bytes: Uint8Array; meta: LakeObject }>();
  let generation = 1_700_000_000_000_000;
  const put = (name: string, bytes: Uint8Array) => {
    generation += 1;
    objects.set(name, { bytes, meta: { name, generation: String(generation), size: bytes.length, updated: new Date().toISOString() } });
    return String(generation);
  };
  return {
    put,
    drop(name) {
      objects.delete(name);
    },
    read: (name) => objects.get(name)?.bytes,
    async list(prefix, { startOffset, endOffset } = {}) {
      return [...objects.values()]
        .map((o) => o.meta)
        .filter((m) => m.name.startsWith(prefix) && (startOffset === undefined || m.name >= startOffset) && (endOffset === undefined || m.name < endOffset))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .map((m) => ({ ...m }));
    },
    async listPrefixes(prefix) {
      const below = [...objects.keys()].filter((n) => n.startsWith(prefix) && n.indexOf('/', prefix.length) >= 0);
      return [...new Set(below.map((n) => n.slice(0, n.indexOf('/', prefix.length) + 1)))].sort();
    },
    async download(name, destPath) {
      const object = objects.get(name);
      // Shaped like the GCS client's ApiError, which callers tell apart by its code.
      if (!object) throw Object.assign(new Error(`No such object: ${name}`), { code: 404 });
      await writeFile(destPath, object.bytes);
    },
    async create(name, sourcePath) {
      if (objects.has(name)) throw new PreconditionFailed(name);
      return put(name, await readFile(sourcePath));
    },
    async replace(name, sourcePath) {
      put(name, await readFile(sourcePath));
    },
    async rewrite(name, sourcePath, _contentType, expected) {
      if (objects.get(name)?.meta.generation !== expected) throw new PreconditionFailed(name);
      return put(name, await readFile(sourcePath));
    },
    async remove(name, expected) {
      const object = objects.get(name);
      if (!object) return false;
      if (object.meta.generation !== expected) throw new PreconditionFailed(name);
      objects.delete(name);
      return true;
    },
  };
}
