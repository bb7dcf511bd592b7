import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/**
 * pino shaped for Cloud Logging's structured logs: `severity` instead of a numeric level and
 * `message` as the message key, so Cloud Run's agent picks both up.
 * https://cloud.google.com/logging/docs/structured-logging#special-payload-fields
 */
const severities: Record<string, string> = {
  trace: 'DEBUG',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARNING',
  error: 'ERROR',
  fatal: 'CRITICAL',
};

export interface LoggerConfig {
  service: string;
  level?: string;
}

export function createLogger(config: LoggerConfig, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    name: config.service,
    level: config.level ?? 'info',
    messageKey: 'message',
    base: { service: config.service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      level: (label) => ({ severity: severities[label] ?? 'DEFAULT' }),
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * The fields that tie a log line to its request trace in Cloud Logging.
 * `X-Cloud-Trace-Context` is `TRACE_ID/SPAN_ID;o=OPTIONS`.
 */
export function traceFields(header: string | undefined, projectId: string | undefined): Record<string, string> {
  if (!header || !projectId) return {};
  const [trace, rest] = header.split('/');
  if (!trace) return {};
  const fields: Record<string, string> = { 'logging.googleapis.com/trace': `projects/${projectId}/traces/${trace}` };
  const span = rest?.split(';')[0];
  if (span) fields['logging.googleapis.com/spanId'] = span;
  return fields;
}
