import { http } from '@google-cloud/functions-framework';
import { createLogger, createStop, trackInFlight, trapFunctionSignals } from '@strata/runtime';
import { loadConfig } from './config.js';
import { wireWriter } from './wiring.js';

/**
 * Cloud Run functions entry (`functions-framework --target=writer`): the same app, built from the
 * same config on load. The framework owns the server, and on SIGTERM it would exit at once, so
 * trapFunctionSignals puts our stop in its place: Cloud Run allows about 10 s, enough to flush what
 * is held now rather than after FLUSH_MAX_AGE_MS and answer the pushes waiting on it.
 */
const config = loadConfig();
const logger = createLogger({ service: 'writer', level: config.logLevel });
const { app, writer, registry, beginStopping } = wireWriter(config, logger);
const inFlight = trackInFlight(app);

let failedBatches = 0;
const stop = createStop(logger, {
  // New pushes get 503 (Pub/Sub keeps them for another instance); the held ones flush, which
  // answers the pushes waiting on them, and we wait until those answers are out.
  stopAccepting: async () => {
    beginStopping();
    failedBatches += (await writer.flushAll()).failed;
    await inFlight.idle();
  },
  // Whatever was admitted meanwhile. Failed rows were answered 503 and come back by redelivery,
  // but the exit code should say it happened.
  flush: async () => {
    failedBatches += (await writer.flushAll()).failed;
    if (failedBatches > 0) throw new Error(`${failedBatches} batch(es) failed to flush during shutdown`);
  },
  // After the last flush: the registry's pool is only needed while pushes are admitted.
  close: [() => registry.close()],
});
trapFunctionSignals(stop);
http('writer', inFlight.handler);
