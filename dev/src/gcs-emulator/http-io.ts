import { createWriteStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { errorBody, invalid, type GcsError } from './errors.js';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  // teeny-request (under @google-cloud/storage) only parses JSON for this exact content type.
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, 'Content-Length': 0 });
  res.end();
}

/**
 * Errors as the JSON API shapes them. Media downloads (`alt=media`) answer in plain text, which
 * the client copies into the error's message.
 */
export function sendError(res: ServerResponse, error: GcsError, plainText = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (error.status === 304) return sendEmpty(res, 304);
  if (!plainText) return sendJson(res, error.status, errorBody(error));
  res.writeHead(error.status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(error.message) });
  res.end(error.message);
}

/** Reads a whole request body; JSON bodies and multipart uploads are small enough to hold. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | GcsError> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) return { status: 413, reason: 'uploadTooLarge', message: `Request body over ${limit} bytes` };
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

const JSON_LIMIT = 1 << 20;

/** An absent or empty body is `{}`, as clients send no body for metadata-less requests. */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const body = await readBody(req, JSON_LIMIT);
  if (!Buffer.isBuffer(body)) return body;
  if (body.length === 0) return {};
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    return invalid('Request body is not valid JSON');
  }
}

/** Drops the first `count` bytes: a resumable chunk may repeat bytes the server already has. */
function skipBytes(count: number): Transform {
  let left = count;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (left >= chunk.length) {
        left -= chunk.length;
        return done();
      }
      const rest = chunk.subarray(left);
      left = 0;
      done(null, rest);
    },
  });
}

/**
 * Streams a request body (or any stream) into a file (`flags: 'a'` to append a resumable chunk). Resolves
 * false when the client went away mid-body; whatever arrived stays written.
 */
export async function bodyToFile(
  req: Readable,
  path: string,
  options: { append?: boolean; skip?: number } = {},
): Promise<boolean> {
  try {
    await pipeline(req, skipBytes(options.skip ?? 0), createWriteStream(path, { flags: options.append ? 'a' : 'w' }));
    return true;
  } catch (err) {
    if (req.destroyed || req.readableAborted) return false;
    throw err;
  }
}
