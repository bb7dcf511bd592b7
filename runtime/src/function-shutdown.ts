import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Shutdown for the Functions Framework entries (`src/function.ts`), which do not own their server.
 *
 * Functions Framework 4 (`build/src/invoker.js`, `ErrorHandler.register`), once its server listens,
 * adds SIGTERM and SIGINT listeners that answer the request in flight with a 500 and call
 * `process.exit()` at once: on Cloud Run's SIGTERM nothing buffered would be flushed. Listeners run
 * in the order they were added and removing one during the emit does not stop it, so ours cannot
 * simply go first: the framework's are removed as they are added, and ours end the process.
 * Its crash handlers (uncaughtException, unhandledRejection: answer 500, exit 16) are left alone,
 * so a crash still ends the instance at once.
 * https://cloud.google.com/run/docs/container-contract#instance-shutdown
 */
const SIGNALS = ['SIGTERM', 'SIGINT'] as const;
const FRAMEWORK_FRAME = /[\\/]@google-cloud[\\/]functions-framework[\\/]/;

export type Handler<Req extends IncomingMessage = IncomingMessage, Res extends ServerResponse = ServerResponse> = (req: Req, res: Res) => void;

export interface InFlight<H> {
  /** The handler to register: the same one, counting the responses it has not finished. */
  handler: H;
  /** Resolves once no request is being answered (at once when none is). */
  idle(): Promise<void>;
}

/**
 * Counts requests until their response closes (sent, or the client went away). The framework's
 * server cannot be closed from the function, so a stop waits on this instead of `server.close()`.
 */
export function trackInFlight<Req extends IncomingMessage, Res extends ServerResponse>(handler: Handler<Req, Res>): InFlight<Handler<Req, Res>> {
  let open = 0;
  let waiters: Array<() => void> = [];
  const done = () => {
    open -= 1;
    if (open === 0) {
      const ready = waiters;
      waiters = [];
      for (const resolve of ready) resolve();
    }
  };
  return {
    handler: (req, res) => {
      open += 1;
      res.once('close', done);
      handler(req, res);
    },
    idle: () => (open === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
  };
}

/** Whether the current call stack runs inside the Functions Framework's own code. */
function calledFromFramework(): boolean {
  return FRAMEWORK_FRAME.test(new Error().stack ?? '');
}

/**
 * SIGTERM and SIGINT run `stop` (flush, close, exit) instead of the framework's immediate exit.
 * `process.on`, not `once`: a second signal during the stop must not fall back to Node's default,
 * which kills the process mid-flush; `stop` is idempotent. Call it once, at module load.
 */
export function trapFunctionSignals(stop: () => Promise<void>, proc: NodeJS.Process = process): void {
  for (const signal of SIGNALS) proc.on(signal, () => void stop());
  proc.on('newListener', (event: string | symbol, listener: (...args: unknown[]) => void) => {
    if (!(SIGNALS as readonly (string | symbol)[]).includes(event) || !calledFromFramework()) return;
    // 'newListener' is emitted before the listener is added; take it off once it is on. A signal
    // is delivered from the event loop, never between this and the microtask.
    queueMicrotask(() => proc.off(event, listener));
  });
}
