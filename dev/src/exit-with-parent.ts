/**
 * Preloaded (`node --import`) into every service process the local stack spawns. The stack runs
 * each service in its own process group, so that a Ctrl-C in the terminal reaches only the stack,
 * which then stops the services in data-flow order after draining Pub/Sub. The price is that the
 * services no longer die with the terminal; this gives that back. The stack holds the other end of
 * the service's stdin pipe, and the kernel closes it however the stack ends (SIGKILL included), so
 * stdin ending means "the stack is gone".
 *
 * Then the service exits at once, without its SIGTERM shutdown: everything it could flush to (the
 * Pub/Sub and GCS emulators) lived in the stack's process and is gone, and so is the other end of
 * its stdout, where a shutdown's log lines would spin on EPIPE (seen: pino retrying forever).
 */
import { isMainThread } from 'node:worker_threads';

// Worker threads inherit the --import (ingest's prepare pool): there process.stdin is the worker's
// own, empty stream, whose end would SIGKILL the whole service the moment a worker starts.
if (isMainThread) {
  process.stdin.on('end', () => process.kill(process.pid, 'SIGKILL'));
  process.stdin.on('error', () => undefined);
  process.stdin.resume();
  // Watching the pipe must not be what keeps a service alive.
  (process.stdin as { unref?: () => void }).unref?.();
}
