/** Metadata a client may set on upload or PATCH (the object resource's writable fields). */
export interface WritableMetadata {
  contentType?: string;
  contentEncoding?: string;
  contentDisposition?: string;
  contentLanguage?: string;
  cacheControl?: string;
  metadata?: Record<string, string>;
}

/** Identity of the data file a sidecar describes; a hand edit changes it and the sidecar is ignored. */
export interface FileIdentity {
  ino: number;
  size: number;
  mtimeMs: number;
}

/** What the sidecar `<root>/.meta/objects/<bucket>/<name>.meta.json` holds. */
export interface ObjectRecord extends WritableMetadata {
  bucket: string;
  name: string;
  generation: number;
  metageneration: number;
  size: number;
  md5Hash: string;
  crc32c: string;
  contentType: string;
  timeCreated: string;
  updated: string;
  file: FileIdentity;
}

export interface BucketRecord {
  name: string;
  location: string;
  storageClass: string;
  metageneration: number;
  timeCreated: string;
  updated: string;
  labels?: Record<string, string>;
}

/** What GCS stores when an upload names no content type. */
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

const OPTIONAL_STRING_FIELDS = ['contentEncoding', 'contentDisposition', 'contentLanguage', 'cacheControl'] as const;
const STRING_FIELDS = ['contentType', ...OPTIONAL_STRING_FIELDS] as const;

/**
 * Picks the writable fields out of a client's JSON (upload metadata or PATCH body). A `null`
 * removes a field; in `metadata` a `null` value removes that key, as the JSON API's PATCH does.
 */
export function mergeWritable(base: WritableMetadata, input: unknown): WritableMetadata {
  const result = pickWritable(base);
  if (typeof input !== 'object' || input === null) return result;
  const body = input as Record<string, unknown>;
  for (const field of STRING_FIELDS) {
    const value = body[field];
    if (value === null) delete result[field];
    else if (typeof value === 'string') result[field] = value;
  }
  const custom = body.metadata;
  if (custom === null) delete result.metadata;
  else if (typeof custom === 'object') {
    const merged: Record<string, string> = { ...result.metadata };
    for (const [key, value] of Object.entries(custom as Record<string, unknown>)) {
      if (value === null || value === undefined) delete merged[key];
      else merged[key] = String(value);
    }
    result.metadata = merged;
  }
  return result;
}

/** Just the writable fields of a record (dropping absent ones). */
export function pickWritable(source: WritableMetadata): WritableMetadata {
  const result: WritableMetadata = {};
  for (const field of STRING_FIELDS) {
    const value = source[field];
    if (value !== undefined) result[field] = value;
  }
  if (source.metadata) result.metadata = { ...source.metadata };
  return result;
}

/** The record with its writable fields replaced wholesale (a field absent from `writable` is cleared). */
export function withWritable(record: ObjectRecord, writable: WritableMetadata): ObjectRecord {
  const next: ObjectRecord = { ...record };
  for (const field of OPTIONAL_STRING_FIELDS) delete next[field];
  delete next.metadata;
  return { ...next, ...writable, contentType: writable.contentType ?? DEFAULT_CONTENT_TYPE };
}

const encode = encodeURIComponent;

function etag(generation: number, metageneration: number): string {
  return Buffer.from(`${generation}/${metageneration}`).toString('base64');
}

/** The JSON API object resource: https://cloud.google.com/storage/docs/json_api/v1/objects#resource */
export function objectResource(record: ObjectRecord, baseUrl: string): Record<string, unknown> {
  const path = `b/${encode(record.bucket)}/o/${encode(record.name)}`;
  const { file: _file, generation, metageneration, size, ...rest } = record;
  return {
    kind: 'storage#object',
    id: `${record.bucket}/${record.name}/${generation}`,
    selfLink: `${baseUrl}/storage/v1/${path}`,
    mediaLink: `${baseUrl}/download/storage/v1/${path}?generation=${generation}&alt=media`,
    ...rest,
    generation: String(generation),
    metageneration: String(metageneration),
    storageClass: 'STANDARD',
    size: String(size),
    etag: etag(generation, metageneration),
    timeStorageClassUpdated: record.timeCreated,
    timeFinalized: record.timeCreated,
  };
}

/** The JSON API bucket resource: https://cloud.google.com/storage/docs/json_api/v1/buckets#resource */
export function bucketResource(record: BucketRecord, baseUrl: string): Record<string, unknown> {
  return {
    kind: 'storage#bucket',
    id: record.name,
    selfLink: `${baseUrl}/storage/v1/b/${encode(record.name)}`,
    projectNumber: '0',
    ...record,
    metageneration: String(record.metageneration),
    etag: etag(0, record.metageneration),
    iamConfiguration: { uniformBucketLevelAccess: { enabled: true }, publicAccessPrevention: 'enforced' },
  };
}
