import type { Server } from 'node:http';
import type { Logger } from './logger.js';

export interface ShutdownSteps {
  /** Stop taking requests (e.g. close the HTTP server). */
  stopAccepting?: () => Promise<void>;
  /** Flush buffers; runs after no new work can arrive. */
  flush?: () => Promise<void>;
  /** Close clients; run together, failures collected rather than short-circuiting. */
  close?: Array<() => Promise<void>>;
}

/**
 * One idempotent `stop(error?)`, in the order Cloud Run's ~10 s SIGTERM grace allows:
 * stop accepting → flush → close clients (allSettled) → exit non-zero on any error.
 */
export function createStop(logger: Logger, steps: ShutdownSteps, exit: (code: number) => void = process.exit) {
  let stopping: Promise<void> | undefined;
  return function stop(error?: unknown): Promise<void> {
    if (stopping) return stopping;
    stopping = (async () => {
      let failed = error !== undefined;
      if (error !== undefined) logger.error({ err: error }, 'stopping after error');
      else logger.info('stopping');
      try {
        await steps.stopAccepting?.();
        await steps.flush?.();
      } catch (err) {
        failed = true;
        logger.error({ err }, 'shutdown step failed');
      }
      const results = await Promise.allSettled((steps.close ?? []).map((close) => close()));
      for (const result of results) {
        if (result.status === 'rejected') {
          failed = true;
          logger.error({ err: result.reason }, 'closing a client failed');
        }
      }
      logger.info({ failed }, 'stopped');
      exit(failed ? 1 : 0);
    })();
    return stopping;
  };
}

/** Wire SIGTERM/SIGINT and fatal errors to `stop`; an uncaught exception stops the process, never carries on. */
export function trapSignals(stop: (error?: unknown) => Promise<void>): void {
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
  process.once('uncaughtException', (err) => void stop(err));
  process.once('unhandledRejection', (err) => void stop(err));
}

/** How often a closing server drops the keep-alive sockets that went idle since the last look. */
const IDLE_SWEEP_MS = 100;

export function closeServer(server: Server): () => Promise<void> {
  return () =>
    new Promise((resolve, reject) => {
      // Idle keep-alive sockets would hold close() open until their keepAliveTimeout (minutes, behind
      // Google's front end); and every request still in flight leaves one more idle socket behind
      // when it is answered. Drop them as they go idle, until close() is done.
      const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
      server.close((err) => {
        clearInterval(sweep);
        if (err) reject(err);
        else resolve();
      });
      server.closeIdleConnections();
    });
}

export function listen(server: Server, port: number, host?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}
