import { createLogger, type Logger } from './logger.js';
import { SIGNALS, signalProblems, signalsOf, type SignalService } from './signals.js';

/**
 * For the services' signals tests: a logger that keeps every line it writes, and the check that a
 * service emitted each of its declared signals as declared. Not exported from the package index
 * (`@strata/runtime/signals-testing`), so no service's runtime import graph carries it.
 */
export interface CapturedLogs {
  logger: Logger;
  lines: Array<Record<string, unknown>>;
}

/** A logger shaped as in production (runtime's createLogger), at debug, writing into `lines`. */
export function captureLogs(service: SignalService): CapturedLogs {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ service, level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

/**
 * What a test of the service's real app must see: every signal declared for `service` emitted at
 * least once, and every emitted signal line as declared (service, message, each field present and
 * of its type). Returns the problems, empty when there are none, so the assertion names them all.
 */
export function signalGaps(service: SignalService, lines: ReadonlyArray<Record<string, unknown>>): string[] {
  const emitted = lines.filter((line) => line.signal !== undefined);
  const problems = emitted.flatMap(signalProblems);
  for (const name of signalsOf(service)) {
    if (!emitted.some((line) => line.signal === name)) problems.push(`${name}: not emitted ("${SIGNALS[name].message}")`);
  }
  return problems;
}
