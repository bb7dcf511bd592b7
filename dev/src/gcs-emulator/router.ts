import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '@strata/runtime';
import { serveFaultAdmin } from '../fault-admin.js';
import { isFinalChunk, parseContentRange } from './content-range.js';
import { bucketResource } from './resources.js';
import type { RequestContext, Services } from './context.js';
import { sendMedia } from './download.js';
import { invalid, isGcsError, type GcsError } from './errors.js';
import type { FaultScope } from './faults.js';
import { bucketNameProblem, objectNameProblem } from './layout.js';
import { readJson, sendEmpty, sendError, sendJson } from './http-io.js';
import { copyObject, deleteObject, getObject, listObjects, patchObject } from './object-routes.js';
import { cancelUpload, continueUpload, startUpload } from './upload-routes.js';

type Api = 'json' | 'upload' | 'download';

/**
 * Splits a request path into API and decoded segments. The JSON API sits under `/storage/v1`,
 * and also at the root: with `STORAGE_EMULATOR_HOST` the client uses that host as its base
 * URL verbatim (`http://host/b/...`). Object names arrive as one %2F-encoded segment.
 */
export function parsePath(pathname: string): { api: Api; parts: string[] } | undefined {
  let segments: string[];
  try {
    segments = pathname.split('/').filter((s, i) => i > 0 || s !== '').map(decodeURIComponent);
  } catch {
    return undefined;
  }
  const [head, second, third] = segments;
  if ((head === 'upload' || head === 'download') && second === 'storage' && third === 'v1') {
    return { api: head, parts: segments.slice(3) };
  }
  if (head === 'storage' && second === 'v1') return { api: 'json', parts: segments.slice(2) };
  return { api: 'json', parts: segments };
}

/** What the fault injector matches a request against: its method, the object names it is about, a final upload PUT. */
export function faultScope(req: IncomingMessage, api: Api, parts: string[], query: URLSearchParams): FaultScope {
  const method = req.method ?? 'GET';
  const [, , o, name, , , , , dstName] = parts;
  const listing = api === 'json' && o === 'o' && name === undefined ? query.get('prefix') : null;
  const names = [name, dstName, query.get('name') ?? undefined, listing ?? undefined].filter((n): n is string => n !== undefined);
  const header = req.headers['content-range'];
  const finalChunk =
    api === 'upload' && method === 'PUT' && query.has('upload_id') && isFinalChunk(parseContentRange(Array.isArray(header) ? header[0] : header));
  return { method, names, finalChunk };
}

const notImplemented = (method: string | undefined, path: string): GcsError => ({
  status: 501,
  reason: 'notImplemented',
  message: `The GCS emulator does not implement ${method} ${path}`,
});

export function createRouter(services: Services, logger?: Logger) {
  const route = async (ctx: RequestContext, api: Api, parts: string[]): Promise<void> => {
    const method = ctx.req.method ?? 'GET';
    const [b, bucket, o, name, verb, b2, dstBucket, o2, dstName] = parts;
    if (b !== 'b') return sendError(ctx.res, notImplemented(method, ctx.req.url ?? ''));
    // Names become paths: refuse anything that could step outside the root before touching disk.
    for (const candidate of [bucket, dstBucket]) {
      const problem = candidate === undefined ? undefined : bucketNameProblem(candidate);
      if (problem) return sendError(ctx.res, invalid(problem), api === 'download');
    }
    for (const candidate of [name, dstName]) {
      const problem = candidate === undefined ? undefined : objectNameProblem(candidate);
      if (problem) return sendError(ctx.res, invalid(problem), api === 'download');
    }

    if (api === 'upload' && bucket !== undefined && o === 'o' && name === undefined) {
      const uploadId = ctx.query.get('upload_id');
      if (method === 'POST' && !uploadId) return startUpload(ctx, services, bucket);
      if (method === 'PUT' && uploadId) return continueUpload(ctx, services, uploadId);
      if (method === 'DELETE' && uploadId) return cancelUpload(ctx, services, uploadId);
    }
    if (api === 'download' && bucket !== undefined && o === 'o' && name !== undefined && parts.length === 4) {
      return sendMedia(ctx, services, bucket, name);
    }
    if (api !== 'json') return sendError(ctx.res, notImplemented(method, ctx.req.url ?? ''));

    if (bucket === undefined) {
      if (method === 'GET') {
        const items = (await services.buckets.list()).map((r) => bucketResource(r, ctx.baseUrl));
        return sendJson(ctx.res, 200, { kind: 'storage#buckets', ...(items.length ? { items } : {}) });
      }
      if (method === 'POST') {
        const body = await readJson(ctx.req);
        if (isGcsError(body)) return sendError(ctx.res, body);
        return sendBucket(ctx, await services.buckets.create(body));
      }
    } else if (o === undefined) {
      if (method === 'GET') return sendBucket(ctx, await services.buckets.get(bucket));
      if (method === 'DELETE') {
        const result = await services.buckets.remove(bucket);
        return isGcsError(result) ? sendError(ctx.res, result) : sendEmpty(ctx.res, 204);
      }
    } else if (o === 'o' && name === undefined) {
      if (method === 'GET') return listObjects(ctx, services, bucket);
    } else if (o === 'o' && name !== undefined && verb === undefined) {
      if (method === 'GET' || method === 'HEAD') return getObject(ctx, services, bucket, name);
      if (method === 'DELETE') return deleteObject(ctx, services, bucket, name);
      if (method === 'PATCH' || method === 'PUT') return patchObject(ctx, services, bucket, name);
    } else if (
      (verb === 'copyTo' || verb === 'rewriteTo') &&
      method === 'POST' &&
      b2 === 'b' &&
      o2 === 'o' &&
      dstBucket !== undefined &&
      dstName !== undefined &&
      name !== undefined
    ) {
      return copyObject(ctx, services, { bucket, name }, { bucket: dstBucket, name: dstName }, verb);
    }
    return sendError(ctx.res, notImplemented(method, ctx.req.url ?? ''));
  };

  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const ctx: RequestContext = { req, res, query: url.searchParams, baseUrl: `http://${req.headers.host ?? 'localhost'}` };
    try {
      if (serveFaultAdmin(req, res, services.faults)) return;
      const path = parsePath(url.pathname);
      if (!path) return sendError(res, invalid(`Malformed path: ${url.pathname}`));
      if (await services.faults.intercept(res, faultScope(req, path.api, path.parts, url.searchParams))) return;
      await route(ctx, path.api, path.parts);
    } catch (err) {
      logger?.error({ err, method: req.method, url: req.url }, 'gcs emulator request failed');
      sendError(res, { status: 500, reason: 'backendError', message: err instanceof Error ? err.message : String(err) });
    }
  };
}

function sendBucket(ctx: RequestContext, record: Parameters<typeof bucketResource>[0] | GcsError): void {
  if (isGcsError(record)) return sendError(ctx.res, record);
  sendJson(ctx.res, 200, bucketResource(record, ctx.baseUrl));
}
