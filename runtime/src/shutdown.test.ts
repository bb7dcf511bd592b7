import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { closeServer, createStop, listen } from './shutdown.js';

const silent = createLogger({ service: 't', level: 'silent' });

describe('createStop', () => {
  it('stops accepting, then flushes, then closes every client, once, and exits 0', async () => {
    const order: string[] = [];
    const exits: number[] = [];
    const stop = createStop(
      silent,
      {
        stopAccepting: async () => void order.push('stopAccepting'),
        flush: async () => void order.push('flush'),
        close: [async () => void order.push('close a'), async () => void order.push('close b')],
      },
      (code) => exits.push(code),
    );
    await Promise.all([stop(), stop()]);
    expect(order).toEqual(['stopAccepting', 'flush', 'close a', 'close b']);
    expect(exits).toEqual([0]);
  });

  it('still closes every client when one fails or a step throws, and exits 1', async () => {
    const closed: string[] = [];
    const exits: number[] = [];
    const stop = createStop(
      silent,
      {
        flush: async () => {
          throw new Error('flush failed');
        },
        close: [async () => Promise.reject(new Error('nope')), async () => void closed.push('b')],
      },
      (code) => exits.push(code),
    );
    await stop();
    expect(closed).toEqual(['b']);
    expect(exits).toEqual([1]);
  });

  it('exits 1 when stopping because of an error', async () => {
    const exits: number[] = [];
    await createStop(silent, {}, (code) => exits.push(code))(new Error('boom'));
    expect(exits).toEqual([1]);
  });
});

describe('listen and closeServer', () => {
  it('listens on a free port and closes even with idle keep-alive sockets', async () => {
    const server = createServer((_req, res) => res.end('ok'));
    const port = await listen(server, 0, '127.0.0.1');
    expect(port).toBeGreaterThan(0);
    const res = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'keep-alive' } });
    expect(await res.text()).toBe('ok');
    await closeServer(server)();
    expect(server.listening).toBe(false);
  });

  it('closes promptly when a request in flight leaves its keep-alive socket idle after close began', async () => {
    const server = createServer((_req, res) => setTimeout(() => res.end('late'), 300));
    server.keepAliveTimeout = 60_000;
    const port = await listen(server, 0, '127.0.0.1');
    const answered = fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'keep-alive' } }).then((r) => r.text());
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    await closeServer(server)();
    expect(await answered).toBe('late');
    // Without sweeping idle sockets, close() would wait out the 60 s keep-alive timeout.
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
