import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { removeFile, tempPath } from './atomic-files.js';
import type { RequestContext, Services } from './context.js';
import { sendMedia } from './download.js';
import { isGcsError, type GcsError } from './errors.js';
import { readJson, sendEmpty, sendError, sendJson } from './http-io.js';
import { globToRegExp, pageOfNames } from './listing.js';
import { parsePreconditions, type Preconditions } from './preconditions.js';
import { mergeWritable, objectResource, type ObjectRecord } from './resources.js';

/** https://cloud.google.com/storage/docs/json_api/v1/objects/list: at most 1000 per page. */
const MAX_PAGE = 1000;
/** Object records a listing reads at once. */
const READ_AHEAD = 16;

export async function listObjects({ res, query, baseUrl }: RequestContext, services: Services, bucket: string): Promise<void> {
  const prefix = query.get('prefix') ?? '';
  const range = { startOffset: query.get('startOffset') ?? undefined, endOffset: query.get('endOffset') ?? undefined };
  const delimiter = query.get('delimiter') || undefined;
  const matchGlob = query.get('matchGlob');
  const glob = matchGlob ? globToRegExp(matchGlob) : undefined;
  const names = await services.objects.names(bucket, prefix, range, { delimiter, ...(glob ? { accept: (name: string) => glob.test(name) } : {}) });
  if (isGcsError(names)) return sendError(res, names);
  const requested = Number(query.get('maxResults') ?? MAX_PAGE);
  const page = pageOfNames(names, {
    prefix,
    delimiter,
    ...range,
    pageToken: query.get('pageToken') || undefined,
    maxResults: Number.isInteger(requested) && requested > 0 ? Math.min(requested, MAX_PAGE) : MAX_PAGE,
    ...(glob ? { glob } : {}),
  });
  const items: Record<string, unknown>[] = [];
  // A page's objects read a few at a time: one by one, a listing's cost was its objects' file
  // reads in series, which GCS does not pay.
  for (let i = 0; i < page.objects.length; i += READ_AHEAD) {
    const records = await Promise.all(page.objects.slice(i, i + READ_AHEAD).map((name) => services.objects.describe(bucket, name)));
    for (const record of records) if (!isGcsError(record)) items.push(objectResource(record, baseUrl)); // deleted since the walk
  }
  sendJson(res, 200, {
    kind: 'storage#objects',
    ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
    ...(page.prefixes.length ? { prefixes: page.prefixes } : {}),
    ...(items.length ? { items } : {}),
  });
}

function withPreconditions(
  ctx: RequestContext,
  run: (pre: Preconditions) => Promise<void>,
  plainText = false,
): Promise<void> {
  const pre = parsePreconditions(ctx.query);
  if (isGcsError(pre)) {
    sendError(ctx.res, pre, plainText);
    return Promise.resolve();
  }
  return run(pre);
}

export async function getObject(ctx: RequestContext, services: Services, bucket: string, name: string): Promise<void> {
  if (ctx.query.get('alt') === 'media') return sendMedia(ctx, services, bucket, name);
  return withPreconditions(ctx, async (pre) => {
    const record = await services.objects.get(bucket, name, pre);
    sendRecord(ctx, record);
  });
}

export function deleteObject(ctx: RequestContext, services: Services, bucket: string, name: string): Promise<void> {
  return withPreconditions(ctx, async (pre) => {
    const result = await services.objects.remove(bucket, name, pre);
    if (isGcsError(result)) return sendError(ctx.res, result);
    sendEmpty(ctx.res, 204);
  });
}

/** PATCH (and PUT, treated the same): writable metadata only; bumps metageneration. */
export function patchObject(ctx: RequestContext, services: Services, bucket: string, name: string): Promise<void> {
  return withPreconditions(ctx, async (pre) => {
    const body = await readJson(ctx.req);
    if (isGcsError(body)) return sendError(ctx.res, body);
    sendRecord(ctx, await services.objects.patch(bucket, name, body, pre));
  });
}

/**
 * `copyTo` and `rewriteTo` (what `file.copy()`/`file.move()` call): the emulator always finishes
 * in one call, so a rewrite answers `done: true`. Destination preconditions come from the query;
 * the destination keeps the source's metadata unless the body overrides it.
 * https://cloud.google.com/storage/docs/json_api/v1/objects/rewrite
 */
export async function copyObject(
  ctx: RequestContext,
  services: Services,
  source: { bucket: string; name: string },
  target: { bucket: string; name: string },
  style: 'copyTo' | 'rewriteTo',
): Promise<void> {
  return withPreconditions(ctx, async (pre) => {
    const body = await readJson(ctx.req);
    if (isGcsError(body)) return sendError(ctx.res, body);
    const sourcePre = sourcePreconditions(ctx.query);
    if (isGcsError(sourcePre)) return sendError(ctx.res, sourcePre);
    const snapshot = await services.objects.open(source.bucket, source.name, sourcePre);
    if (isGcsError(snapshot)) return sendError(ctx.res, snapshot);
    const { record: from, handle } = snapshot;
    const tempFile = tempPath(services.layout.tmpDir);
    try {
      await pipeline(handle.createReadStream({ start: 0 }), createWriteStream(tempFile));
    } catch (err) {
      await removeFile(tempFile);
      throw err;
    }
    const { md5Hash, crc32c, size } = from;
    const record = await services.objects.commit({
      ...target,
      tempFile,
      checksums: { md5Hash, crc32c, size },
      metadata: mergeWritable(from, body),
      preconditions: pre,
    });
    if (isGcsError(record) || style === 'copyTo') return sendRecord(ctx, record);
    const resource = objectResource(record, ctx.baseUrl);
    sendJson(ctx.res, 200, {
      kind: 'storage#rewriteResponse',
      totalBytesRewritten: String(record.size),
      objectSize: String(record.size),
      done: true,
      resource,
    });
  });
}

/** `ifSourceGenerationMatch` etc. guard the source object of a copy. */
function sourcePreconditions(query: URLSearchParams): Preconditions | GcsError {
  const source = new URLSearchParams();
  for (const [key, value] of query) {
    if (key.startsWith('ifSource')) source.set(`if${key.slice('ifSource'.length)}`, value);
  }
  return parsePreconditions(source);
}

export function sendRecord(ctx: RequestContext, record: ObjectRecord | GcsError): void {
  if (isGcsError(record)) return sendError(ctx.res, record);
  sendJson(ctx.res, 200, objectResource(record, ctx.baseUrl));
}
