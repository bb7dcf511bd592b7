import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errorCode, removeFile, writeFileAtomic } from './atomic-files.js';
import { bucketNotFound, conflict, invalid, isGcsError, required, type GcsError } from './errors.js';
import { bucketNameProblem, type Layout } from './layout.js';
import { walkObjectNames } from './listing.js';
import type { BucketRecord } from './resources.js';

export interface BucketStore {
  create(body: unknown): Promise<BucketRecord | GcsError>;
  get(name: string): Promise<BucketRecord | GcsError>;
  list(): Promise<BucketRecord[]>;
  /** Refuses a bucket that still holds objects, like the real API (409). */
  remove(name: string): Promise<{ deleted: true } | GcsError>;
}

export interface BucketStoreDeps {
  layout: Layout;
  now?: () => Date;
}

/** A bucket is a folder under the root; its resource lives in `.meta/buckets/<name>.json`. */
export function createBucketStore({ layout, now = () => new Date() }: BucketStoreDeps): BucketStore {
  const metaBase = dirname(layout.bucketMetaPath('x'));

  const get = async (name: string): Promise<BucketRecord | GcsError> => {
    let created: Date;
    try {
      const st = await stat(layout.bucketDir(name));
      if (!st.isDirectory() || bucketNameProblem(name)) return bucketNotFound(name);
      created = st.birthtime.getTime() > 0 ? st.birthtime : st.mtime;
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return bucketNotFound(name);
      throw err;
    }
    try {
      return JSON.parse(await readFile(layout.bucketMetaPath(name), 'utf8')) as BucketRecord;
    } catch {
      // A folder made by hand is a bucket too.
      const time = created.toISOString();
      return { name, location: 'US', storageClass: 'STANDARD', metageneration: 1, timeCreated: time, updated: time };
    }
  };

  return {
    async create(body) {
      const fields = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
      const name = fields.name;
      if (typeof name !== 'string' || name === '') return required('bucket name');
      const problem = bucketNameProblem(name);
      if (problem) return invalid(problem);
      try {
        await mkdir(layout.bucketDir(name));
      } catch (err) {
        if (errorCode(err) === 'EEXIST') {
          return conflict('Your previous request to create the named bucket succeeded and you already own it.');
        }
        throw err;
      }
      const time = now().toISOString();
      const record: BucketRecord = {
        name,
        location: typeof fields.location === 'string' ? fields.location.toUpperCase() : 'US',
        storageClass: typeof fields.storageClass === 'string' ? fields.storageClass : 'STANDARD',
        metageneration: 1,
        timeCreated: time,
        updated: time,
        ...(typeof fields.labels === 'object' && fields.labels !== null
          ? { labels: fields.labels as Record<string, string> }
          : {}),
      };
      await writeFileAtomic(layout.tmpDir, layout.bucketMetaPath(name), metaBase, JSON.stringify(record));
      return record;
    },

    get,

    async list() {
      const entries = await readdir(layout.root, { withFileTypes: true });
      const records: BucketRecord[] = [];
      for (const entry of entries.filter((e) => e.isDirectory() && !bucketNameProblem(e.name))) {
        const record = await get(entry.name);
        if (!isGcsError(record)) records.push(record);
      }
      return records.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },

    async remove(name) {
      const found = await get(name);
      if (isGcsError(found)) return found;
      if ((await walkObjectNames(layout.bucketDir(name), '')).length > 0) {
        return conflict('The bucket you tried to delete is not empty.');
      }
      // Only empty folders are left (made by hand or racing a delete's prune).
      await rm(layout.bucketDir(name), { recursive: true, force: true });
      await rm(layout.objectMetaDir(name), { recursive: true, force: true });
      await removeFile(layout.bucketMetaPath(name));
      return { deleted: true as const };
    },
  };
}
