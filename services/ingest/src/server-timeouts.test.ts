import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { listen } from '@strata/runtime';
import { createBodyReader } from './body.js';
import { applyServerTimeouts, DEFAULT_REQUEST_TIMEOUT_MS } from './server-timeouts.js';

const REQUEST_TIMEOUT_MS = 500;
// Node checks deadlines every checkIntervalMs (50 ms here); the rest is a loaded 2-core box.
const SLACK_MS = 400;

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

/** The real body reader behind the timeouts: it waits for the body, so only Node can end this. */
async function start(): Promise<number> {
  const app = express();
  app.post('/', createBodyReader({ maxBodyBytes: 1_048_576, maxDecodedBytes: 1_048_576 }), (req, res) => {
    res.status(202).json({ accepted: (req.body as unknown[]).length });
  });
  server = createServer(app);
  applyServerTimeouts(server, { requestTimeoutMs: REQUEST_TIMEOUT_MS });
  return listen(server, 0, '127.0.0.1');
}

/** Writes `data` on a raw socket, resolving with what came back and when the socket closed. */
function openSocket(port: number): Promise<{ socket: Socket; closed: Promise<{ ms: number; received: string }> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.once('error', reject);
    socket.once('connect', () => {
      const started = Date.now();
      const closed = new Promise<{ ms: number; received: string }>((done) => socket.once('close', () => done({ ms: Date.now() - started, received })));
      resolve({ socket, closed });
    });
  });
}

describe('applyServerTimeouts', () => {
  it('answers 408 and closes a request that announces 1000 bytes and sends 9', async () => {
    const port = await start();
    const { socket, closed } = await openSocket(port);
    socket.write('POST / HTTP/1.1\r\nHost: ingest\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{"a":1},');
    const { ms, received } = await closed;
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
    expect(ms).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
    expect(ms).toBeLessThan(REQUEST_TIMEOUT_MS + SLACK_MS);
  });

  it('closes a connection whose headers never finish', async () => {
    const port = await start();
    const { socket, closed } = await openSocket(port);
    socket.write('POST / HTTP/1.1\r\nHost: ingest\r\n');
    const { ms, received } = await closed;
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
    expect(ms).toBeLessThan(REQUEST_TIMEOUT_MS + SLACK_MS);
  });

  it('keeps an idle kept-alive connection past the headers timeout, for the next request', async () => {
    const port = await start();
    const { socket } = await openSocket(port);
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    const request = 'POST / HTTP/1.1\r\nHost: ingest\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n[{"a":1}]';
    socket.write(request);
    await waitFor(() => received.includes('{"accepted":1}'));
    // Idle for longer than the headers and request timeouts: the keep-alive timeout governs.
    await new Promise((resolve) => setTimeout(resolve, REQUEST_TIMEOUT_MS + 300));
    expect(socket.destroyed).toBe(false);
    received = '';
    socket.write(request);
    await waitFor(() => received.includes('{"accepted":1}'));
    expect(received).toMatch(/^HTTP\/1\.1 202 /);
    socket.destroy();
  });

  it('uses 30 s for the request, at most 10 s for headers, and a keep-alive longer than the load balancer’s 600 s', () => {
    const applied = applyServerTimeouts(createServer());
    expect(applied).toEqual({ requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS, headersTimeoutMs: 10_000, keepAliveTimeoutMs: 620_000, checkIntervalMs: 1_000 });
    expect(DEFAULT_REQUEST_TIMEOUT_MS).toBe(30_000);
  });

  it('refuses to run after listen, when Node has already fixed its check interval', async () => {
    await start();
    expect(() => applyServerTimeouts(server!)).toThrow(/before server.listen/);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
