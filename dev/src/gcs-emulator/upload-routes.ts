import { open, writeFile } from 'node:fs/promises';
import { removeFile, tempPath } from './atomic-files.js';
import { checksumHandle, checksumMismatch, parseGoogHash, type DeclaredHashes } from './checksums.js';
import { parseContentRange } from './content-range.js';
import type { RequestContext, Services } from './context.js';
import { invalid, isGcsError, required, type GcsError } from './errors.js';
import { bodyToFile, readBody, readJson, sendEmpty, sendError, sendJson } from './http-io.js';
import { objectNameProblem } from './layout.js';
import { parseMultipartRelated } from './multipart.js';
import { sendRecord } from './object-routes.js';
import { parsePreconditions, type Preconditions } from './preconditions.js';
import { mergeWritable, objectResource, type WritableMetadata } from './resources.js';

/** Multipart bodies are parsed in memory; resumable uploads are the way for anything larger. */
const MULTIPART_LIMIT = 256 << 20;

/**
 * `POST /upload/storage/v1/b/<bucket>/o?uploadType=media|multipart|resumable`
 * https://cloud.google.com/storage/docs/json_api/v1/objects/insert
 */
export async function startUpload(ctx: RequestContext, services: Services, bucket: string): Promise<void> {
  const pre = parsePreconditions(ctx.query);
  if (isGcsError(pre)) return sendError(ctx.res, pre);
  const uploadType = ctx.query.get('uploadType') ?? 'media';
  if (uploadType === 'media') return mediaUpload(ctx, services, bucket, pre);
  if (uploadType === 'multipart') return multipartUpload(ctx, services, bucket, pre);
  if (uploadType === 'resumable') return resumableStart(ctx, services, bucket, pre);
  sendError(ctx.res, invalid(`Unknown uploadType: ${uploadType}`));
}

/** The object name from `?name=` or the metadata's `name`, checked against the file mirror. */
function objectName(query: URLSearchParams, metadata: unknown): string | GcsError {
  const fromBody = typeof metadata === 'object' && metadata !== null ? (metadata as { name?: unknown }).name : undefined;
  const name = query.get('name') ?? (typeof fromBody === 'string' ? fromBody : undefined);
  if (!name) return required('object name');
  const problem = objectNameProblem(name);
  return problem ? invalid(problem) : name;
}

/** Hashes a client may declare in the object metadata; the server must then verify them. */
function declaredHashes(metadata: unknown): DeclaredHashes {
  const fields = (typeof metadata === 'object' && metadata !== null ? metadata : {}) as Record<string, unknown>;
  return {
    ...(typeof fields.md5Hash === 'string' ? { md5: fields.md5Hash } : {}),
    ...(typeof fields.crc32c === 'string' ? { crc32c: fields.crc32c } : {}),
  };
}

/** Hash the finished temp file, verify declared hashes, then let the store commit it atomically. */
async function commitTemp(
  ctx: RequestContext,
  services: Services,
  target: { bucket: string; name: string; metadata: WritableMetadata; preconditions: Preconditions },
  tempFile: string,
  declared: Array<DeclaredHashes>,
): Promise<void> {
  const handle = await open(tempFile, 'r');
  const checksums = await checksumHandle(handle).finally(() => handle.close());
  const mismatch = declared.map((hashes) => checksumMismatch(hashes, checksums)).find(Boolean);
  if (mismatch) {
    await removeFile(tempFile);
    return sendError(ctx.res, invalid(mismatch));
  }
  sendRecord(ctx, await services.objects.commit({ ...target, tempFile, checksums }));
}

async function mediaUpload(ctx: RequestContext, services: Services, bucket: string, preconditions: Preconditions): Promise<void> {
  const name = objectName(ctx.query, undefined);
  if (isGcsError(name)) return sendError(ctx.res, name);
  const metadata: WritableMetadata = {
    ...(ctx.req.headers['content-type'] ? { contentType: ctx.req.headers['content-type'] } : {}),
    ...(ctx.query.get('contentEncoding') ? { contentEncoding: ctx.query.get('contentEncoding') ?? undefined } : {}),
  };
  const tempFile = tempPath(services.layout.tmpDir);
  if (!(await bodyToFile(ctx.req, tempFile))) return removeFile(tempFile);
  const hashHeader = parseGoogHash(headerValue(ctx.req.headers['x-goog-hash']));
  return commitTemp(ctx, services, { bucket, name, metadata, preconditions }, tempFile, [hashHeader]);
}

async function multipartUpload(ctx: RequestContext, services: Services, bucket: string, preconditions: Preconditions): Promise<void> {
  const body = await readBody(ctx.req, MULTIPART_LIMIT);
  if (isGcsError(body)) return sendError(ctx.res, body);
  const parts = parseMultipartRelated(body, ctx.req.headers['content-type']);
  if (isGcsError(parts)) return sendError(ctx.res, parts);
  const name = objectName(ctx.query, parts.metadata);
  if (isGcsError(name)) return sendError(ctx.res, name);
  const metadata = mergeWritable(parts.mediaType ? { contentType: parts.mediaType } : {}, parts.metadata);
  const tempFile = tempPath(services.layout.tmpDir);
  await writeFile(tempFile, parts.media);
  const hashHeader = parseGoogHash(headerValue(ctx.req.headers['x-goog-hash']));
  return commitTemp(ctx, services, { bucket, name, metadata, preconditions }, tempFile, [hashHeader, declaredHashes(parts.metadata)]);
}

/** Answers with the session URI in `Location`; the client PUTs the bytes there. */
async function resumableStart(ctx: RequestContext, services: Services, bucket: string, preconditions: Preconditions): Promise<void> {
  const body = await readJson(ctx.req);
  if (isGcsError(body)) return sendError(ctx.res, body);
  const name = objectName(ctx.query, body);
  if (isGcsError(name)) return sendError(ctx.res, name);
  const headerType = headerValue(ctx.req.headers['x-upload-content-type']);
  const metadata = mergeWritable(headerType ? { contentType: headerType } : {}, body);
  const session = await services.uploads.start({ bucket, name, metadata, preconditions, declared: declaredHashes(body) });
  if (isGcsError(session)) return sendError(ctx.res, session);
  const location = new URL(`${ctx.baseUrl}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o`);
  location.searchParams.set('uploadType', 'resumable');
  location.searchParams.set('name', name);
  location.searchParams.set('upload_id', session.id);
  sendEmpty(ctx.res, 200, { Location: location.toString(), 'X-GUploader-UploadID': session.id });
}

/**
 * `PUT <session URI>`: a chunk, the final chunk, or a status query. Incomplete answers are 308
 * with `Range: bytes=0-<last byte held>` (no Range while nothing is held), which the client
 * reads to pick the next offset.
 */
export async function continueUpload(ctx: RequestContext, services: Services, uploadId: string): Promise<void> {
  const range = parseContentRange(headerValue(ctx.req.headers['content-range']));
  if (!range) return sendError(ctx.res, invalid(`Malformed Content-Range: ${ctx.req.headers['content-range']}`));
  const declared = parseGoogHash(headerValue(ctx.req.headers['x-goog-hash']));
  const outcome = await services.uploads.put(uploadId, range, ctx.req, declared);
  if (isGcsError(outcome)) return sendError(ctx.res, outcome);
  if (outcome.state === 'done') return sendJson(ctx.res, 200, objectResource(outcome.record, ctx.baseUrl));
  sendEmpty(ctx.res, 308, outcome.received > 0 ? { Range: `bytes=0-${outcome.received - 1}` } : {});
}

/** `DELETE <session URI>` cancels; GCS answers 499 for a cancelled session. */
export async function cancelUpload(ctx: RequestContext, services: Services, uploadId: string): Promise<void> {
  const cancelled = await services.uploads.cancel(uploadId);
  if (!cancelled) return sendError(ctx.res, { status: 404, reason: 'notFound', message: `No such upload session: ${uploadId}` });
  sendEmpty(ctx.res, 499);
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
