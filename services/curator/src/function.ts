import { http, type HttpFunction } from '@google-cloud/functions-framework';
import { createLogger, createStop, sendError, trackInFlight, trapFunctionSignals } from '@strata/runtime';
import { loadConfig } from './config.js';
import { migrate } from './migrate.js';
import { wireCurator } from './wiring.js';

/**
 * Cloud Run functions entry (`functions-framework --target=curator`): the same app, built from the
 * same config. A function cannot await before registering, so the first request waits for the
 * migrations. The framework owns the server, and on SIGTERM it would exit at once;
 * trapFunctionSignals puts our stop in its place, so the database pool is ended cleanly.
 */
const config = loadConfig();
const logger = createLogger({ service: 'curator', level: config.logLevel });
const { app, pool, replay } = wireCurator(config, logger);
let migrated: Promise<unknown> | undefined;
const handle: HttpFunction = (req, res) => {
  migrated ??= migrate(config.databaseUrl, logger).catch((err: unknown) => {
    migrated = undefined; // let the next request try again
    throw err;
  });
  migrated.then(
    () => app(req, res),
    (err: unknown) => {
      logger.error({ err }, 'migrations failed');
      sendError(res, 503, 'unavailable', 'database migrations failed; see the logs');
    },
  );
};
const inFlight = trackInFlight(handle);
const stop = createStop(logger, {
  // A run in progress finishes its current request; partitions it did not reach are redone next run.
  stopAccepting: () => inFlight.idle(),
  close: [() => pool.end(), () => replay.close()],
});
trapFunctionSignals(stop);
http('curator', inFlight.handler);
