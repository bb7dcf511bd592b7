import type { Server } from 'node:http';

/**
 * Server timeouts, so a client cannot hold a connection by announcing a Content-Length and
 * sending a few bytes (or trickling headers). Node answers such a request 408 and closes it.
 * https://nodejs.org/docs/latest-v20.x/api/http.html#serverrequesttimeout
 */
export interface ServerTimeouts {
  /** The whole request (headers and body) must arrive within this; Node answers 408 otherwise. */
  requestTimeoutMs: number;
  /** The headers must arrive within this; never more than requestTimeoutMs (Node requires it). */
  headersTimeoutMs: number;
  /** An idle kept-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** How often Node looks for requests past their deadline: a timeout fires up to this late. */
  checkIntervalMs: number;
}

/**
 * 30 s to receive a request: ingest bodies are at most INGEST_MAX_BODY_BYTES (1 MiB by default;
 * a beacon is at most 64 KiB), which 30 s carries even over a poor mobile link. Only receiving
 * counts: the timer stops once the body is complete, so a slow publish is not cut short.
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** Headers are a few hundred bytes; Node's default of 60 s only helps a slowloris. */
const HEADERS_TIMEOUT_MS = 10_000;

/**
 * Longer than any proxy in front of us keeps an idle connection to the container, so the proxy,
 * not Node, closes it. When the backend closes first, a request the proxy sends on that
 * connection at the same moment fails with a 502 (the usual Node-behind-a-load-balancer bug with
 * Node's 5 s default). Cloud Run's own front end does not document its idle timeout; Google's
 * Application Load Balancer (which can front Cloud Run through a serverless NEG) keeps backend
 * connections 600 s and asks backends to keep theirs longer:
 * https://cloud.google.com/load-balancing/docs/https#timeouts_and_retries
 * An idle socket costs little, and shutdown closes idle connections at once (closeServer).
 */
const KEEP_ALIVE_TIMEOUT_MS = 620_000;

/**
 * Applies the timeouts to `server`. Call it before `listen`: Node starts its deadline checker on
 * 'listening' with the interval read then, and only `createServer` options document it, so a
 * later call would leave a 30 s check interval (timeouts firing up to 30 s late).
 */
export function applyServerTimeouts(server: Server, options: { requestTimeoutMs?: number } = {}): ServerTimeouts {
  if (server.listening) throw new Error('applyServerTimeouts must be called before server.listen()');
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  if (!Number.isInteger(requestTimeoutMs) || requestTimeoutMs <= 0) throw new Error(`requestTimeoutMs must be a positive integer, got ${requestTimeoutMs}`);
  const headersTimeoutMs = Math.min(HEADERS_TIMEOUT_MS, requestTimeoutMs);
  // A tenth of the shortest deadline, at most 1 s: checking walks only the open connections.
  const checkIntervalMs = Math.max(10, Math.min(1_000, Math.floor(headersTimeoutMs / 10)));
  server.requestTimeout = requestTimeoutMs;
  server.headersTimeout = headersTimeoutMs;
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  // Read by Node when the server starts listening (lib/_http_server.js, setupConnectionsTracking).
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = checkIntervalMs;
  return { requestTimeoutMs, headersTimeoutMs, keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS, checkIntervalMs };
}
