import { pipeline } from 'node:stream/promises';
import { formatGoogHash } from './checksums.js';
import type { RequestContext, Services } from './context.js';
import { isGcsError, objectNotFound, rangeNotSatisfiable } from './errors.js';
import { sendError } from './http-io.js';
import { parsePreconditions } from './preconditions.js';

/** An inclusive byte range, or why none can be served. */
export type ByteRange = { start: number; end: number } | 'unsatisfiable' | undefined;

/**
 * `Range: bytes=a-b | a- | -n` (one range; GCS ignores multi-range requests and sends it all).
 * The client's `createReadStream({ start, end })` sends these, `end < 0` as a suffix length.
 */
export function parseRange(header: string | undefined, size: number): ByteRange {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header?.trim() ?? '');
  if (!match) return undefined;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return undefined;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (start >= size) return 'unsatisfiable';
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (end < start) return undefined;
  return { start, end };
}

/**
 * `GET …/o/<name>?alt=media`. Headers follow what the client reads: `x-goog-hash` carries both
 * checksums for its download validation, and `x-goog-stored-content-encoding: identity` tells it
 * the bytes are safe to validate. https://cloud.google.com/storage/docs/json_api/v1/objects/get
 */
export async function sendMedia({ req, res, query }: RequestContext, services: Services, bucket: string, name: string): Promise<void> {
  const pre = parsePreconditions(query);
  if (isGcsError(pre)) return sendError(res, pre, true);
  const snapshot = await services.objects.open(bucket, name, pre);
  if (isGcsError(snapshot)) return sendError(res, snapshot, true);
  const { record, handle } = snapshot;
  const generation = query.get('generation');
  if (generation !== null && generation !== String(record.generation)) {
    await handle.close();
    return sendError(res, objectNotFound(bucket, name), true);
  }
  const range = parseRange(req.headers.range, record.size);
  if (range === 'unsatisfiable') {
    await handle.close();
    res.setHeader('Content-Range', `bytes */${record.size}`);
    return sendError(res, rangeNotSatisfiable(), true);
  }
  const headers: Record<string, string | number> = {
    'Content-Type': record.contentType,
    'Accept-Ranges': 'bytes',
    ETag: `"${record.md5Hash}"`,
    'Last-Modified': new Date(record.updated).toUTCString(),
    'x-goog-hash': formatGoogHash(record),
    'x-goog-generation': String(record.generation),
    'x-goog-metageneration': String(record.metageneration),
    'x-goog-stored-content-encoding': record.contentEncoding ?? 'identity',
    'x-goog-stored-content-length': String(record.size),
    'x-goog-storage-class': 'STANDARD',
  };
  if (record.contentEncoding) headers['Content-Encoding'] = record.contentEncoding;
  if (record.contentDisposition) headers['Content-Disposition'] = record.contentDisposition;
  if (record.cacheControl) headers['Cache-Control'] = record.cacheControl;
  if (range) {
    headers['Content-Range'] = `bytes ${range.start}-${range.end}/${record.size}`;
    headers['Content-Length'] = range.end - range.start + 1;
  } else {
    headers['Content-Length'] = record.size;
  }
  res.writeHead(range ? 206 : 200, headers);
  if (req.method === 'HEAD' || record.size === 0) {
    await handle.close();
    res.end();
    return;
  }
  // The handle was opened before any later write renamed a new file over the name, so these are
  // exactly the bytes the checksums above describe.
  const body = handle.createReadStream(range ? { start: range.start, end: range.end } : { start: 0 });
  try {
    await pipeline(body, res);
  } catch {
    // The client hung up mid-download; the stream's autoClose has released the handle.
  }
}
