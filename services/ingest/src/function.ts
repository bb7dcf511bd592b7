import { http } from '@google-cloud/functions-framework';
import { createLogger, createStop, trackInFlight, trapFunctionSignals } from '@strata/runtime';
import { loadConfig } from './config.js';
import { wireIngest } from './wiring.js';

/**
 * Cloud Run functions entry (`functions-framework --target=ingest`): the same app, built from the
 * same config. The framework owns the server, and on SIGTERM it would exit at once with events
 * still batched in the Pub/Sub client; trapFunctionSignals puts our stop in its place.
 */
const config = loadConfig();
const logger = createLogger({ service: 'ingest', level: config.logLevel });
const { app, pubsub, topic, registry, pool, beginStopping } = wireIngest(config, logger);
const inFlight = trackInFlight(app);
const stop = createStop(logger, {
  // New requests get 503; those in flight are answered, each only after its events are durable.
  stopAccepting: () => {
    beginStopping();
    return inFlight.idle();
  },
  // Anything still batched in the client is published before we exit.
  flush: () => topic.flush(),
  close: [() => pubsub.close(), () => registry.close(), async () => pool?.close()],
});
trapFunctionSignals(stop);
// A prepare worker that cannot start fails the start, not every request.
await pool?.ready;
http('ingest', inFlight.handler);
