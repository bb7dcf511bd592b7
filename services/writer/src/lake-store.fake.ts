import type { LakeStore } from './lake-store.js';

export interface StoredObject {
  bytes: Uint8Array;
  contentType: string;
}

/**
 * In-memory LakeStore for tests. `failPuts` makes every put reject; `failWhen` only the puts whose
 * object name it picks (one partition of a message); `delayMs` makes each put take that long.
 */
export interface MemoryLakeStore extends LakeStore {
  readonly objects: Map<string, StoredObject>;
  failPuts: boolean;
  failWhen: ((name: string) => boolean) | undefined;
  delayMs: number;
}

export function createMemoryLakeStore(): MemoryLakeStore {
  const objects = new Map<string, StoredObject>();
  const store: MemoryLakeStore = {
    objects,
    failPuts: false,
    failWhen: undefined,
    delayMs: 0,
    async put(name, bytes, contentType) {
      if (store.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, store.delayMs));
      if (store.failPuts || store.failWhen?.(name)) throw new Error(`put ${name} failed (the fake was told to fail it)`);
      if (objects.has(name)) throw new Error(`put ${name} failed: object exists (ifGenerationMatch: 0)`);
      objects.set(name, { bytes: bytes.slice(), contentType });
    },
  };
  return store;
}
