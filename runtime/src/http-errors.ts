import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { Logger } from './logger.js';

/**
 * One error body for every Strata service and the OpenAPI spec:
 * `{ "error": "<code>", "reason": "<sentence for a person>", ...details }`.
 * `error` is a stable snake_case code for programs; `reason` says what is wrong and where.
 */
export interface ErrorBody {
  error: string;
  reason: string;
  [detail: string]: unknown;
}

export function sendError(res: Response, status: number, error: string, reason: string, details: Record<string, unknown> = {}): void {
  const body: ErrorBody = { ...details, error, reason };
  res.status(status).json(body);
}

/** 404 for every route the service does not have, naming the ones it does. */
export function notFound(endpoints: string): RequestHandler {
  return (req, res) => sendError(res, 404, 'not_found', `${req.method} ${req.path} does not exist; ${endpoints}`);
}

/**
 * GET /healthz for Cloud Run's startup and liveness probes: `{"ok":true}` (200), or `{"ok":false}`
 * (503) once the service is stopping. It is unauthenticated (probes carry no token), so it says
 * nothing else: buffer sizes, versions or dependencies' states would tell anyone who can reach the
 * URL about the service. What operators need goes behind authentication (the writer's GET /stats).
 */
export function healthz(stopping: () => boolean = () => false): RequestHandler {
  return (_req, res) => {
    const ok = !stopping();
    res.status(ok ? 200 : 503).json({ ok });
  };
}

/**
 * Refuses requests once the service is stopping, before their bodies are read. Keep-alive
 * connections still deliver requests after `server.close()`; answering them 503 with
 * `Connection: close` (Pub/Sub and producers retry a 503) ends those connections, so stopping is
 * bounded by the requests already in flight.
 */
export function refuseWhileStopping(stopping: () => boolean, reason: string, retryAfterSeconds = 5): RequestHandler {
  return (_req, res, next) => {
    if (!stopping()) return next();
    res.set('connection', 'close');
    res.set('retry-after', String(retryAfterSeconds));
    sendError(res, 503, 'stopping', reason);
  };
}

interface BodyParserError {
  status?: number;
  type?: string;
  message?: string;
  limit?: number;
}

// body-parser's error types (https://github.com/expressjs/body-parser#errors) → our codes.
function describeClientError(err: BodyParserError): { error: string; reason: string } {
  switch (err.type) {
    case 'entity.parse.failed':
      return { error: 'invalid_json', reason: `body is not valid JSON: ${err.message}` };
    case 'entity.too.large':
      return { error: 'payload_too_large', reason: `body is larger than ${err.limit ?? 'the limit of'} bytes` };
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return { error: 'unsupported_encoding', reason: String(err.message) };
    case 'request.aborted':
      return { error: 'request_aborted', reason: 'the client closed the request before the body arrived' };
    default:
      return { error: 'bad_request', reason: String(err.message ?? 'bad request') };
  }
}

/**
 * The last middleware of every app: a 4xx from body parsing answers in the shared shape; anything
 * else is a bug, logged with its stack, and answers 500 without internals.
 */
export function jsonErrors(logger: Logger, what = 'request'): ErrorRequestHandler {
  return (err: BodyParserError, _req, res, _next) => {
    if (typeof err?.status === 'number' && err.status >= 400 && err.status < 500) {
      const { error, reason } = describeClientError(err);
      logger.warn({ error, reason }, `${what} refused`);
      sendError(res, err.status, error, reason);
      return;
    }
    logger.error({ err }, `${what} failed`);
    sendError(res, 500, 'internal', `${what} failed; see the service's logs`);
  };
}
