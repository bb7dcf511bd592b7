import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { listen } from './shutdown.js';
import { trackInFlight, trapFunctionSignals } from './function-shutdown.js';

describe('trackInFlight', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  it('is idle at once with no request, and only once every response has closed', async () => {
    let answer: (() => void) | undefined;
    const inFlight = trackInFlight((_req, res) => {
      answer = () => res.end('ok');
    });
    await expect(inFlight.idle()).resolves.toBeUndefined();
    server = createServer(inFlight.handler);
    const port = await listen(server, 0, '127.0.0.1');
    const response = fetch(`http://127.0.0.1:${port}/`);
    await vi.waitFor(() => expect(answer).toBeDefined());
    let idle = false;
    const waiting = inFlight.idle().then(() => (idle = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(idle).toBe(false);
    answer!();
    expect(await (await response).text()).toBe('ok');
    await waiting;
    expect(idle).toBe(true);
  });
});

describe('trapFunctionSignals', () => {
  it('runs stop on SIGTERM and SIGINT, every time (stop is idempotent), and keeps listeners not added by the Functions Framework', async () => {
    const proc = new EventEmitter() as unknown as NodeJS.Process;
    const stop = vi.fn(() => Promise.resolve());
    trapFunctionSignals(stop, proc);
    const other = vi.fn();
    proc.on('SIGTERM', other);
    await Promise.resolve();
    proc.emit('SIGTERM');
    proc.emit('SIGTERM');
    proc.emit('SIGINT');
    expect(stop).toHaveBeenCalledTimes(3);
    expect(other).toHaveBeenCalledTimes(2);
    // The removal of the framework's own listeners is checked against the real framework in
    // infra/bundle/deploy.integration.test.ts (a held push is flushed on SIGTERM, exit 0).
  });
});
