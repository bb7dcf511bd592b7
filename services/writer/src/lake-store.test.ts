import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { CRC32C, Storage } from '@google-cloud/storage';
import { closeServer, listen } from '@strata/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGcsLakeStore } from './lake-store.js';
import { createMemoryLakeStore } from './lake-store.fake.js';

interface Upload {
  query: URLSearchParams;
  metadata: Record<string, unknown>;
  media: Buffer;
}

async function bodyOf(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** multipart/related: a JSON metadata part, then the media part. */
function parseMultipart(contentType: string, body: Buffer): { metadata: Record<string, unknown>; media: Buffer } {
  const boundary = /boundary=("?)([^";]+)\1/.exec(contentType)?.[2];
  const parts = body
    .toString('latin1')
    .split(`--${boundary}`)
    .slice(1, -1)
    .map((part) => part.slice(part.indexOf('\r\n\r\n') + 4, -2));
  return { metadata: JSON.parse(parts[0]!) as Record<string, unknown>, media: Buffer.from(parts[1]!, 'latin1') };
}

function crc32c(bytes: Buffer): string {
  const hash = new CRC32C();
  hash.update(bytes);
  return hash.toString();
}

// A recording stand-in for the GCS JSON API's multipart upload, enough to check what the real client sends.
let server: Server;
let endpoint: string;
const uploads: Upload[] = [];
const existing = new Set<string>();

beforeAll(async () => {
  server = createServer((req, res) => {
    bodyOf(req).then((body) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const { metadata, media } = parseMultipart(req.headers['content-type'] ?? '', body);
      const name = String(metadata.name ?? url.searchParams.get('name'));
      uploads.push({ query: url.searchParams, metadata, media });
      if (url.searchParams.get('ifGenerationMatch') === '0' && existing.has(name)) {
        res.writeHead(412, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 412, message: 'conditionNotMet' } }));
        return;
      }
      existing.add(name);
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          ...metadata,
          bucket: 'lake',
          name,
          generation: '1',
          size: String(media.length),
          md5Hash: createHash('md5').update(media).digest('base64'),
          crc32c: crc32c(media),
        }),
      );
    }).catch((err: Error) => res.writeHead(400).end(err.message)); // 400: the client would retry a 5xx
  });
  endpoint = `http://127.0.0.1:${await listen(server, 0, '127.0.0.1')}`;
});

afterAll(async () => {
  await closeServer(server)();
});

describe('createGcsLakeStore', () => {
  it('uploads in one request, create-only, with the content type', async () => {
    const store = createGcsLakeStore(new Storage({ apiEndpoint: endpoint, projectId: 'strata-test' }).bucket('lake'));
    const bytes = new Uint8Array([80, 65, 82, 49, 0, 255, 80, 65, 82, 49]);
    await store.put('events/log_type=user_action/dt=2024-05-06/hr=07/a.parquet', bytes, 'application/vnd.apache.parquet');
    const upload = uploads.at(-1)!;
    expect(upload.query.get('uploadType')).toBe('multipart');
    expect(upload.query.get('ifGenerationMatch')).toBe('0');
    expect(upload.metadata).toMatchObject({ contentType: 'application/vnd.apache.parquet' });
    expect(new Uint8Array(upload.media)).toEqual(bytes);
  });

  it('rejects when the object already exists', async () => {
    const store = createGcsLakeStore(new Storage({ apiEndpoint: endpoint, projectId: 'strata-test' }).bucket('lake'));
    await store.put('quarantine/x.jsonl', new Uint8Array([1]), 'application/x-ndjson');
    await expect(store.put('quarantine/x.jsonl', new Uint8Array([2]), 'application/x-ndjson')).rejects.toThrow();
  });
});

describe('createMemoryLakeStore', () => {
  it('keeps a copy of each object, refuses overwrites and fails on demand', async () => {
    const store = createMemoryLakeStore();
    const bytes = new Uint8Array([1, 2]);
    await store.put('a', bytes, 'text/plain');
    bytes[0] = 9;
    expect(store.objects.get('a')).toEqual({ bytes: new Uint8Array([1, 2]), contentType: 'text/plain' });
    await expect(store.put('a', bytes, 'text/plain')).rejects.toThrow(/exists/);
    store.failPuts = true;
    await expect(store.put('b', bytes, 'text/plain')).rejects.toThrow(/the fake was told to fail it/);
  });
});
