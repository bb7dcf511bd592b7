import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createGcsFaultInjector, parseGcsFaults, type FaultScope } from './faults.js';

/** A response with no client behind it: what the injector writes stays in memory. */
const response = () => new ServerResponse(new IncomingMessage(new Socket()));
const scope = (overrides: Partial<FaultScope> = {}): FaultScope => ({ method: 'POST', names: ['events/a.parquet'], finalChunk: false, ...overrides });

describe('parseGcsFaults', () => {
  it('takes the settings it names, upper-cases methods, and resets methods and prefix with null', () => {
    expect(parseGcsFaults({ errorRate: 0.2, latencyMs: 200, methods: ['put'], prefix: 'events/' })).toEqual({
      errorRate: 0.2,
      latencyMs: 200,
      methods: ['PUT'],
      prefix: 'events/',
    });
    expect(parseGcsFaults({ methods: null, prefix: null })).toEqual({ methods: null, prefix: '' });
  });

  it('names the setting it refuses', () => {
    expect(parseGcsFaults({ timeoutRate: -0.1 })).toMatch(/^timeoutRate must be/);
    expect(parseGcsFaults({ latencyMs: 1.5 })).toMatch(/^latencyMs must be/);
    expect(parseGcsFaults({ failResumableUploads: 'yes' })).toMatch(/^failResumableUploads must be/);
    expect(parseGcsFaults({ methods: [] })).toMatch(/^methods must be/);
    expect(parseGcsFaults({ prefix: 3 })).toMatch(/^prefix must be/);
    expect(parseGcsFaults({ rate: 1 })).toMatch(/^unknown fault "rate"/);
  });
});

describe('createGcsFaultInjector', () => {
  it('lets one draw decide: below timeoutRate held, then up to timeoutRate + errorRate a 503, above that untouched', async () => {
    const draws = [0.05, 0.15, 0.5];
    const faults = createGcsFaultInjector(() => draws.shift()!);
    faults.set({ timeoutRate: 0.1, errorRate: 0.2 });
    const [held, failed, passed] = [response(), response(), response()];
    expect(await faults.intercept(held, scope())).toBe(true);
    expect(await faults.intercept(failed, scope())).toBe(true);
    expect(await faults.intercept(passed, scope())).toBe(false);
    expect([held.headersSent, failed.statusCode, passed.headersSent]).toEqual([false, 503, false]);
    expect(faults.state()).toMatchObject({ injected: { timeout: 1, error: 1, latency: 0, resumableUpload: 0 }, held: 1 });

    faults.clear();
    expect([held.destroyed, faults.state().held]).toEqual([true, 0]);
  });

  it('leaves requests outside the methods and prefix alone, and fails only the final chunk of a resumable upload', async () => {
    const faults = createGcsFaultInjector(() => 0.99);
    faults.set({ errorRate: 1, methods: ['PUT'], prefix: 'events/' });
    expect(await faults.intercept(response(), scope({ method: 'POST' }))).toBe(false);
    expect(await faults.intercept(response(), scope({ method: 'PUT', names: ['quarantine/a'] }))).toBe(false);
    expect(await faults.intercept(response(), scope({ method: 'PUT', names: [] }))).toBe(false);

    faults.set({ errorRate: 0, failResumableUploads: true });
    expect(await faults.intercept(response(), scope({ method: 'PUT' }))).toBe(false);
    const final = response();
    expect(await faults.intercept(final, scope({ method: 'PUT', finalChunk: true }))).toBe(true);
    expect(final.statusCode).toBe(503);
    expect(faults.state().injected).toMatchObject({ error: 0, resumableUpload: 1 });
  });

  it('refuses rates that add up to more than one draw can split, keeping the settings it had', () => {
    const faults = createGcsFaultInjector();
    faults.set({ errorRate: 0.6 });
    expect(() => faults.set({ timeoutRate: 0.5 })).toThrow(/at most 1/);
    expect(faults.state().settings).toMatchObject({ errorRate: 0.6, timeoutRate: 0 });
  });
});
