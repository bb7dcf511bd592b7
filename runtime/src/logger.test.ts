import { describe, expect, it } from 'vitest';
import { createLogger, traceFields } from './logger.js';

function capture(level = 'debug') {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ service: 'svc', level }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

describe('createLogger', () => {
  it('writes Cloud Logging structured lines: severity, message, service, ISO time', () => {
    const { logger, lines } = capture();
    logger.warn({ rows: 3 }, 'partition flushed');
    expect(lines[0]).toMatchObject({ severity: 'WARNING', message: 'partition flushed', service: 'svc', rows: 3 });
    expect(lines[0]).not.toHaveProperty('level');
    expect(lines[0]).not.toHaveProperty('msg');
    expect(String(lines[0]!.time)).toMatch(/^\d{4}-\d{2}-\d{2}T/);
  });

  it.each([
    ['debug', 'DEBUG'],
    ['info', 'INFO'],
    ['error', 'ERROR'],
    ['fatal', 'CRITICAL'],
  ] as const)('maps %s to severity %s', (level, severity) => {
    const { logger, lines } = capture();
    logger[level]('x');
    expect(lines[0]!.severity).toBe(severity);
  });

  it('honours the level', () => {
    const { logger, lines } = capture('warn');
    logger.info('dropped');
    expect(lines).toHaveLength(0);
  });
});

describe('traceFields', () => {
  it('turns X-Cloud-Trace-Context into the trace and span fields', () => {
    expect(traceFields('105445aa7843bc8bf206b12000100000/1;o=1', 'proj')).toEqual({
      'logging.googleapis.com/trace': 'projects/proj/traces/105445aa7843bc8bf206b12000100000',
      'logging.googleapis.com/spanId': '1',
    });
    expect(traceFields('abc', 'proj')).toEqual({ 'logging.googleapis.com/trace': 'projects/proj/traces/abc' });
  });

  it('adds nothing without a header or a project', () => {
    expect(traceFields(undefined, 'proj')).toEqual({});
    expect(traceFields('abc/1', undefined)).toEqual({});
  });
});
