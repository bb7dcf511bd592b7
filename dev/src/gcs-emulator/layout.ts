import { join } from 'node:path';

// Where things live under the emulator root. Objects are mirrored as plain files so DuckDB can
// read a bucket folder directly (read_parquet('<root>/lake/events/**/*.parquet')); everything else
// sits in dot-folders beside the buckets, which a bucket glob never reaches and which no valid
// bucket name can collide with (bucket names start with a letter or digit).
export interface Layout {
  readonly root: string;
  /** Temp files for atomic writes: same filesystem as the buckets, so `rename` is atomic. */
  readonly tmpDir: string;
  /** Bytes of resumable upload sessions until they are finalized. */
  readonly uploadsDir: string;
  bucketDir(bucket: string): string;
  bucketMetaPath(bucket: string): string;
  objectMetaDir(bucket: string): string;
  objectPath(bucket: string, name: string): string;
  objectMetaPath(bucket: string, name: string): string;
}

/** Sidecar suffix: a data folder named like `<x>.meta.json` is the only (improbable) clash. */
const META_SUFFIX = '.meta.json';

export function createLayout(root: string): Layout {
  const meta = join(root, '.meta');
  return {
    root,
    tmpDir: join(root, '.tmp'),
    uploadsDir: join(root, '.uploads'),
    bucketDir: (bucket) => join(root, bucket),
    bucketMetaPath: (bucket) => join(meta, 'buckets', `${bucket}.json`),
    objectMetaDir: (bucket) => join(meta, 'objects', bucket),
    objectPath: (bucket, name) => join(root, bucket, ...name.split('/')),
    objectMetaPath: (bucket, name) => join(meta, 'objects', bucket, ...`${name}${META_SUFFIX}`.split('/')),
  };
}

// https://cloud.google.com/storage/docs/buckets#naming (dots allowed; no IP-address check here).
const BUCKET_NAME = /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/;

/** Why a bucket name is refused, or undefined when it is valid. */
export function bucketNameProblem(name: string): string | undefined {
  if (!BUCKET_NAME.test(name) || name.includes('..')) return `Invalid bucket name: '${name}'`;
  return undefined;
}

/** Filesystems cap one path segment at 255 bytes (ext4, APFS). */
const MAX_SEGMENT_BYTES = 255;
/** https://cloud.google.com/storage/docs/objects#naming: 1–1024 bytes of UTF-8. */
const MAX_NAME_BYTES = 1024;

/**
 * Why an object name cannot be stored, or undefined. GCS itself accepts names such as `dir/`
 * or `a//b`, but they have no file to mirror them; the lake never uses them.
 */
export function objectNameProblem(name: string): string | undefined {
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes === 0 || bytes > MAX_NAME_BYTES) return `Object name must be 1-${MAX_NAME_BYTES} bytes of UTF-8`;
  if (/[\0\r\n]/.test(name)) return 'Object name must not contain NUL, CR or LF';
  for (const segment of name.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') {
      return `Object name '${name}' has an empty, '.' or '..' path segment, which the emulator's file mirror cannot hold`;
    }
    if (Buffer.byteLength(segment, 'utf8') > MAX_SEGMENT_BYTES) {
      return `Object name segment longer than ${MAX_SEGMENT_BYTES} bytes cannot be mirrored as a file`;
    }
  }
  return undefined;
}
