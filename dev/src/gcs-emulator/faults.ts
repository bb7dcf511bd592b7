import type { ServerResponse } from 'node:http';
import type { FaultAdmin } from '../fault-admin.js';
import { sendError } from './http-io.js';

/**
 * Faults the GCS emulator injects while it runs, for chaos tests (dev/ only, never in a service):
 * switched over HTTP at `/_strata/faults` on the emulator's own port (see fault-admin.ts), with
 * `setGcsFaults(url, …)`, or with `emulator.faults.set(…)` in the same process.
 */
export interface GcsFaultSettings {
  /** Share (0–1) of requests in scope answered 503 `backendError`, as GCS does, before storage is touched. */
  errorRate: number;
  /** Added before each request in scope is handled; clearing the faults ends waits at once. */
  latencyMs: number;
  /**
   * Share (0–1) of requests in scope accepted and never answered: the socket is held until the
   * client gives up, the faults are cleared or the emulator stops (then it is destroyed, which the
   * client sees as ECONNRESET and retries).
   */
  timeoutRate: number;
  /**
   * The final PUT of every resumable upload in scope is answered 503 and its bytes dropped, after
   * the session was created: no object is created, and the session stays, as after a transient GCS
   * failure, so a retry once the faults are cleared can finish it.
   */
  failResumableUploads: boolean;
  /** HTTP methods in scope (`["POST", "PUT"]`); null: every method. */
  methods: string[] | null;
  /**
   * Object names in scope; '' is every request. With a prefix, a request is in scope when an object
   * it names (path, `?name=`, a copy's destination) or the `prefix` of its listing starts with it;
   * bucket calls name none and are left alone.
   */
  prefix: string;
}

/** What a POST sends: the settings to change; `null` resets `methods` or `prefix`. */
export type GcsFaults = { [K in keyof GcsFaultSettings]?: GcsFaultSettings[K] | null };

export interface GcsFaultCounts {
  error: number;
  latency: number;
  timeout: number;
  resumableUpload: number;
}

/** The admin endpoint's answer. */
export interface GcsFaultState {
  settings: GcsFaultSettings;
  /** Faults injected since the emulator started, by kind (clearing does not reset them). */
  injected: GcsFaultCounts;
  /** Requests held unanswered right now (timeouts the client has not given up on). */
  held: number;
}

/** What the router knows of a request before routing it. */
export interface FaultScope {
  method: string;
  /** Object names (or a listing's prefix) the request is about. */
  names: string[];
  /** A resumable upload's PUT that completes the object. */
  finalChunk: boolean;
}

export interface GcsFaultInjector extends FaultAdmin<GcsFaultState> {
  /** Throws on an invalid setting (a test's bug). */
  set(faults: GcsFaults): GcsFaultState;
  /** Applies the faults in force to one request: true when it was answered or is held, so the router leaves it. */
  intercept(res: ServerResponse, scope: FaultScope): Promise<boolean>;
  /** On stop: releases held requests and ends pending delays without routing them. */
  close(): void;
}

const NONE: GcsFaultSettings = { errorRate: 0, latencyMs: 0, timeoutRate: 0, failResumableUploads: false, methods: null, prefix: '' };
const LONGEST_LATENCY_MS = 600_000;

const isRate = (value: unknown): value is number => typeof value === 'number' && value >= 0 && value <= 1;

/** The changes a body asks for, or why they are refused. */
export function parseGcsFaults(body: Record<string, unknown>): Partial<GcsFaultSettings> | string {
  const out: Partial<GcsFaultSettings> = {};
  for (const [key, value] of Object.entries(body)) {
    if (key === 'errorRate' || key === 'timeoutRate') {
      if (!isRate(value)) return `${key} must be a number from 0 to 1`;
      out[key] = value;
    } else if (key === 'latencyMs') {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > LONGEST_LATENCY_MS) {
        return `latencyMs must be an integer from 0 to ${LONGEST_LATENCY_MS}`;
      }
      out.latencyMs = value;
    } else if (key === 'failResumableUploads') {
      if (typeof value !== 'boolean') return 'failResumableUploads must be true or false';
      out.failResumableUploads = value;
    } else if (key === 'methods') {
      if (value === null) out.methods = null;
      else if (Array.isArray(value) && value.length > 0 && value.every((m) => typeof m === 'string' && /^[A-Za-z]+$/.test(m))) {
        out.methods = value.map((m: string) => m.toUpperCase());
      } else return 'methods must be null or a non-empty list of HTTP methods';
    } else if (key === 'prefix') {
      if (value !== null && typeof value !== 'string') return 'prefix must be a string or null';
      out.prefix = value ?? '';
    } else {
      return `unknown fault "${key}" (the settings are ${Object.keys(NONE).join(', ')})`;
    }
  }
  return out;
}

const active = (s: GcsFaultSettings) => s.errorRate > 0 || s.latencyMs > 0 || s.timeoutRate > 0 || s.failResumableUploads;

function inScope(s: GcsFaultSettings, scope: FaultScope): boolean {
  if (!active(s)) return false;
  if (s.methods && !s.methods.includes(scope.method)) return false;
  return s.prefix === '' || scope.names.some((name) => name.startsWith(s.prefix));
}

/** `random` decides which requests fail; tests pass a fixed sequence. */
export function createGcsFaultInjector(random: () => number = Math.random): GcsFaultInjector {
  let settings = NONE;
  let closed = false;
  const injected: GcsFaultCounts = { error: 0, latency: 0, timeout: 0, resumableUpload: 0 };
  const held = new Set<ServerResponse>();
  // Each pending delay's wake-up: 'go' routes the request (delay over, or faults cleared), 'stop' drops it.
  const delays = new Set<(outcome: 'go' | 'stop') => void>();

  const state = (): GcsFaultState => ({ settings, injected: { ...injected }, held: held.size });
  const release = (outcome: 'go' | 'stop') => {
    for (const wake of [...delays]) wake(outcome);
    for (const res of held) res.destroy();
    held.clear();
  };
  const delay = (ms: number) =>
    new Promise<'go' | 'stop'>((resolve) => {
      const wake = (outcome: 'go' | 'stop') => {
        clearTimeout(timer);
        delays.delete(wake);
        resolve(outcome);
      };
      const timer = setTimeout(() => wake('go'), ms);
      delays.add(wake);
    });
  const fail = (res: ServerResponse, kind: keyof GcsFaultCounts) => {
    injected[kind] += 1;
    sendError(res, { status: 503, reason: 'backendError', message: `Injected fault (${kind}): backend unavailable, retry` });
  };
  const change = (body: Record<string, unknown>): GcsFaultState | string => {
    const parsed = parseGcsFaults(body);
    if (typeof parsed === 'string') return parsed;
    const next = { ...settings, ...parsed };
    if (next.errorRate + next.timeoutRate > 1) return 'errorRate + timeoutRate must be at most 1 (one draw decides each request)';
    settings = next;
    return state();
  };

  return {
    state,
    change,
    set(faults) {
      const changed = change(faults);
      if (typeof changed === 'string') throw new Error(changed);
      return changed;
    },
    clear() {
      settings = NONE;
      release('go');
      return state();
    },
    close() {
      closed = true;
      release('stop');
    },
    async intercept(res, scope) {
      if (!inScope(settings, scope)) return false;
      if (settings.latencyMs > 0) {
        injected.latency += 1;
        if ((await delay(settings.latencyMs)) === 'stop' || closed || res.destroyed) {
          res.destroy();
          return true;
        }
        // Changed during the wait (cleared, or narrowed): the settings in force now decide.
        if (!inScope(settings, scope)) return false;
      }
      const draw = random();
      if (draw < settings.timeoutRate) {
        injected.timeout += 1;
        held.add(res);
        res.once('close', () => held.delete(res));
        return true;
      }
      if (draw < settings.timeoutRate + settings.errorRate) {
        fail(res, 'error');
        return true;
      }
      if (settings.failResumableUploads && scope.finalChunk) {
        fail(res, 'resumableUpload');
        return true;
      }
      return false;
    },
  };
}
